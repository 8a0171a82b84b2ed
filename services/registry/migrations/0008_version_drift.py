"""The latest drift report inference made of what a version served.

Revision ID: registry_0008
Revises: registry_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0008"
down_revision = "registry_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("drift", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("drift")
