"""Users, memberships (roles inside a tenant), sessions, login throttling, invitations and password
resets; keys
remember the user who created them.

Revision ID: gateway_0005
Revises: gateway_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0005"
down_revision = "gateway_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "login_failures",
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "invitations",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("invited_by", sa.String(32), sa.ForeignKey("users.user_id"), nullable=True),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accept_time", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "password_resets",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("use_time", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("api_keys", sa.Column("owner_user_id", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "owner_user_id")
    for table in ("password_resets", "invitations", "login_failures", "sessions", "memberships", "users"):
        op.drop_table(table)
