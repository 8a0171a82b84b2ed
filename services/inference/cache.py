"""The local model cache: each version's artifact downloaded once (sha256-verified) and kept as
the SavedModel directory it unpacks or converts to, `<cache>/<tenant>/<sha256>`."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from services.inference.registry_client import RegistryClient


class ModelCache:
    def __init__(self, root: Path, registry: RegistryClient) -> None:
        self._root = root
        self._registry = registry
        root.mkdir(parents=True, exist_ok=True)

    def directory(self, tenant: str, artifact: str) -> Path:
        return self._root / tenant / artifact.removeprefix("artifacts/")

    def ready(self, tenant: str, artifact: str) -> Path | None:
        """The SavedModel directory of an artifact prepared earlier, if any."""
        directory = self.directory(tenant, artifact)
        return directory if (directory / "saved_model.pb").is_file() else None

    @asynccontextmanager
    async def staging(self, tenant: str, artifact: str) -> AsyncIterator[tuple[Path, Path]]:
        """The downloaded archive and an empty staging path for its SavedModel; both are removed
        on exit, so what the caller wants kept it `install`s first."""
        base = self._root / tenant
        base.mkdir(parents=True, exist_ok=True)
        # Unique names: replicas may share the cache volume and fetch the same version at once.
        unique = f"{artifact.removeprefix('artifacts/')}.{uuid.uuid4().hex}"
        archive, staging = base / f"{unique}.partial", base / f"{unique}.staging"
        try:
            await self._registry.download(tenant, artifact, archive)
            yield archive, staging
        finally:
            archive.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)

    def install(self, staging: Path, tenant: str, artifact: str) -> Path:
        """Move a prepared SavedModel into place (another process may have done it first: same bytes)."""
        directory = self.directory(tenant, artifact)
        try:
            os.rename(staging, directory)
        except OSError:
            if self.ready(tenant, artifact) is None:
                raise
        return directory
