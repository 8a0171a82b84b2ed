"""Plans limit training time per month and stored bytes (0 means unlimited).

Revision ID: gateway_0003
Revises: gateway_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0003"
down_revision = "gateway_0002"
branch_labels = None
depends_on = None

_LIMITS = {
    # One hour of training a month and 1 GiB of datasets and models: enough to try the platform.
    "free": {"training_seconds_per_month": 3_600, "stored_bytes": 1024**3},
    # A hundred hours and 100 GiB.
    "pro": {"training_seconds_per_month": 360_000, "stored_bytes": 100 * 1024**3},
}


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("training_seconds_per_month", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0"))
    plans = sa.table(
        "plans",
        sa.column("plan_id", sa.String),
        sa.column("training_seconds_per_month", sa.BigInteger),
        sa.column("stored_bytes", sa.BigInteger),
    )
    for plan_id, limits in _LIMITS.items():
        op.execute(plans.update().where(plans.c.plan_id == plan_id).values(**limits))


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("stored_bytes")
        batch.drop_column("training_seconds_per_month")
