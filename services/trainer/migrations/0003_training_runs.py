"""Run intervals of jobs (one per attempt), from which a tenant's monthly training time is summed.

Revision ID: trainer_0003
Revises: trainer_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "trainer_0003"
down_revision = "trainer_0002"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_RUNNING = 2


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("job_id", sa.String(63), sa.ForeignKey("training_jobs.job_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("start_time", _TIME, nullable=False),
        sa.Column("end_time", _TIME, nullable=True),
    )
    op.create_index("ix_training_runs_tenant", "training_runs", ["tenant", "end_time"])
    # Jobs that ran before this revision: their last attempt is all that is known (a job
    # put back in the queue lost the end of its earlier run, so it is left out).
    op.execute(
        sa.text(
            "INSERT INTO training_runs (job_id, attempt, tenant, start_time, end_time) "
            "SELECT job_id, attempt, tenant, start_time, CASE WHEN state = :running THEN NULL ELSE end_time END "
            "FROM training_jobs WHERE start_time IS NOT NULL AND (state = :running OR end_time IS NOT NULL)"
        ).bindparams(running=_RUNNING)
    )


def downgrade() -> None:
    op.drop_table("training_runs")
