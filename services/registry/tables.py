"""The registry's tables (SQLAlchemy Core). Migrations in `migrations/` create them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("model_id", sa.String(63), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("labels", sa.JSON, nullable=False, default=dict),
    sa.Column("task_type", sa.Integer, nullable=False, default=0),
    sa.Column("latest_version", sa.BigInteger, nullable=False, default=0),
    sa.Column("etag", sa.String(32), nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("tenant", "model_id", name="uq_models_tenant_model"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_pk", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("artifact_size", sa.BigInteger, nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("signature", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("lineage", sa.JSON, nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    # Why a FAILED version failed validation.
    sa.Column("state_reason", sa.Text, nullable=False, default=""),
    sa.Column("description", sa.Text, nullable=False, default=""),
    # The ReferenceStatistics message as JSON, or NULL (drift).
    sa.Column("reference_statistics", sa.JSON, nullable=True),
    # The latest DriftReport inference sent, as JSON, or NULL.
    sa.Column("drift", sa.JSON, nullable=True),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    # A classifier's per-class report (ClassificationReport as JSON); null for others.
    sa.Column("classification_report", sa.JSON, nullable=True),
    sa.UniqueConstraint("model_pk", "version", name="uq_versions_model_version"),
    sa.UniqueConstraint("model_pk", "request_id", name="uq_versions_model_request"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("model_pk", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("alias", sa.String(63), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    # [[version, weight], ...]; NULL (an alias from before splits) means [[version, 100]].
    sa.Column("targets", sa.JSON, nullable=True),
    # [version, percent] or NULL.
    sa.Column("shadow", sa.JSON, nullable=True),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    # The Rollout message as JSON, or NULL.
    sa.Column("rollout", sa.JSON, nullable=True),
    sa.Column("payload_log_percent", sa.Float, nullable=False, default=0.0),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("dataset_id", sa.String(63), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("format", sa.Integer, nullable=False),
    sa.Column("columns", sa.JSON, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("labels", sa.JSON, nullable=False, default=dict),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    # Image and text datasets: services.common.labelled.Profile as JSON; null for tabular ones.
    sa.Column("profile", sa.JSON, nullable=True),
    sa.UniqueConstraint("tenant", "dataset_id", "version", name="uq_datasets_tenant_id_version"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("tenant", sa.String(63), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    # Set in the transaction that removed the last reference; the bytes go after the commit.
    sa.Column("pending_delete", sa.Boolean, nullable=False, default=False),
)

# Alias and version changes in order; `revision` is what watchers resume from.
events = sa.Table(
    "events",
    metadata,
    sa.Column("revision", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(63), nullable=False, index=True),
    sa.Column("kind", sa.Integer, nullable=False),
    sa.Column("model_id", sa.String(63), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False, default=0),
    sa.Column("alias", sa.String(63), nullable=False, default=""),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    # What an alias event set: {"targets": [[v, w], ...], "shadow": [v, pct] | null, "reason": str}.
    sa.Column("alias_state", sa.JSON, nullable=True),
    sa.Index("ix_events_tenant_model_alias", "tenant", "model_id", "alias", "revision"),
)

# Batches of sampled requests and responses, each a Parquet file kept as an artifact.
payload_logs = sa.Table(
    "payload_logs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("model_id", sa.String(63), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_payload_logs_tenant_model", "tenant", "model_id", "create_time"),
)
