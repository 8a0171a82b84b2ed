"""Rate limits, quotas and usage metering inside each service, with no network call per request.

- Rate limit: a token bucket per tenant in each replica, at the plan's rate divided by the number
  of replicas of this service the gateway sees reporting (Envoy spreads calls evenly over them).
- Daily predictions, in rows (`rows.prediction_rows`): the gateway leases blocks of a tenant's
  remaining quota to each replica (`LeaseUsage`); a replica admits out of its lease locally and
  asks for more only when it runs out. Leases are granted from what nobody holds, so the sum never
  exceeds the plan: the quota is exact however many replicas share it. A call's rows are admitted
  whole or refused.
- Usage: every `report_seconds` a replica reports what it counted (predictions, requests) in the
  same call that renews its leases; the gateway adds it to the `usage` table (rows and calls).
- Training time and stored bytes are the trainer's and the registry's own figures: they check
  them locally (`local_figures`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import structlog
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from maas.gateway.v1 import admin_pb2 as pb
from maas.gateway.v1 import admin_pb2_grpc
from services.common.access import Access, Quota
from services.common.credentials import Caller, KeyCache, api_key_id
from services.common.errors import ResourceExhausted, unavailable
from services.common.periodic import every
from services.common.timeutil import next_month_start, now

log = structlog.get_logger("maas.metering")
# Largest block of rows one replica holds, and the most one replica can lose if killed (a call of
# more rows asks for just what it needs).
MAX_LEASE = 1000


_day = (0.0, "")


def today() -> str:
    """The UTC day (YYYY-MM-DD), worked out once a day rather than on every call."""
    global _day
    until, day = _day
    if time.time() >= until:
        moment = now()
        midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        day = moment.date().isoformat()
        _day = (midnight.timestamp(), day)
    return day


def _seconds_until(moment: dt.datetime) -> int:
    return max(1, int((moment - now()).total_seconds()))


def exhausted(
    message: str, subject: str, description: str, retry_seconds: float | None, *, limit: str
) -> ResourceExhausted:
    """RESOURCE_EXHAUSTED with a QuotaFailure, and a RetryInfo when waiting `retry_seconds` helps;
    `limit` names the plan's limit that refused (`rate_limit`, `predictions_per_day`, ...) for metrics."""
    failure = error_details_pb2.QuotaFailure(
        violations=[error_details_pb2.QuotaFailure.Violation(subject=subject, description=description)]
    )
    details: list[Message] = [failure]
    if retry_seconds is not None:
        retry = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=int(retry_seconds), nanos=int(retry_seconds % 1 * 1e9))
        )
        details = [retry, failure]
    error = ResourceExhausted(message, details=details)
    error.limit = limit
    return error


def prediction_quota_reached(plan: pb.Plan, tenant: str, day: str, rows: int = 1) -> ResourceExhausted:
    tomorrow = dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(), dt.UTC)
    call = f"; this call has {rows} rows" if rows > 1 else ""
    return exhausted(
        f"daily prediction quota of {plan.name} reached ({plan.predictions_per_day} rows{call}); "
        "it resets at 00:00 UTC",
        f"tenants/{tenant}",
        f"{Quota.PREDICTIONS.value}: {plan.predictions_per_day}",
        _seconds_until(tomorrow),
        limit="predictions_per_day",
    )


def figure_exhausted(plan: pb.Plan, tenant: str, quota: Quota, used: int, limit: int) -> ResourceExhausted:
    if quota is Quota.TRAINING_TIME:
        resets = next_month_start(now())
        return exhausted(
            f"monthly training time of {plan.name} used up ({used} of {limit} s); "
            f"new jobs can start from {resets:%Y-%m-%d} 00:00 UTC",
            f"tenants/{tenant}",
            f"{quota.value}: {limit}",
            _seconds_until(resets),
            limit="training_seconds_per_month",
        )
    # No RetryInfo: waiting frees nothing, deleting models, versions or artifacts does.
    return exhausted(
        f"storage of {plan.name} is full ({used} of {limit} bytes): delete models, versions or unused artifacts",
        f"tenants/{tenant}",
        f"{quota.value}: {limit}",
        None,
        limit="stored_bytes",
    )


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _TenantMeter:
    """One tenant's day in this replica: counts not yet reported and the prediction lease."""

    day: str
    # Rows and calls of predictions, and every call, not reported yet.
    predictions: int = 0
    calls: int = 0
    requests: int = 0
    held: int = 0
    # Monotonic time the lease ends; counted from when its request was sent.
    lease_end: float = 0.0
    # Rows admitted in the last report period: the size of the next lease.
    recent: int = 0
    # Rows of the call waiting for a lease (0: none waits).
    needed: int = 0
    renewal: asyncio.Future | None = field(default=None, repr=False)
    retry_at: float = 0.0


class UsageLedger:
    """Admits calls against the caller's plan and meters them; reports to the gateway in the background."""

    def __init__(
        self,
        keys: KeyCache,
        gateway: grpc.aio.Channel | None,
        metadata,
        service: str,
        report_seconds: float = 0.5,
        local_figures: dict[Quota, Callable[[str], Awaitable[int]]] | None = None,
    ) -> None:
        self._keys = keys
        self._stub = admin_pb2_grpc.AdminServiceStub(gateway) if gateway is not None else None
        self._metadata = metadata
        # Unique per ledger: one process may run several servers (tests do).
        self._replica = f"{service}/{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        self._report_seconds = report_seconds
        self._figures = local_figures or {}
        self._tenants: dict[tuple[str, str], _TenantMeter] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._key_uses: dict[str, dt.datetime] = {}  # key id -> its latest admitted call, until reported
        self._replicas = 1
        self._lease_seconds = 2.0  # until the gateway says how long its leases last
        self._report_lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    def _meter(self, tenant: str) -> _TenantMeter:
        day = today()
        meter = self._tenants.get((tenant, day))
        if meter is None:
            meter = self._tenants[(tenant, day)] = _TenantMeter(day)
        return meter

    async def admit(self, caller: Caller, access: Access, rows: int = 1) -> Callable[[], None] | None:
        """Count one call (of `rows` prediction rows) or refuse it (RESOURCE_EXHAUSTED with details);
        returns the refund of a counted prediction, for a call that then fails."""
        tenant = caller.tenant
        if caller.service is not None or tenant is None:
            return None  # the platform's own calls are neither limited nor billed
        key_id = api_key_id(caller.principal)
        if key_id is not None:
            self._key_uses[key_id] = now()
        plan = self._keys.plans.get(tenant)
        if plan is None:
            return None
        if plan.requests_per_second > 0:
            self._take_token(tenant, plan)
        meter = self._meter(tenant)
        quota = access.quota
        if quota is Quota.PREDICTIONS:
            if plan.predictions_per_day:
                await self._take_prediction(tenant, meter, plan, rows)
            meter.predictions += rows
            meter.calls += 1
            meter.recent += rows
            meter.requests += 1
            return lambda: self._refund(meter, rows)
        if quota in self._figures:
            await self._check_figure(tenant, plan, quota)
        meter.requests += 1
        return None

    def _refund(self, meter: _TenantMeter, rows: int) -> None:
        meter.predictions -= rows
        meter.calls -= 1
        if meter.lease_end > time.monotonic():
            meter.held += rows

    async def _take_prediction(self, tenant: str, meter: _TenantMeter, plan: pb.Plan, rows: int) -> None:
        if rows > plan.predictions_per_day:
            raise prediction_quota_reached(plan, tenant, meter.day, rows)
        # While other replicas hold the rest, wait for their renewals to leave this one its share
        # (their leases end by then at the latest); refused only when nobody holds anything.
        patience = time.monotonic() + 2 * self._lease_seconds + self._report_seconds
        asked = False
        try:
            while True:
                if meter.renewal is not None:
                    await asyncio.shield(meter.renewal)
                    asked = False  # another call's answer: others may have taken what it got
                    continue
                if meter.held >= rows and meter.lease_end > time.monotonic():
                    meter.held -= rows
                    return
                if asked and (not meter.retry_at or time.monotonic() >= patience):
                    raise prediction_quota_reached(plan, tenant, meter.day, rows)
                meter.needed = max(meter.needed, rows)
                if meter.retry_at > time.monotonic():
                    await asyncio.sleep(meter.retry_at - time.monotonic())
                if not await self.report(demand=(tenant, meter.day)):
                    # No lease without the gateway: say so, rather than that the quota is used up.
                    raise unavailable("the platform's quota service (gateway) is unreachable; retry shortly")
                asked = True
        finally:
            meter.needed = 0

    async def _check_figure(self, tenant: str, plan: pb.Plan, quota: Quota) -> None:
        limit = plan.training_seconds_per_month if quota is Quota.TRAINING_TIME else plan.stored_bytes
        if not limit:
            return
        used = await self._figures[quota](tenant)
        if used >= limit:
            raise figure_exhausted(plan, tenant, quota, used, limit)

    def _take_token(self, tenant: str, plan: pb.Plan) -> None:
        clock = time.monotonic()
        rate = plan.requests_per_second / self._replicas
        capacity = max(1.0, max(1, plan.burst) / self._replicas)
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = _Bucket(capacity, clock)
        bucket.tokens = min(capacity, bucket.tokens + (clock - bucket.updated) * rate)
        bucket.updated = clock
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / rate
            limit = f"{plan.requests_per_second:g} calls/s, burst {max(1, plan.burst)}"
            raise exhausted(
                f"rate limit of {plan.name} exceeded ({limit})",
                f"tenants/{tenant}",
                f"requests per second: {plan.requests_per_second:g}",
                wait,
                limit="rate_limit",
            )
        bucket.tokens -= 1

    async def report(self, demand: tuple[str, str] | None = None) -> bool:
        """Send the counts and renew the leases of the tenants in use (and of `demand`, which has
        none left); admission of a tenant's predictions waits for the answer, so no lease is used twice.
        False when the gateway could not be reached (the counts are kept for the next report)."""
        if self._stub is None:
            return True
        async with self._report_lock:
            return await self._report(demand)

    def _lease_wanted(self, key: tuple[str, str], meter: _TenantMeter, clock: float, demand) -> int | None:
        """Predictions to ask for, 0 to give the lease back, None to leave it as it is."""
        plan = self._keys.plans.get(key[0])
        if plan is None or not plan.predictions_per_day or key[1] != today():
            return 0 if meter.held else None
        busy = max(1, 2 * meter.recent)
        if key == demand or meter.needed:  # a call waits for rows
            return max(meter.needed, min(MAX_LEASE, max(busy, 8)))
        ending = meter.lease_end < clock + 2 * self._report_seconds
        if meter.recent and (ending or meter.held < meter.recent):
            return min(MAX_LEASE, busy)
        if meter.held and ending:
            return 0
        return None

    async def _report(self, demand) -> bool:
        assert self._stub is not None  # report() returned before without a gateway
        usage, renewing = [], []
        clock = time.monotonic()
        for key, meter in list(self._tenants.items()):
            wanted = self._lease_wanted(key, meter, clock, demand)
            if wanted is None and not (meter.predictions or meter.calls or meter.requests):
                if key[1] != today():
                    del self._tenants[key]
                continue
            usage.append(
                pb.TenantUsage(
                    tenant=key[0],
                    day=key[1],
                    predictions=meter.predictions,
                    prediction_calls=meter.calls,
                    requests=meter.requests,
                    lease_needed=meter.needed,
                    # Left alone: the replica keeps what it holds.
                    lease_wanted=meter.held if wanted is None else wanted,
                )
            )
            meter.predictions = meter.calls = meter.requests = meter.recent = 0
            meter.renewal = asyncio.get_running_loop().create_future()
            renewing.append((key, meter))
        key_uses, self._key_uses = self._key_uses, {}
        if not usage and not key_uses:
            return True
        request = pb.LeaseUsageRequest(replica=self._replica, usage=usage)
        for key_id, moment in key_uses.items():
            request.key_use[key_id].FromDatetime(moment)
        sent = time.monotonic()
        try:
            reply = await self._stub.LeaseUsage(request, metadata=self._metadata, timeout=5)
        except grpc.aio.AioRpcError as error:
            log.warning("usage report failed; counts kept for the next one", code=error.code().name)
            for key_id, moment in key_uses.items():
                self._key_uses.setdefault(key_id, moment)
            for entry, (_, meter) in zip(usage, renewing, strict=True):
                meter.predictions += entry.predictions
                meter.calls += entry.prediction_calls
                meter.requests += entry.requests
                meter.held, meter.lease_end = 0, 0.0
                self._settle(meter)
            return False
        self._replicas = max(1, reply.replicas)
        valid = self._lease_seconds = reply.valid_for.ToTimedelta().total_seconds()
        leases = {(lease.tenant, lease.day): lease for lease in reply.leases}
        for key, meter in renewing:
            lease = leases.get(key)
            meter.held = lease.granted if lease else 0
            meter.lease_end = sent + valid if meter.held else 0.0
            retry = lease.retry_after.ToTimedelta().total_seconds() if lease else 0
            # Others renew (giving back what they did not use) every report period, or their leases end.
            wait = min(retry, self._report_seconds)
            short = meter.held < max(1, meter.needed)
            meter.retry_at = time.monotonic() + wait if retry and short else 0.0
            if not short:
                meter.needed = 0
            self._settle(meter)
        return True

    @staticmethod
    def _settle(meter: _TenantMeter) -> None:
        if meter.renewal is not None and not meter.renewal.done():
            meter.renewal.set_result(None)
        meter.renewal = None

    def start(self) -> None:
        if self._stub is None:
            return

        reports = every(self._report_seconds, self.report, log, "usage report round failed")
        self._task = asyncio.create_task(reports, name="usage-report")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        # Report the last counts and give back what is held.
        for meter in self._tenants.values():
            meter.recent, meter.lease_end = 0, 0.0
        await self.report()
