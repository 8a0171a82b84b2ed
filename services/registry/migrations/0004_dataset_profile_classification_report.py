"""What an image or text dataset holds (kind, classes, sizes, samples, left-out files), and a
classifier version's per-class report.

Revision ID: registry_0004
Revises: registry_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0004"
down_revision = "registry_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("profile", sa.JSON, nullable=True))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("classification_report", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("classification_report")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("profile")
