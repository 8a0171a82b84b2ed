"""API keys remember when they were last used (written by each gateway every
key_use_flush_seconds, only ever moved forward).

Revision ID: gateway_0008
Revises: gateway_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0008"
down_revision = "gateway_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("last_use_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "last_use_time")
