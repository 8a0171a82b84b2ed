"""Invoices from the persisted usage: the running month's as a draft on demand, each past month's issued
once (at the end of the month by `BillingCycle`, or on the first read after it) and then never changed."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import grpc
import structlog

from maas.gateway.v1 import admin_pb2 as pb
from services.common.errors import InvalidArgument, NotFound
from services.common.periodic import every
from services.common.timeutil import now
from services.gateway import billing
from services.gateway.billing import Meter
from services.gateway.usage_store import DayUsage

log = structlog.get_logger("maas.billing")
HISTORY_DAYS = 30
# A month's invoice is issued this long after it ends: the replicas' last reports of it (every
# `usage_report_seconds`) are in by then. Until then it is still a draft.
ISSUE_AFTER = dt.timedelta(minutes=5)


def _months(first: str, last: str) -> list[str]:
    months, month = [], first
    while month <= last:
        months.append(month)
        following = billing.month_days(month)[1] + dt.timedelta(days=1)
        month = billing.month_of(following)
    return months


def metered(first: dt.date, through: dt.date, recorded: dict[str, DayUsage]) -> dict[dt.date, dict[int, int]]:
    """Each day's units by meter, from the usage table: rows as counted; training seconds as the rise of
    the trainer's month-to-date figure; bytes stored as the day's sample (the last one carried forward)."""
    used: dict[dt.date, dict[int, int]] = {}
    trained = stored = 0
    day = first
    while day <= through:
        entry = recorded.get(day.isoformat(), DayUsage(0, 0))
        stored = entry.stored_bytes or stored
        used[day] = {
            Meter.METER_PREDICTION_ROWS: entry.predictions,
            Meter.METER_TRAINING_SECONDS: max(0, entry.training_seconds - trained),
            Meter.METER_STORED_GB_DAYS: stored,
        }
        trained = max(trained, entry.training_seconds)
        day += dt.timedelta(days=1)
    return used


class Invoicer:
    """`clock` is the moment the gateway bills at (tests inject one; nothing sleeps)."""

    def __init__(self, store, clock: Callable[[], dt.datetime] = now, audit=None) -> None:
        self._store = store
        self.clock = clock
        # The audit log (`audit.AuditLog`): issued invoices and budget thresholds are events of the tenant.
        self._audit = audit

    def _event(self, kind: str, tenant_id: str, target: str, **details) -> None:
        if self._audit is not None:
            self._audit.record(kind, tenant=tenant_id, actor="gateway", target=target, **details)

    def _work_out(self, tenant_id: str, month: str, state: pb.InvoiceState) -> pb.Invoice:
        first, last = billing.month_days(month)
        moment = self.clock()
        created = self._store.tenant_created(tenant_id).date()
        through = min(last, moment.date())
        current = self._store.get_tenant(tenant_id).plan
        segments = billing.plan_segments(first, last, self._store.plan_changes(tenant_id), current)
        plans = self._store.plans_by_name()
        recorded = self._store.usage_between(tenant_id, first.isoformat(), through.isoformat())
        lines = billing.invoice_lines(month, segments, plans, metered(first, through, recorded), created)
        name = f"tenants/{tenant_id}/invoices/{month}"
        result = billing.invoice(name, month, lines, plans[segments[-1].plan].currency, state)
        result.issue_time.FromDatetime(moment)
        return result

    def _closed(self, month: str) -> bool:
        ended = billing.month_days(month)[1] + dt.timedelta(days=1)
        return self.clock() >= dt.datetime.combine(ended, dt.time(), dt.UTC) + ISSUE_AFTER

    def invoice(self, tenant_id: str, month: str) -> pb.Invoice:
        """The month's invoice: a draft for the running month, the issued one for a past month."""
        billing.check_month(month, "name")
        running = billing.month_of(self.clock().date())
        created = billing.month_of(self._store.tenant_created(tenant_id).date())
        if month > running or month < created:
            raise NotFound(f"tenant {tenant_id!r} has no invoice for {month} (it bills from {created} to {running})")
        if not self._closed(month):
            return self._with_budget(tenant_id, self._work_out(tenant_id, month, pb.InvoiceState.INVOICE_STATE_DRAFT))
        issued = self._store.issued_invoice(tenant_id, month)
        if issued is not None:
            return issued
        draft = self._work_out(tenant_id, month, pb.InvoiceState.INVOICE_STATE_ISSUED)
        issued = self._store.save_invoice(tenant_id, draft)
        log.info("invoice issued", tenant=tenant_id, month=month, total=issued.total, currency=issued.currency)
        if issued.issue_time == draft.issue_time:  # this replica issued it
            self._event("invoice_issued", tenant_id, issued.name, total=issued.total, currency=issued.currency)
        return issued

    def _with_budget(self, tenant_id: str, draft: pb.Invoice) -> pb.Invoice:
        """The draft with the tenant's budget; a threshold reached for the first time this month is an event."""
        budget = self._store.budget_of(tenant_id)
        reached = billing.budget_reached(draft.total, budget)
        draft.budget.CopyFrom(
            pb.Budget(name=f"tenants/{tenant_id}/budget", monthly_amount=budget, reached_percent=reached)
        )
        for percent in billing.BUDGET_THRESHOLDS:
            if percent <= reached and self._store.record_budget_event(
                tenant_id, draft.month, percent, draft.total, self.clock()
            ):
                self._event("budget_reached", tenant_id, draft.budget.name, percent=percent, total=draft.total)
                log.warning(
                    "budget threshold reached",
                    tenant=tenant_id,
                    month=draft.month,
                    percent=percent,
                    total=draft.total,
                    budget=budget,
                    currency=draft.currency,
                )
        return draft

    def invoices(self, tenant_id: str) -> list[pb.Invoice]:
        """The running month's draft, then every past month's (issued now if it was not yet), newest first."""
        running = billing.month_of(self.clock().date())
        created = billing.month_of(self._store.tenant_created(tenant_id).date())
        return [self.invoice(tenant_id, month) for month in reversed(_months(created, running))]

    def issue_due(self) -> int:
        """Issue every tenant's invoices of past months not issued yet; how many were issued."""
        running = billing.month_of(self.clock().date())
        issued = 0
        tenants, token = self._store.list_tenants(1000, "")
        while True:
            for tenant in tenants:
                tenant_id = tenant.name.removeprefix("tenants/")
                created = billing.month_of(self._store.tenant_created(tenant_id).date())
                for month in _months(created, running)[:-1]:
                    if self._closed(month) and self._store.issued_invoice(tenant_id, month) is None:
                        self.invoice(tenant_id, month)
                        issued += 1
            if not token:
                return issued
            tenants, token = self._store.list_tenants(1000, token)

    def history(self, tenant_id: str, days: int) -> list[pb.DailyUsage]:
        """The last `days` UTC days (today included), oldest first; days without calls have zeros."""
        if days < 0 or days > 366:
            raise InvalidArgument("days: must be from 1 to 366 (0: 30)")
        days = days or HISTORY_DAYS
        today = self.clock().date()
        first = today - dt.timedelta(days=days - 1)
        recorded = self._store.usage_between(tenant_id, first.isoformat(), today.isoformat())
        result = []
        for offset in range(days):
            day = (first + dt.timedelta(days=offset)).isoformat()
            entry = recorded.get(day, DayUsage(0, 0))
            result.append(
                pb.DailyUsage(
                    day=day,
                    predictions=entry.predictions,
                    prediction_calls=entry.prediction_calls,
                    requests=entry.requests,
                )
            )
        return result


class BillingCycle:
    """The gateway's background billing: samples every tenant's training time and storage (what invoices
    bill them from) and issues the invoices of months that ended, every `period` seconds."""

    def __init__(self, invoicer: Invoicer, store, backend, period: float) -> None:
        self._invoicer = invoicer
        self._store = store
        self._backend = backend
        self._period = period
        self._task: asyncio.Task | None = None

    # A companion of the gateway's server that makes no calls to it (so needs no loopback port).
    needs_loopback = False

    async def run_once(self) -> None:
        day = self._invoicer.clock().date().isoformat()
        tenants, _ = await asyncio.to_thread(self._store.list_tenants, 1000, "")
        for tenant in tenants:
            tenant_id = tenant.name.removeprefix("tenants/")
            try:
                training, stored = await self._backend.figures(tenant_id)
            except grpc.aio.AioRpcError as error:  # a backend down skips this sample, not the cycle
                log.warning("usage sample failed", tenant=tenant_id, error=type(error).__name__)
                continue
            await asyncio.to_thread(self._store.sample_figures, tenant_id, day, training, stored)
            if await asyncio.to_thread(self._store.budget_of, tenant_id):
                # The running month's draft records the budget thresholds it reached, read or not.
                await asyncio.to_thread(self._invoicer.invoice, tenant_id, day[:7])
        await asyncio.to_thread(self._invoicer.issue_due)

    async def start(self) -> None:
        if self._period > 0:
            cycle = every(self._period, self.run_once, log, "billing round failed")
            self._task = asyncio.create_task(cycle, name="billing-cycle")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
