"""Payload logs: batches of sampled requests and responses, each a Parquet file kept as an artifact.

Revision ID: registry_0007
Revises: registry_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0007"
down_revision = "registry_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payload_logs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("model_id", sa.String(63), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payload_logs_tenant_model", "payload_logs", ["tenant", "model_id", "create_time"])


def downgrade() -> None:
    op.drop_index("ix_payload_logs_tenant_model", "payload_logs")
    op.drop_table("payload_logs")
