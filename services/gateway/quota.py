"""Usage as the gateway reports it, and the quota leases it grants.

Limits are enforced in the services themselves (`services.common.metering`): they admit calls
out of prediction leases the gateway grants here (`LeaseBook`, persisted in the gateway's
database, so several gateway replicas grant from one ledger) and report what they counted.
Training time and stored bytes are the trainer's and the registry's figures; `GetUsage` asks
them afresh on internal RPCs, as the gateway service.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import grpc

from maas.gateway.v1 import admin_pb2 as pb
from maas.registry.v1 import registry_pb2, registry_pb2_grpc
from maas.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from services.common.errors import UpstreamError
from services.common.metering import today
from services.gateway.store import GatewayStore

__all__ = ["BackendUsage", "LeaseBook", "today", "usage_report"]
# A usage question is a small indexed query; a backend slower than this is treated as unable to answer.
_USAGE_TIMEOUT_SECONDS = 5.0


class BackendUsage:
    """A tenant's training seconds this month (the trainer's figure) and stored bytes (the registry's)."""

    def __init__(self, trainer: grpc.aio.Channel, registry: grpc.aio.Channel, acting_for) -> None:
        self._trainer = trainer_pb2_grpc.TrainerServiceStub(trainer)
        self._registry = registry_pb2_grpc.RegistryServiceStub(registry)
        self._acting_for = acting_for

    async def figures(self, tenant: str) -> tuple[int, int]:
        kwargs = {"metadata": self._acting_for(tenant), "timeout": _USAGE_TIMEOUT_SECONDS}
        training, stored = await asyncio.gather(
            self._trainer.GetTrainingUsage(trainer_pb2.GetTrainingUsageRequest(), **kwargs),
            self._registry.GetStorageUsage(registry_pb2.GetStorageUsageRequest(), **kwargs),
        )
        return int(training.training_seconds), stored.stored_bytes


async def usage_report(store: GatewayStore, backend: BackendUsage, tenant: str, day: str) -> pb.Usage:
    plan = await asyncio.to_thread(store.plan_of, tenant)
    month = await asyncio.to_thread(store.usage_between, tenant, day[:8] + "01", day)
    try:
        training, stored = await backend.figures(tenant)
    except grpc.aio.AioRpcError as error:
        raise UpstreamError.from_rpc_error(error) from None
    if day == today():  # the figures are today's: kept for the month's invoice
        await asyncio.to_thread(store.sample_figures, tenant, day, training, stored)
    used = month.get(day)
    return pb.Usage(
        name=f"tenants/{tenant}/usage",
        day=day,
        predictions=used.predictions if used else 0,
        prediction_calls=used.prediction_calls if used else 0,
        requests=used.requests if used else 0,
        month_predictions=sum(entry.predictions for entry in month.values()),
        plan=plan,
        training_seconds=training,
        stored_bytes=stored,
    )


class LeaseBook:
    """Grants prediction leases and takes usage reports (`LeaseUsage`); knows how many replicas
    of each service report, so each can take its share of a tenant's rate limit."""

    def __init__(self, store: GatewayStore, valid_for: dt.timedelta = dt.timedelta(seconds=2)) -> None:
        self._store = store
        self._valid_for = valid_for
        self._seen: dict[str, dict[str, float]] = {}
        # One grant at a time in this process (SQLite has no row locks; PostgreSQL's lock the row too).
        self._lock = asyncio.Lock()

    async def lease(self, service: str, request: pb.LeaseUsageRequest) -> pb.LeaseUsageResponse:
        clock = time.monotonic()
        seen = self._seen.setdefault(service, {})
        seen[request.replica] = clock
        for replica in [r for r, at in seen.items() if at < clock - 3 * self._valid_for.total_seconds()]:
            del seen[replica]
        async with self._lock:
            leases = await asyncio.to_thread(
                self._store.lease_predictions, request.replica, list(request.usage), self._valid_for
            )
        reply = pb.LeaseUsageResponse(leases=leases, replicas=len(seen))
        reply.valid_for.FromTimedelta(self._valid_for)
        return reply
