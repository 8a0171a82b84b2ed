"""Trainer process: the job API and, unless disabled, local workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry

from maas.trainer.v1 import trainer_pb2
from services.common import db
from services.common.access import Quota
from services.common.gate import CallGate
from services.common.server import GrpcServer, ServiceBinding, run_service
from services.common.timeutil import month_start, now
from services.trainer.config import TrainerSettings
from services.trainer.metrics import TrainerMetrics
from services.trainer.scheduler import JobScheduler
from services.trainer.servicer import TrainerServicer, register
from services.trainer.store import JobStore

SERVICE_NAME = trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name


async def build_server(settings: TrainerSettings) -> GrpcServer:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.db_url)
    db.migrate(engine, "trainer", Path(__file__).parent / "migrations")
    store = JobStore(engine)
    registry = CollectorRegistry()
    metrics = TrainerMetrics(registry, engine)
    pool = JobScheduler(store, settings, settings.local_workers, metrics) if settings.local_workers > 0 else None
    if pool:
        pool.start()

    async def close() -> None:
        if pool:
            await pool.stop()
        engine.dispose()

    async def training_seconds(tenant: str) -> int:
        return int(await asyncio.to_thread(store.training_seconds, tenant, month_start(now())))

    return GrpcServer(
        settings=settings,
        gate=CallGate(settings, {Quota.TRAINING_TIME: training_seconds}),
        bindings=[ServiceBinding(register, TrainerServicer(store), SERVICE_NAME)],
        on_stop=[close],
        registry=registry,
    )


def main() -> None:
    run_service(TrainerSettings(), build_server)
