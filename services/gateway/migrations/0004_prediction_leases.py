"""Leases of daily prediction quota held by service replicas.

Revision ID: gateway_0004
Revises: gateway_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0004"
down_revision = "gateway_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_leases",
        sa.Column("tenant_id", sa.String(63), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("replica", sa.String(200), primary_key=True),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("prediction_leases")
