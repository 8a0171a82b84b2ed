"""The trainer's tables (SQLAlchemy Core). Migrations in `migrations/` create them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

jobs = sa.Table(
    "training_jobs",
    metadata,
    sa.Column("job_id", sa.String(63), primary_key=True),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("display_name", sa.Text, nullable=False),
    # The TrainingJobSpec as protobuf JSON.
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("target_model", sa.String(63), nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("state_reason", sa.Text, nullable=False),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
    sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("total_epochs", sa.Integer, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("evaluation", sa.JSON, nullable=False),
    sa.Column("model_version", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_expires", sa.DateTime(timezone=True), nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    # `artifacts/{sha256}` of the last checkpoint (a Keras archive with optimizer state).
    sa.Column("checkpoint_artifact", sa.String(200), nullable=True),
    sa.Column("checkpoint_epoch", sa.Integer, nullable=False, default=0),
    # Why a FAILED job failed, as a short code for metrics (data, nan_loss, out_of_memory, ...).
    sa.Column("failure_kind", sa.String(32), nullable=True),
    # The W3C `traceparent` of the call that created the job (tracing on), continued by its process.
    sa.Column("traceparent", sa.String(64), nullable=True),
    sa.UniqueConstraint("tenant", "request_id", name="uq_jobs_tenant_request"),
)

job_events = sa.Table(
    "training_job_events",
    metadata,
    sa.Column("sequence", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(63), sa.ForeignKey("training_jobs.job_id", ondelete="CASCADE"), nullable=False),
    # The TrainingJobEvent (without sequence) as protobuf JSON.
    sa.Column("event", sa.Text, nullable=False),
)

# One row per attempt of a job: when it started RUNNING and when it left that state (NULL while
# it runs). A tenant's monthly training time is the sum of these intervals within the month.
runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("job_id", sa.String(63), sa.ForeignKey("training_jobs.job_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
)
