"""Plans (quotas and rate limits as data) and metered usage per tenant and day.

Revision ID: gateway_0002
Revises: gateway_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0002"
down_revision = "gateway_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("plan_id", sa.String(63), primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("predictions_per_day", sa.BigInteger, nullable=False),
        sa.Column("requests_per_second", sa.Float, nullable=False),
        sa.Column("burst", sa.Integer, nullable=False),
    )
    op.bulk_insert(
        plans,
        [
            {
                "plan_id": "free",
                "display_name": "Free",
                "predictions_per_day": 10_000,
                "requests_per_second": 50,
                "burst": 100,
            },
            {
                "plan_id": "pro",
                "display_name": "Pro",
                "predictions_per_day": 5_000_000,
                "requests_per_second": 2_000,
                "burst": 4_000,
            },
        ],
    )
    op.create_table(
        "usage",
        sa.Column("tenant_id", sa.String(63), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("predictions", sa.BigInteger, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage")
    op.drop_table("plans")
