"""Plans as rows: limits (enforced by the services) and billing terms (`billing.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from maas.gateway.v1 import admin_pb2 as pb
from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.common.validation import check_id
from services.gateway import tables as t
from services.gateway.billing import KIND_NAMES, KINDS, plan_kind

_PRICE_FIELDS = ("meter", "included", "unit_amount", "per_units")


def plan_message(row) -> pb.Plan:
    return pb.Plan(
        name=f"plans/{row.plan_id}",
        display_name=row.display_name,
        predictions_per_day=row.predictions_per_day,
        requests_per_second=row.requests_per_second,
        burst=row.burst,
        training_seconds_per_month=row.training_seconds_per_month,
        stored_bytes=row.stored_bytes,
        kind=KINDS.get(row.kind, pb.PlanKind.PLAN_KIND_UNSPECIFIED),
        currency=row.currency,
        monthly_fee=row.monthly_fee,
        prices=[pb.Price(**price) for price in row.prices or []],
    )


class PlanStore:
    """Mixed into `GatewayStore` (which holds `engine`)."""

    engine: sa.engine.Engine
    if TYPE_CHECKING:  # GatewayStore's

        def get_tenant(self, tenant_id: str) -> pb.Tenant: ...

    def create_plan(self, plan_id: str, plan: pb.Plan) -> pb.Plan:
        check_id(plan_id, "plan_id")
        limits = (
            plan.predictions_per_day,
            plan.requests_per_second,
            plan.burst,
            plan.training_seconds_per_month,
            plan.stored_bytes,
        )
        if any(limit < 0 for limit in limits):
            raise InvalidArgument("plan: limits must not be negative (0 means unlimited)")
        kind = plan_kind(plan)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.plans.insert().values(
                        plan_id=plan_id,
                        display_name=plan.display_name or plan_id,
                        predictions_per_day=plan.predictions_per_day,
                        requests_per_second=plan.requests_per_second,
                        burst=plan.burst or max(1, int(plan.requests_per_second)),
                        training_seconds_per_month=plan.training_seconds_per_month,
                        stored_bytes=plan.stored_bytes,
                        kind=KIND_NAMES[kind],
                        currency=plan.currency or "USD",
                        monthly_fee=plan.monthly_fee,
                        prices=[{f: getattr(price, f) for f in _PRICE_FIELDS} for price in plan.prices],
                    )
                )
        except IntegrityError:
            raise AlreadyExists(f"plan {plan_id!r} already exists") from None
        return self.get_plan(plan_id)

    def get_plan(self, plan_id: str) -> pb.Plan:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.plans).where(t.plans.c.plan_id == plan_id)).first()
        if row is None:
            raise NotFound(f"plan {plan_id!r} not found")
        return plan_message(row)

    def list_plans(self) -> list[pb.Plan]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.plans).order_by(t.plans.c.plan_id)).all()
        return [plan_message(r) for r in rows]

    def plans_by_name(self) -> dict[str, pb.Plan]:
        """Every plan by `plans/{plan}`."""
        return {plan.name: plan for plan in self.list_plans()}

    def plan_of(self, tenant_id: str) -> pb.Plan:
        return self.get_plan(self.get_tenant(tenant_id).plan.removeprefix("plans/"))
