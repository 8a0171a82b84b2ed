"""The W3C trace context of the call that created a job, so the job's process continues its trace.

Revision ID: trainer_0004
Revises: trainer_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "trainer_0004"
down_revision = "trainer_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("traceparent")
