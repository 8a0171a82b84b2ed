"""Registry settings (`MAAS_*` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    service_name: str = "registry"
    default_port: int = 50052
    default_metrics_port: int = 9102

    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite under data_dir when empty.")
    artifact_dir: Path | None = Field(default=None, description="Artifact root; data_dir/artifacts when unset.")
    max_artifact_bytes: int = Field(default=4 * 1024**3, description="Largest artifact or dataset accepted.")
    chunk_bytes: int = Field(default=1024 * 1024, description="Chunk size of artifact downloads.")

    @property
    def db_url(self) -> str:
        return self.database_url or self.sqlite_url("registry")

    @property
    def artifact_root(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"
