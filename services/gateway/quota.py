"""Per-tenant rate limits (token buckets) and daily prediction quotas, with usage metering.

Counts live in memory and are added to the `usage` table every `flush_seconds`; a gateway that
starts, or meets a tenant first on a day, reads the day's count from the table. Several replicas
each add their own calls, so the stored total is exact while a quota check may lag by what the
other replicas counted since their last flush.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass

import structlog
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from maas.gateway.v1 import admin_pb2 as pb
from services.common.errors import ResourceExhausted
from services.gateway.store import GatewayStore

log = structlog.get_logger("maas.gateway.quota")


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def _seconds_to_midnight() -> int:
    now = dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(1, int((midnight - now).total_seconds()))


def _exhausted(message: str, subject: str, description: str, retry_seconds: float) -> ResourceExhausted:
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=int(retry_seconds), nanos=int(retry_seconds % 1 * 1e9))
    )
    failure = error_details_pb2.QuotaFailure(
        violations=[error_details_pb2.QuotaFailure.Violation(subject=subject, description=description)]
    )
    return ResourceExhausted(message, details=[retry, failure])


@dataclass
class _Bucket:
    tokens: float
    updated: float


class UsageMeter:
    def __init__(self, store: GatewayStore, plan_cache_seconds: float, flush_seconds: float = 1.0) -> None:
        self._store = store
        self._plan_ttl = plan_cache_seconds
        self._flush_seconds = flush_seconds
        self._plans: dict[str, tuple[float, pb.Plan]] = {}
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._pending: dict[tuple[str, str], list[int]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._task: asyncio.Task | None = None

    async def _plan(self, tenant: str) -> pb.Plan:
        cached = self._plans.get(tenant)
        now = time.monotonic()
        if cached is None or cached[0] < now:
            plan = await asyncio.to_thread(self._store.plan_of, tenant)
            self._plans[tenant] = cached = (now + self._plan_ttl, plan)
        return cached[1]

    async def _count(self, tenant: str, day: str) -> list[int]:
        key = (tenant, day)
        counts = self._counts.get(key)
        if counts is None:
            stored = await asyncio.to_thread(self._store.usage, tenant, day)
            counts = self._counts.setdefault(key, list(stored))
        return counts

    async def admit(self, tenant: str, prediction: bool) -> None:
        """Count one call, or refuse it with RESOURCE_EXHAUSTED, RetryInfo and QuotaFailure details."""
        plan = await self._plan(tenant)
        if plan.requests_per_second > 0:
            self._take_token(tenant, plan)
        day = today()
        counts = await self._count(tenant, day)
        if prediction and plan.predictions_per_day and counts[0] >= plan.predictions_per_day:
            raise _exhausted(
                f"daily prediction quota of {plan.name} reached ({plan.predictions_per_day}); it resets at 00:00 UTC",
                f"tenants/{tenant}",
                f"predictions per day: {plan.predictions_per_day}",
                _seconds_to_midnight(),
            )
        self._add(tenant, day, 1 if prediction else 0)

    def refund(self, tenant: str, prediction: bool) -> None:
        """A call the backend refused does not count against the quota."""
        if prediction:
            day = today()
            self._add(tenant, day, -1, requests=0)

    def _add(self, tenant: str, day: str, predictions: int, requests: int = 1) -> None:
        counts = self._counts.setdefault((tenant, day), [0, 0])
        counts[0] += predictions
        counts[1] += requests
        pending = self._pending.setdefault((tenant, day), [0, 0])
        pending[0] += predictions
        pending[1] += requests

    def _take_token(self, tenant: str, plan: pb.Plan) -> None:
        now = time.monotonic()
        capacity = max(1, plan.burst)
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * plan.requests_per_second)
        bucket.updated = now
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / plan.requests_per_second
            raise _exhausted(
                f"rate limit of {plan.name} exceeded ({plan.requests_per_second:g} calls/s, burst {capacity})",
                f"tenants/{tenant}",
                f"requests per second: {plan.requests_per_second:g}",
                wait,
            )
        bucket.tokens -= 1

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            await asyncio.to_thread(self._store.add_usage, {k: (v[0], v[1]) for k, v in pending.items()})
        except Exception:  # keep the counts and try again on the next flush
            log.exception("could not store usage; will retry")
            for key, (predictions, requests) in pending.items():
                again = self._pending.setdefault(key, [0, 0])
                again[0] += predictions
                again[1] += requests
        for key in [k for k in self._counts if k[1] != today()]:
            del self._counts[key]

    def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self._flush_seconds)
                await self.flush()

        self._task = asyncio.create_task(loop(), name="usage-flush")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.flush()

    async def usage(self, tenant: str, day: str) -> pb.Usage:
        await self.flush()
        plan = await asyncio.to_thread(self._store.plan_of, tenant)
        predictions, requests = await asyncio.to_thread(self._store.usage, tenant, day)
        return pb.Usage(name=f"tenants/{tenant}/usage", day=day, predictions=predictions, requests=requests, plan=plan)
