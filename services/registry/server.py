"""Registry process: wires settings, the catalogues, artifact store and event log into the shared bootstrap."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry

from maas.registry.v1 import registry_pb2
from services.common import db
from services.common.access import Quota
from services.common.gate import CallGate
from services.common.server import GrpcServer, ServiceBinding, run_service
from services.registry.aliases import AliasCatalogue
from services.registry.artifacts import ArtifactStore
from services.registry.blobs import BlobStore, FilesystemBlobStore, S3BlobStore
from services.registry.catalogue import ModelCatalogue
from services.registry.config import RegistrySettings
from services.registry.datasets import DatasetCatalogue
from services.registry.events import EventLog
from services.registry.metrics import StorageCollector
from services.registry.servicer import RegistryServicer, register

log = structlog.get_logger("maas.registry")
SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


def _blob_store(settings: RegistrySettings) -> BlobStore:
    if settings.artifact_store == "filesystem":
        return FilesystemBlobStore(settings.artifact_root)
    if settings.artifact_store == "s3":
        if not settings.s3_bucket:
            raise SystemExit("MAAS_S3_BUCKET is required when MAAS_ARTIFACT_STORE=s3")
        options = {"endpoint_url": settings.s3_endpoint_url or None, "region_name": settings.s3_region or None}
        return S3BlobStore(settings.artifact_root, settings.s3_bucket, settings.s3_prefix, **options)
    raise SystemExit(f"MAAS_ARTIFACT_STORE must be filesystem or s3, not {settings.artifact_store!r}")


async def build_server(settings: RegistrySettings) -> GrpcServer:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.db_url)
    db.migrate(engine, "registry", Path(__file__).parent / "migrations")
    blobs = _blob_store(settings)
    artifacts = ArtifactStore(engine, blobs)
    events = EventLog(engine)
    catalogue = ModelCatalogue(engine, artifacts, events)
    aliases = AliasCatalogue(engine, catalogue, events)
    datasets = DatasetCatalogue(engine, artifacts)
    partial = blobs.discard_partial_uploads() + blobs.discard_stale_uploads(settings.upload_keep_hours * 3600)
    reclaimed = artifacts.reclaim()
    orphans = artifacts.sweep_orphan_blobs()
    if partial or reclaimed or orphans:
        log.info(
            "recovered storage",
            partial_uploads_removed=partial,
            deleted_artifacts_reclaimed=reclaimed,
            orphan_blobs_removed=orphans,
        )

    async def close() -> None:
        engine.dispose()

    async def stored_bytes(tenant: str) -> int:
        return (await asyncio.to_thread(artifacts.storage_usage, tenant)).stored_bytes

    metrics = CollectorRegistry()
    metrics.register(StorageCollector(artifacts))
    return GrpcServer(
        settings=settings,
        registry=metrics,
        gate=CallGate(settings, {Quota.STORED_BYTES: stored_bytes}),
        bindings=[
            ServiceBinding(
                register, RegistryServicer(catalogue, aliases, datasets, artifacts, events, settings), SERVICE_NAME
            )
        ],
        on_stop=[close],
    )


def main() -> None:
    run_service(RegistrySettings(), build_server)
