"""Plans that bill, proration by day and invoices from persisted usage (integer money throughout)."""

import datetime as dt
from pathlib import Path

import pytest

from maas.gateway.v1 import admin_pb2 as pb
from services.common import db
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.gateway import billing
from services.gateway import tables as t
from services.gateway.billing import Change, Meter, Segment
from services.gateway.invoicing import Invoicer, metered
from services.gateway.store import GatewayStore
from services.gateway.usage_store import DayUsage

ROWS = Meter.METER_PREDICTION_ROWS
# 1,000 rows free a month, then 2.00 per 1,000 rows.
MIXED = pb.Plan(
    name="plans/payg",
    display_name="Pay as you go",
    prices=[pb.Price(meter=ROWS, included=1000, unit_amount=200, per_units=1000)],
)
# 30.00 a month with 10,000 rows, then 1.00 per 1,000.
PAID = pb.Plan(
    name="plans/team",
    display_name="Team",
    monthly_fee=3000,
    prices=[pb.Price(meter=ROWS, included=10_000, unit_amount=100, per_units=1000)],
)
FREE = pb.Plan(name="plans/free", display_name="Free", predictions_per_day=100)


def test_the_kind_follows_from_the_terms_and_must_agree_with_them():
    assert billing.plan_kind(FREE) == pb.PlanKind.PLAN_KIND_FREE
    assert billing.plan_kind(MIXED) == pb.PlanKind.PLAN_KIND_MIXED
    assert billing.plan_kind(PAID) == pb.PlanKind.PLAN_KIND_PAID
    with pytest.raises(InvalidArgument, match="a free plan has no monthly_fee"):
        billing.plan_kind(pb.Plan(kind=pb.PlanKind.PLAN_KIND_FREE, monthly_fee=100))
    with pytest.raises(InvalidArgument, match="monthly_fee: must not be negative"):
        billing.plan_kind(pb.Plan(monthly_fee=-1))
    with pytest.raises(InvalidArgument, match="has a price already"):
        billing.plan_kind(pb.Plan(prices=[pb.Price(meter=ROWS), pb.Price(meter=ROWS)]))
    with pytest.raises(InvalidArgument, match=r"prices\[0\]\.meter"):
        billing.plan_kind(pb.Plan(prices=[pb.Price()]))
    with pytest.raises(InvalidArgument, match="ISO 4217"):
        billing.plan_kind(pb.Plan(currency="dollars"))


def test_amounts_are_integers_rounded_one_way():
    assert billing.prorate(3000, 15, 30) == 1500
    assert billing.prorate(1000, 1, 3) == 333  # 333.33 -> 333
    assert billing.prorate(1000, 2, 3) == 667  # 666.67 -> 667
    assert billing.overage(2500, 1000, 200, 1000) == 300
    assert billing.overage(1001, 1000, 200, 1000) == 1  # 0.2 cent: a part is rounded up
    assert billing.overage(900, 1000, 200, 1000) == 0
    assert billing.month_days("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert billing.month_days("2026-12") == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


def test_plan_segments_follow_the_changes():
    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    assert billing.plan_segments(first, last, [], "plans/payg") == [Segment("plans/payg", first, last)]
    changes = [Change(dt.date(2026, 11, 16), "plans/payg", "plans/team")]
    assert billing.plan_segments(first, last, changes, "plans/team") == [
        Segment("plans/payg", first, dt.date(2026, 11, 15)),
        Segment("plans/team", dt.date(2026, 11, 16), last),
    ]
    # A change of an earlier month: its plan holds all month; one of a later month: its from_plan.
    assert billing.plan_segments(first, last, [Change(dt.date(2026, 10, 3), "plans/free", "plans/payg")], "x") == [
        Segment("plans/payg", first, last)
    ]
    later = [Change(dt.date(2026, 12, 3), "plans/payg", "plans/team")]
    assert billing.plan_segments(first, last, later, "plans/team") == [Segment("plans/payg", first, last)]


def test_a_mixed_plan_bills_the_rows_beyond_its_allowance():
    plans = {MIXED.name: MIXED}
    segment = Segment(MIXED.name, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    used = {dt.date(2026, 11, 2): {ROWS: 2000}, dt.date(2026, 11, 20): {ROWS: 500}}
    (line,) = billing.invoice_lines("2026-11", [segment], plans, used, dt.date(2026, 10, 1))
    assert (line.quantity, line.included, line.unit_amount, line.per_units, line.amount) == (2500, 1000, 200, 1000, 300)
    assert line.meter == ROWS and line.plan == "plans/payg"


def test_an_upgrade_mid_month_prorates_fees_and_allowances_by_day():
    plans = {MIXED.name: MIXED, PAID.name: PAID}
    segments = [
        Segment(MIXED.name, dt.date(2026, 11, 1), dt.date(2026, 11, 15)),
        Segment(PAID.name, dt.date(2026, 11, 16), dt.date(2026, 11, 30)),
    ]
    used = {dt.date(2026, 11, 2): {ROWS: 2500}, dt.date(2026, 11, 20): {ROWS: 6000}}
    lines = billing.invoice_lines("2026-11", segments, plans, used, dt.date(2026, 10, 1))
    summary = [(line.plan, line.meter, line.quantity, line.included, line.amount) for line in lines]
    assert summary == [
        ("plans/payg", ROWS, 2500, 500, 400),  # half the allowance; 2,000 over at 2.00 per 1,000
        ("plans/team", 0, 15, 0, 1500),  # 15 of 30 days of 30.00
        ("plans/team", ROWS, 6000, 5000, 100),  # half of 10,000; 1,000 over at 1.00 per 1,000
    ]
    # A tenant created on the 21st pays the fee from then on only.
    fee = billing.invoice_lines("2026-11", segments, plans, {}, dt.date(2026, 11, 21))[1]
    assert (fee.start_day, fee.quantity, fee.amount) == ("2026-11-21", 10, 1000)


def test_metered_days_from_samples():
    recorded = {
        "2026-11-02": DayUsage(10, 10, 5, training_seconds=100, stored_bytes=2 * billing.GB),
        "2026-11-04": DayUsage(0, 0, 0, training_seconds=160, stored_bytes=0),
    }
    used = metered(dt.date(2026, 11, 1), dt.date(2026, 11, 4), recorded)
    assert [used[d][Meter.METER_TRAINING_SECONDS] for d in sorted(used)] == [0, 100, 0, 60]
    # Storage carries forward from its last sample.
    assert [used[d][Meter.METER_STORED_GB_DAYS] for d in sorted(used)] == [0, 2 * billing.GB] + [2 * billing.GB] * 2


class Clock:
    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment


@pytest.fixture
def store(database_url) -> GatewayStore:
    engine = db.create_engine(database_url)
    db.migrate(engine, "gateway", Path(t.__file__).parent / "migrations")
    store = GatewayStore(engine)
    store.create_plan("payg", MIXED)
    store.create_plan("team", PAID)
    store.create_tenant("acme", pb.Tenant(plan="plans/payg"))
    with engine.begin() as conn:  # created well before the months billed here
        conn.execute(t.tenants.update().values(create_time=dt.datetime(2026, 1, 5, tzinfo=dt.UTC)))
    return store


def test_the_stored_plans_keep_their_terms(store):
    assert store.get_plan("payg").prices == MIXED.prices
    assert store.get_plan("payg").kind == pb.PlanKind.PLAN_KIND_MIXED
    assert store.get_plan("team").monthly_fee == 3000
    pro = store.get_plan("pro")  # the migration makes pro a paid plan
    assert (pro.kind, pro.monthly_fee, pro.currency) == (pb.PlanKind.PLAN_KIND_PAID, 4900, "USD")
    with pytest.raises(InvalidArgument):
        store.create_plan("bad", pb.Plan(kind=pb.PlanKind.PLAN_KIND_PAID))


def test_invoices_draft_then_issued_once_and_prorated(store):
    clock = Clock(dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC))
    invoicer = Invoicer(store, clock)
    store.add_usage({("acme", "2026-11-02"): (2000, 2001, 4), ("acme", "2026-11-10"): (500, 501, 1)})
    draft = invoicer.invoice("acme", "2026-11")
    assert draft.state == pb.InvoiceState.INVOICE_STATE_DRAFT
    assert [(line.quantity, line.included, line.amount) for line in draft.lines] == [(2500, 1000, 300)]
    assert draft.total == 300 and draft.currency == "USD"

    clock.moment = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)
    store.change_plan("acme", "plans/team", clock.moment)
    upgraded = invoicer.invoice("acme", "2026-11")
    assert [(line.plan, line.amount) for line in upgraded.lines] == [
        ("plans/payg", 400),  # 2,500 rows against 500 (15 of 30 days of 1,000)
        ("plans/team", 1500),
        ("plans/team", 0),
    ]
    assert upgraded.total == 1900

    # After the month: issued once; later usage or plan changes do not touch it.
    clock.moment = dt.datetime(2026, 12, 1, 0, 2, tzinfo=dt.UTC)
    assert invoicer.invoice("acme", "2026-11").state == pb.InvoiceState.INVOICE_STATE_DRAFT  # reports still due
    clock.moment = dt.datetime(2026, 12, 1, 1, tzinfo=dt.UTC)
    assert invoicer.issue_due() == 11  # January to November
    issued = invoicer.invoice("acme", "2026-11")
    assert issued.state == pb.InvoiceState.INVOICE_STATE_ISSUED and issued.total == 1900
    store.add_usage({("acme", "2026-11-30"): (50_000, 50_000, 1)})
    store.change_plan("acme", "plans/payg", clock.moment)
    assert invoicer.invoice("acme", "2026-11") == issued
    assert invoicer.issue_due() == 0
    months = [invoice.month for invoice in invoicer.invoices("acme")]
    assert months[:3] == ["2026-12", "2026-11", "2026-10"] and months[-1] == "2026-01"
    # December: a plan change on its first day leaves no November in it.
    december = invoicer.invoice("acme", "2026-12")
    assert [line.plan for line in december.lines] == ["plans/payg"]

    with pytest.raises(NotFound):
        invoicer.invoice("acme", "2027-01")
    with pytest.raises(NotFound):
        invoicer.invoice("acme", "2025-12")
    with pytest.raises(InvalidArgument, match="YYYY-MM"):
        invoicer.invoice("acme", "2026-13")


def test_plan_changes_are_checked(store):
    moment = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    with pytest.raises(NotFound):
        store.change_plan("acme", "plans/nope", moment)
    with pytest.raises(InvalidArgument):
        store.change_plan("acme", "team", moment)
    store.create_plan("euro", pb.Plan(currency="EUR"))
    with pytest.raises(FailedPrecondition, match="one currency"):
        store.change_plan("acme", "plans/euro", moment)
    # Two changes in a day: the last one counts, from the plan the day began with.
    store.change_plan("acme", "plans/team", moment)
    store.change_plan("acme", "plans/free", moment)
    assert store.plan_changes("acme") == [Change(moment.date(), "plans/payg", "plans/free")]


def test_samples_keep_the_days_largest_figures(store):
    store.add_usage({("acme", "2026-11-02"): (5, 6, 1)})
    store.sample_figures("acme", "2026-11-02", 100, 3 * billing.GB)
    store.sample_figures("acme", "2026-11-02", 90, 2 * billing.GB)  # a late, smaller sample changes nothing
    store.sample_figures("acme", "2026-11-03", 120, billing.GB)
    assert store.usage("acme", "2026-11-02") == DayUsage(5, 6, 1, 100, 3 * billing.GB)
    assert store.usage("acme", "2026-11-03") == DayUsage(0, 0, 0, 120, billing.GB)


def test_usage_history_has_every_day(store):
    invoicer = Invoicer(store, Clock(dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)))
    store.add_usage({("acme", "2026-11-02"): (2000, 2001, 4), ("acme", "2026-10-01"): (1, 1, 1)})
    days = invoicer.history("acme", 0)
    assert len(days) == 30 and days[0].day == "2026-10-12" and days[-1].day == "2026-11-10"
    assert [(d.day, d.predictions, d.prediction_calls) for d in days if d.predictions] == [("2026-11-02", 2000, 4)]
    with pytest.raises(InvalidArgument):
        invoicer.history("acme", 400)


def test_budget_thresholds():
    assert [billing.budget_reached(total, 1000) for total in (0, 799, 800, 999, 1000, 5000)] == [0, 0, 80, 80, 100, 100]
    assert billing.budget_reached(10**9, 0) == 0  # no budget


def test_a_budget_threshold_is_an_event_once_a_month(store):
    invoicer = Invoicer(store, Clock(dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)))
    store.set_budget("acme", 500)
    store.add_usage({("acme", "2026-11-02"): (3000, 3000, 3)})  # 400: 80 %
    assert invoicer.invoice("acme", "2026-11").budget == pb.Budget(
        name="tenants/acme/budget", monthly_amount=500, reached_percent=80
    )
    assert store.budget_events("acme", "2026-11") == [80]
    store.add_usage({("acme", "2026-11-03"): (1000, 1000, 1)})  # 600: 100 %
    assert invoicer.invoice("acme", "2026-11").budget.reached_percent == 100
    invoicer.invoice("acme", "2026-11")
    assert store.budget_events("acme", "2026-11") == [80, 100]
    assert not store.record_budget_event("acme", "2026-11", 100, 600, invoicer.clock())
    with pytest.raises(InvalidArgument):
        store.set_budget("acme", -1)
    store.set_budget("acme", 0)
    assert invoicer.invoice("acme", "2026-11").budget.reached_percent == 0
