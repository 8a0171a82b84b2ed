"""Per-tenant rate limits (token buckets), daily prediction quotas, monthly training time and
stored bytes, with usage metering.

Prediction counts live in memory and are added to the `usage` table every `flush_seconds`; a
gateway that starts, or meets a tenant first on a day, reads the day's count from the table.
Several replicas each add their own calls, so the stored total is exact while a quota check may
lag by what the other replicas counted since their last flush.

Training time and stored bytes are known to the trainer and the registry, which answer them on
internal RPCs; `BackendUsage` keeps each answer per tenant for a few seconds, so admission costs
a backend call only now and then (and a tenant may overshoot by what it starts in that time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass

import grpc
import structlog
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from maas.gateway.v1 import admin_pb2 as pb
from maas.registry.v1 import registry_pb2, registry_pb2_grpc
from maas.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from services.common.errors import ResourceExhausted, UpstreamError
from services.common.interceptors import request_id_var
from services.common.metadata import REQUEST_ID_KEY, TENANT_KEY
from services.common.timeutil import next_month_start, now
from services.gateway.cache import SharedTtlCache
from services.gateway.routes import Quota
from services.gateway.store import GatewayStore

log = structlog.get_logger("maas.gateway.quota")
# A usage question is a small indexed query; a backend slower than this is treated as unable to answer.
_USAGE_TIMEOUT_SECONDS = 5.0


def today() -> str:
    return now().date().isoformat()


def _seconds_until(moment: dt.datetime) -> int:
    return max(1, int((moment - now()).total_seconds()))


def _exhausted(message: str, subject: str, description: str, retry_seconds: float | None) -> ResourceExhausted:
    """RESOURCE_EXHAUSTED with a QuotaFailure, and a RetryInfo when waiting `retry_seconds` helps."""
    failure = error_details_pb2.QuotaFailure(
        violations=[error_details_pb2.QuotaFailure.Violation(subject=subject, description=description)]
    )
    if retry_seconds is None:
        return ResourceExhausted(message, details=[failure])
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=int(retry_seconds), nanos=int(retry_seconds % 1 * 1e9))
    )
    return ResourceExhausted(message, details=[retry, failure])


class BackendUsage:
    """A tenant's training seconds this month (the trainer's figure) and stored bytes (the
    registry's), each cached for `ttl` seconds; concurrent askers share one backend call."""

    def __init__(self, trainer: grpc.aio.Channel, registry: grpc.aio.Channel, ttl: float) -> None:
        self._trainer = trainer_pb2_grpc.TrainerServiceStub(trainer)
        self._registry = registry_pb2_grpc.RegistryServiceStub(registry)
        self._figures: SharedTtlCache[tuple[Quota, str], int] = SharedTtlCache(self._ask, ttl)

    async def _ask(self, key: tuple[Quota, str]) -> int:
        quota, tenant = key
        kwargs = {
            "metadata": ((TENANT_KEY, tenant), (REQUEST_ID_KEY, request_id_var.get())),
            "timeout": _USAGE_TIMEOUT_SECONDS,
        }
        if quota is Quota.TRAINING_TIME:
            usage = await self._trainer.GetTrainingUsage(trainer_pb2.GetTrainingUsageRequest(), **kwargs)
            return int(usage.training_seconds)
        return (await self._registry.GetStorageUsage(registry_pb2.GetStorageUsageRequest(), **kwargs)).stored_bytes

    async def get(self, quota: Quota, tenant: str, fresh: bool = False) -> int:
        """The figure, from the cache unless it is older than the TTL or `fresh` is asked for."""
        return await self._figures.get((quota, tenant), fresh)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class UsageMeter:
    def __init__(
        self, store: GatewayStore, plan_cache_seconds: float, backend: BackendUsage, flush_seconds: float = 1.0
    ) -> None:
        self._store = store
        self._backend = backend
        self._flush_seconds = flush_seconds
        self._plans: SharedTtlCache[str, pb.Plan] = SharedTtlCache(
            lambda tenant: asyncio.to_thread(store.plan_of, tenant), plan_cache_seconds
        )
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._pending: dict[tuple[str, str], list[int]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._task: asyncio.Task | None = None

    async def _count(self, tenant: str, day: str) -> list[int]:
        key = (tenant, day)
        counts = self._counts.get(key)
        if counts is None:
            stored = await asyncio.to_thread(self._store.usage, tenant, day)
            counts = self._counts.setdefault(key, list(stored))
        return counts

    async def admit(self, tenant: str, quota: Quota | None) -> None:
        """Count one call, or refuse it with RESOURCE_EXHAUSTED and QuotaFailure (and RetryInfo) details."""
        plan = await self._plans.get(tenant)
        if plan.requests_per_second > 0:
            self._take_token(tenant, plan)
        day = today()
        counts = await self._count(tenant, day)
        if quota is Quota.PREDICTIONS and plan.predictions_per_day and counts[0] >= plan.predictions_per_day:
            tomorrow = dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(), dt.UTC)
            raise _exhausted(
                f"daily prediction quota of {plan.name} reached ({plan.predictions_per_day}); it resets at 00:00 UTC",
                f"tenants/{tenant}",
                f"{quota.value}: {plan.predictions_per_day}",
                _seconds_until(tomorrow),
            )
        if quota in (Quota.TRAINING_TIME, Quota.STORED_BYTES):
            await self._check_backend_usage(tenant, plan, quota)
        self._add(tenant, day, 1 if quota is Quota.PREDICTIONS else 0)

    async def _check_backend_usage(self, tenant: str, plan: pb.Plan, quota: Quota) -> None:
        limit = plan.training_seconds_per_month if quota is Quota.TRAINING_TIME else plan.stored_bytes
        if not limit:
            return
        try:
            used = await self._backend.get(quota, tenant)
        except grpc.aio.AioRpcError as error:
            # Admit: the call goes to the very backend that could not answer, and it answers for
            # itself; a backend not yet upgraded (UNIMPLEMENTED) must not block every upload.
            log.warning("usage unknown; call admitted", quota=quota.value, code=error.code().name)
            return
        if used < limit:
            return
        if quota is Quota.TRAINING_TIME:
            resets = next_month_start(now())
            raise _exhausted(
                f"monthly training time of {plan.name} used up ({used} of {limit} s); "
                f"new jobs can start from {resets:%Y-%m-%d} 00:00 UTC",
                f"tenants/{tenant}",
                f"{quota.value}: {limit}",
                _seconds_until(resets),
            )
        # No RetryInfo: waiting frees nothing, deleting models, versions or artifacts does.
        raise _exhausted(
            f"storage of {plan.name} is full ({used} of {limit} bytes): delete models, versions or unused artifacts",
            f"tenants/{tenant}",
            f"{quota.value}: {limit}",
            None,
        )

    def refund(self, tenant: str, quota: Quota | None) -> None:
        """A call the backend refused does not count against the quota."""
        if quota is Quota.PREDICTIONS:
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
        try:
            training, stored = await asyncio.gather(
                self._backend.get(Quota.TRAINING_TIME, tenant, fresh=True),
                self._backend.get(Quota.STORED_BYTES, tenant, fresh=True),
            )
        except grpc.aio.AioRpcError as error:
            raise UpstreamError.from_rpc_error(error) from None
        return pb.Usage(
            name=f"tenants/{tenant}/usage",
            day=day,
            predictions=predictions,
            requests=requests,
            plan=plan,
            training_seconds=training,
            stored_bytes=stored,
        )
