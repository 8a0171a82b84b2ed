"""Plans that bill and the invoices they make, as plain Python over the protobuf messages.

Money is an integer in the currency's smallest unit (cents for USD), never a float. A month is a UTC
calendar month; a plan change takes effect from the UTC day it is made (`plan_segments`):

- a fee is prorated by day over the days its plan is in effect (from the day the tenant was created);
- an allowance is prorated by day over its plan's days of the month (rounded down), and the units used
  on those days beyond it are billed at the plan's price, a part of `per_units` rounded up.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from maas.gateway.v1 import admin_pb2 as pb
from services.common.errors import InvalidArgument

Meter = pb.Meter
Kind = pb.PlanKind
METERS = (Meter.METER_PREDICTION_ROWS, Meter.METER_TRAINING_SECONDS, Meter.METER_STORED_GB_DAYS)
METER_NAMES = {
    Meter.METER_PREDICTION_ROWS: "prediction rows",
    Meter.METER_TRAINING_SECONDS: "training seconds",
    Meter.METER_STORED_GB_DAYS: "stored GB-days",
}
KINDS = {"free": Kind.PLAN_KIND_FREE, "paid": Kind.PLAN_KIND_PAID, "mixed": Kind.PLAN_KIND_MIXED}
KIND_NAMES = {value: name for name, value in KINDS.items()}
GB = 10**9
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def plan_kind(plan: pb.Plan) -> pb.PlanKind:
    """The plan's kind from its fee and prices (checked against `plan.kind` when set); INVALID_ARGUMENT
    for a negative amount, an unknown or repeated meter, or a kind its terms contradict."""
    if plan.monthly_fee < 0:
        raise InvalidArgument("plan.monthly_fee: must not be negative")
    if plan.currency and not re.fullmatch(r"[A-Z]{3}", plan.currency):
        raise InvalidArgument(f"plan.currency: {plan.currency!r} is not an ISO 4217 code (USD, EUR, ...)")
    seen = set()
    for index, price in enumerate(plan.prices):
        where = f"plan.prices[{index}]"
        if price.meter not in METER_NAMES:
            raise InvalidArgument(f"{where}.meter: must be one of {', '.join(Meter.Name(m) for m in METERS)}")
        if price.meter in seen:
            raise InvalidArgument(f"{where}.meter: {Meter.Name(price.meter)} has a price already")
        seen.add(price.meter)
        if min(price.included, price.unit_amount, price.per_units) < 0:
            raise InvalidArgument(f"{where}: included, unit_amount and per_units must not be negative")
    metered = any(price.unit_amount for price in plan.prices)
    kind = Kind.PLAN_KIND_PAID if plan.monthly_fee else Kind.PLAN_KIND_MIXED if metered else Kind.PLAN_KIND_FREE
    if plan.kind not in (Kind.PLAN_KIND_UNSPECIFIED, kind):
        wanted = {
            Kind.PLAN_KIND_FREE: "no monthly_fee and no unit_amount",
            Kind.PLAN_KIND_PAID: "a monthly_fee",
            Kind.PLAN_KIND_MIXED: "no monthly_fee and a unit_amount beyond an allowance",
        }
        name = KIND_NAMES.get(plan.kind, str(plan.kind))
        raise InvalidArgument(f"plan.kind: a {name} plan has {wanted.get(plan.kind, 'a known kind')}")
    return kind


def check_month(month: str, field: str = "month") -> str:
    if not _MONTH.match(month or ""):
        raise InvalidArgument(f"{field}: {month!r} is not a month (YYYY-MM)")
    return month


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a month (YYYY-MM)."""
    first = dt.date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def prorate(amount: int, days: int, of_days: int) -> int:
    """`amount` for `days` of `of_days`, rounded half up (integers only)."""
    return (2 * amount * days + of_days) // (2 * of_days)


def overage(quantity: int, included: int, unit_amount: int, per_units: int) -> int:
    """What the units beyond the allowance cost: a part of `per_units` is rounded up."""
    over = max(0, quantity - included)
    return -(-over * unit_amount // max(1, per_units))


@dataclass(frozen=True)
class Segment:
    """Days (first and last included) a plan is in effect."""

    plan: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Change:
    day: dt.date
    from_plan: str
    plan: str


def plan_segments(first: dt.date, last: dt.date, changes: list[Change], current: str) -> list[Segment]:
    """The plans in effect from `first` to `last`, from the tenant's changes (any order) and its
    plan now (for a tenant that never changed)."""
    changes = sorted(changes, key=lambda change: change.day)
    before = [change for change in changes if change.day <= first]
    after = [change for change in changes if change.day > first]
    plan = before[-1].plan if before else after[0].from_plan if after else current
    segments, start = [], first
    for change in after:
        if change.day > last:
            break
        if change.plan != plan:
            segments.append(Segment(plan, start, change.day - dt.timedelta(days=1)))
            plan, start = change.plan, change.day
    segments.append(Segment(plan, start, last))
    return segments


def _quantity(meter: int, used: Mapping[dt.date, Mapping[int, int]], segment: Segment) -> int:
    total = sum(used.get(segment.start + dt.timedelta(days=offset), {}).get(meter, 0) for offset in range(segment.days))
    # Stored bytes are summed per day as byte-days; a part of a GB-day is billed as one.
    return -(-total // GB) if meter == Meter.METER_STORED_GB_DAYS else total


def invoice_lines(
    month: str,
    segments: list[Segment],
    plans: Mapping[str, pb.Plan],
    used: Mapping[dt.date, Mapping[int, int]],
    billed_from: dt.date,
) -> list[pb.InvoiceLine]:
    """The month's lines: each segment's fee, then its metered units. `used` holds each day's units by
    meter (stored GB-days as bytes); fees are billed from `billed_from` (the tenant's creation)."""
    first, last = month_days(month)
    of_days = (last - first).days + 1
    lines = []
    for segment in segments:
        plan = plans[segment.plan]
        fee_from = max(segment.start, billed_from)
        if plan.monthly_fee and fee_from <= segment.end:
            days = (segment.end - fee_from).days + 1
            lines.append(
                pb.InvoiceLine(
                    description=f"{plan.display_name or segment.plan} monthly fee, {days} of {of_days} days",
                    plan=segment.plan,
                    start_day=fee_from.isoformat(),
                    end_day=segment.end.isoformat(),
                    quantity=days,
                    unit_amount=plan.monthly_fee,
                    per_units=of_days,
                    amount=prorate(plan.monthly_fee, days, of_days),
                )
            )
        prices = {price.meter: price for price in plan.prices}
        for meter in METERS:
            quantity = _quantity(meter, used, segment)
            price = prices.get(meter)
            # Rows are shown when used, even free; other meters only where the plan prices them.
            if price is None and (meter != Meter.METER_PREDICTION_ROWS or not quantity):
                continue
            price = price or pb.Price(meter=meter)
            included = price.included * segment.days // of_days
            per_units = max(1, price.per_units)
            lines.append(
                pb.InvoiceLine(
                    description=f"{METER_NAMES[meter]} ({included} included)",
                    plan=segment.plan,
                    meter=meter,
                    start_day=segment.start.isoformat(),
                    end_day=segment.end.isoformat(),
                    quantity=quantity,
                    included=included,
                    unit_amount=price.unit_amount,
                    per_units=per_units,
                    amount=overage(quantity, included, price.unit_amount, per_units),
                )
            )
    return lines


BUDGET_THRESHOLDS = (80, 100)


def budget_reached(total: int, budget: int) -> int:
    """The highest threshold (percent of `budget`) that `total` reached; 0 below the lowest or without a budget."""
    if budget <= 0:
        return 0
    return max((p for p in BUDGET_THRESHOLDS if 100 * total >= p * budget), default=0)


def invoice(name: str, month: str, lines: list[pb.InvoiceLine], currency: str, state: pb.InvoiceState) -> pb.Invoice:
    return pb.Invoice(
        name=name,
        month=month,
        state=state,
        currency=currency or "USD",
        lines=lines,
        total=sum(line.amount for line in lines),
    )
