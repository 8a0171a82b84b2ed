"""Per-epoch checkpoints and failure kinds of training jobs.

Revision ID: trainer_0002
Revises: trainer_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "trainer_0002"
down_revision = "trainer_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("checkpoint_artifact", sa.String(200), nullable=True))
        batch.add_column(sa.Column("checkpoint_epoch", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("failure_kind", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("failure_kind")
        batch.drop_column("checkpoint_epoch")
        batch.drop_column("checkpoint_artifact")
