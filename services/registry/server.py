"""Registry process: wires settings, store and servicer into the shared bootstrap."""

from __future__ import annotations

from pathlib import Path

import structlog

from maas.registry.v1 import registry_pb2
from services.common import db
from services.common.server import GrpcServer, ServiceBinding, run_service
from services.registry.blobs import FilesystemBlobStore
from services.registry.config import RegistrySettings
from services.registry.servicer import RegistryServicer, register
from services.registry.store import RegistryStore

log = structlog.get_logger("maas.registry")
SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


async def build_server(settings: RegistrySettings) -> GrpcServer:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.db_url)
    db.migrate(engine, "registry", Path(__file__).parent / "migrations")
    blobs = FilesystemBlobStore(settings.artifact_root)
    store = RegistryStore(engine, blobs)
    partial = blobs.discard_partial_uploads()
    orphans = store.sweep_orphan_blobs()
    if partial or orphans:
        log.info("recovered storage", partial_uploads_removed=partial, orphan_blobs_removed=orphans)

    async def close() -> None:
        engine.dispose()

    return GrpcServer(
        settings=settings,
        bindings=[ServiceBinding(register, RegistryServicer(store, settings), SERVICE_NAME)],
        on_stop=[close],
    )


def main() -> None:
    run_service(RegistrySettings(), build_server)
