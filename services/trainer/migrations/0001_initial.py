"""Initial trainer schema: jobs and their events.

Revision ID: trainer_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "trainer_0001"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("job_id", sa.String(63), primary_key=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("target_model", sa.String(63), nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("state_reason", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("create_time", _TIME, nullable=False),
        sa.Column("start_time", _TIME, nullable=True),
        sa.Column("end_time", _TIME, nullable=True),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("total_epochs", sa.Integer, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("evaluation", sa.JSON, nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires", _TIME, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.UniqueConstraint("tenant", "request_id", name="uq_jobs_tenant_request"),
    )
    op.create_index("ix_jobs_state", "training_jobs", ["state", "create_time"])
    op.create_index("ix_jobs_tenant", "training_jobs", ["tenant", "create_time"])
    op.create_table(
        "training_job_events",
        sa.Column("sequence", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(63), sa.ForeignKey("training_jobs.job_id", ondelete="CASCADE"), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
    )
    op.create_index("ix_job_events_job", "training_job_events", ["job_id", "sequence"])


def downgrade() -> None:
    op.drop_table("training_job_events")
    op.drop_table("training_jobs")
