"""Audit events (sign-ins, keys, members, invitations, passwords); sessions remember when they were
last used, for the idle timeout.

Revision ID: gateway_0007
Revises: gateway_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0007"
down_revision = "gateway_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(63), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("audit_events_tenant", "audit_events", ["tenant_id", "event_id"])
    op.add_column("sessions", sa.Column("last_seen_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "last_seen_time")
    op.drop_index("audit_events_tenant", "audit_events")
    op.drop_table("audit_events")
