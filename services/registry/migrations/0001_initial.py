"""Initial registry schema.

Revision ID: registry_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("model_id", sa.String(63), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("task_type", sa.Integer, nullable=False),
        sa.Column("latest_version", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.Column("create_time", _TIME, nullable=False),
        sa.Column("update_time", _TIME, nullable=False),
        sa.UniqueConstraint("tenant", "model_id", name="uq_models_tenant_model"),
    )
    op.create_table(
        "model_versions",
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
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("create_time", _TIME, nullable=False),
        sa.UniqueConstraint("model_pk", "version", name="uq_versions_model_version"),
        sa.UniqueConstraint("model_pk", "request_id", name="uq_versions_model_request"),
    )
    op.create_table(
        "aliases",
        sa.Column("model_pk", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("alias", sa.String(63), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("update_time", _TIME, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("dataset_id", sa.String(63), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("format", sa.Integer, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("create_time", _TIME, nullable=False),
        sa.UniqueConstraint("tenant", "dataset_id", "version", name="uq_datasets_tenant_id_version"),
    )
    op.create_table(
        "artifacts",
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("create_time", _TIME, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("model_id", sa.String(63), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("event_time", _TIME, nullable=False),
    )
    op.create_index("ix_events_tenant", "events", ["tenant"])


def downgrade() -> None:
    for table in ("events", "artifacts", "datasets", "aliases", "model_versions", "models"):
        op.drop_table(table)
