"""Plan changes (what proration reads) and issued invoices (written once, never changed)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from maas.gateway.v1 import admin_pb2 as pb
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.timeutil import utc
from services.gateway import tables as t
from services.gateway.billing import Change


class InvoiceStore:
    """Mixed into `GatewayStore` (which holds `engine`, tenants and plans)."""

    engine: sa.engine.Engine
    if TYPE_CHECKING:  # GatewayStore's and PlanStore's

        def get_tenant(self, tenant_id: str) -> pb.Tenant: ...

        def get_plan(self, plan_id: str) -> pb.Plan: ...

    def change_plan(self, tenant_id: str, plan: str, moment: dt.datetime) -> pb.Tenant:
        """Put the tenant on `plan` from `moment`'s UTC day on (a second change that day replaces the first)."""
        if not plan.startswith("plans/"):
            raise InvalidArgument(f"plan: {plan!r} must look like plans/{{plan}}")
        new = self.get_plan(plan.removeprefix("plans/"))
        tenant = self.get_tenant(tenant_id)
        old = self.get_plan(tenant.plan.removeprefix("plans/"))
        if (new.currency or "USD") != (old.currency or "USD"):
            raise FailedPrecondition(
                f"plan: {plan} bills in {new.currency}, the tenant's {tenant.plan} in {old.currency}; "
                "a month's invoice has one currency"
            )
        day = moment.date().isoformat()
        changes = t.plan_changes.c
        with self.engine.begin() as conn:
            earlier = conn.execute(
                sa.select(changes.from_plan).where(changes.tenant_id == tenant_id, changes.day == day)
            ).first()
            conn.execute(t.plan_changes.delete().where(changes.tenant_id == tenant_id, changes.day == day))
            conn.execute(
                t.plan_changes.insert().values(
                    tenant_id=tenant_id,
                    day=day,
                    from_plan=earlier.from_plan if earlier else tenant.plan,
                    plan=plan,
                    change_time=moment,
                )
            )
            conn.execute(t.tenants.update().where(t.tenants.c.tenant_id == tenant_id).values(plan=plan))
        return self.get_tenant(tenant_id)

    def plan_changes(self, tenant_id: str) -> list[Change]:
        changes = t.plan_changes.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.plan_changes).where(changes.tenant_id == tenant_id).order_by(changes.day)
            ).all()
        return [Change(dt.date.fromisoformat(row.day), row.from_plan, row.plan) for row in rows]

    def tenant_created(self, tenant_id: str) -> dt.datetime:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.tenants.c.create_time).where(t.tenants.c.tenant_id == tenant_id)).first()
        if row is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return utc(row.create_time)

    def save_invoice(self, tenant_id: str, invoice: pb.Invoice) -> pb.Invoice:
        """Issue `invoice` unless its month's is issued already: the first one issued stays (returned)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.invoices.insert().values(
                        tenant_id=tenant_id,
                        month=invoice.month,
                        currency=invoice.currency,
                        total=invoice.total,
                        issue_time=invoice.issue_time.ToDatetime(tzinfo=dt.UTC),
                        body=invoice.SerializeToString(),
                    )
                )
        except IntegrityError:
            pass  # another gateway replica issued it first
        issued = self.issued_invoice(tenant_id, invoice.month)
        assert issued is not None
        return issued

    def issued_invoice(self, tenant_id: str, month: str) -> pb.Invoice | None:
        query = sa.select(t.invoices.c.body).where(t.invoices.c.tenant_id == tenant_id, t.invoices.c.month == month)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return pb.Invoice.FromString(row.body) if row else None

    def issued_invoices(self, tenant_id: str) -> list[pb.Invoice]:
        """The tenant's issued invoices, newest month first."""
        invoices = t.invoices.c
        query = sa.select(invoices.body).where(invoices.tenant_id == tenant_id).order_by(invoices.month.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [pb.Invoice.FromString(row.body) for row in rows]

    def set_budget(self, tenant_id: str, amount: int) -> int:
        if amount < 0:
            raise InvalidArgument("budget.monthly_amount: must not be negative (0: no budget)")
        self.get_tenant(tenant_id)
        with self.engine.begin() as conn:
            conn.execute(t.budgets.delete().where(t.budgets.c.tenant_id == tenant_id))
            if amount:
                conn.execute(t.budgets.insert().values(tenant_id=tenant_id, monthly_amount=amount))
        return amount

    def budget_of(self, tenant_id: str) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.budgets).where(t.budgets.c.tenant_id == tenant_id)).first()
        return row.monthly_amount if row else 0

    def record_budget_event(self, tenant_id: str, month: str, percent: int, total: int, moment: dt.datetime) -> bool:
        """Record that `month` reached `percent` of the budget; False when it was recorded before."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.budget_events.insert().values(
                        tenant_id=tenant_id, month=month, percent=percent, total=total, event_time=moment
                    )
                )
        except IntegrityError:
            return False
        return True

    def budget_events(self, tenant_id: str, month: str) -> list[int]:
        events = t.budget_events.c
        query = sa.select(events.percent).where(events.tenant_id == tenant_id, events.month == month)
        with self.engine.connect() as conn:
            return sorted(row.percent for row in conn.execute(query).all())
