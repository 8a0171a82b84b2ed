"""Per-feature statistics of a version's training data, which inference measures drift against.

Revision ID: registry_0006
Revises: registry_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0006"
down_revision = "registry_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("reference_statistics", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("reference_statistics")
