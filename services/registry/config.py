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
    artifact_store: str = Field(default="filesystem", description="filesystem or s3.")
    s3_bucket: str = Field(default="", description="Bucket for artifacts when artifact_store is s3.")
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket, e.g. maas/.")
    s3_endpoint_url: str = Field(default="", description="S3-compatible endpoint (MinIO, Ceph); AWS when empty.")
    s3_region: str = Field(default="", description="Region of the bucket; credentials come from AWS_* variables.")
    max_artifact_bytes: int = Field(default=4 * 1024**3, description="Largest artifact or dataset accepted.")
    upload_keep_hours: float = Field(
        default=24, gt=0, description="How long the bytes of a broken-off resumable upload wait to be resumed."
    )
    chunk_bytes: int = Field(default=1024 * 1024, description="Chunk size of artifact downloads.")

    @property
    def db_url(self) -> str:
        return self.database_url or self.sqlite_url("registry")

    @property
    def artifact_root(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"
