"""Plans that bill (kind, currency, monthly fee, prices per meter), usage in rows with calls beside them
(and the daily samples of training time and storage that invoices bill), plan changes (for proration)
issued invoices, budgets and the budget thresholds each month reached.

Revision ID: gateway_0006
Revises: gateway_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0006"
down_revision = "gateway_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="free"))
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default="USD"))
        batch.add_column(sa.Column("monthly_fee", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("prices", sa.JSON, nullable=False, server_default="[]"))
    # Pro becomes a paid plan: 49.00 a month with a million rows, then 0.50 per 1,000 rows.
    plans = sa.table(
        "plans", sa.column("plan_id"), sa.column("kind"), sa.column("monthly_fee"), sa.column("prices", sa.JSON)
    )
    prices = [{"meter": 1, "included": 1_000_000, "unit_amount": 50, "per_units": 1000}]
    op.execute(plans.update().where(plans.c.plan_id == "pro").values(kind="paid", monthly_fee=4900, prices=prices))
    # Until now `predictions` counted calls of one row as far as the quota knew: the calls are the same figure.
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("prediction_calls", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("training_seconds", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0"))
    op.execute("UPDATE usage SET prediction_calls = predictions")
    op.create_table(
        "plan_changes",
        sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("from_plan", sa.String(100), nullable=False),
        sa.Column("plan", sa.String(100), nullable=False),
        sa.Column("change_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("issue_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "budgets",
        sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("monthly_amount", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "budget_events",
        sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("percent", sa.Integer, primary_key=True),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("budget_events")
    op.drop_table("budgets")
    op.drop_table("invoices")
    op.drop_table("plan_changes")
    with op.batch_alter_table("usage") as batch:
        batch.drop_column("stored_bytes")
        batch.drop_column("training_seconds")
        batch.drop_column("prediction_calls")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("prices")
        batch.drop_column("monthly_fee")
        batch.drop_column("currency")
        batch.drop_column("kind")
