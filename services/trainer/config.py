"""Trainer settings (`MAAS_*` environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import ServiceSettings

# The argument that makes `services.trainer.runner` start up, then wait for a job id on stdin.
WAIT_FOR_JOB = "--wait-for-job"


class TrainerSettings(ServiceSettings):
    service_name: str = "trainer"
    default_port: int = 50053
    default_metrics_port: int = 9103

    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite under data_dir when empty.")
    registry_addr: str = Field(default="127.0.0.1:50052", description="host:port of the registry.")
    local_workers: int = Field(
        default=1, description="Jobs this process runs at once; 0 serves the API only (workers run apart)."
    )
    lease_seconds: float = Field(default=30.0, description="A job's lease; another worker takes it over after.")
    poll_seconds: float = Field(default=0.5, description="How often workers look for jobs and cancellations.")
    warm_job_process: bool = Field(
        default=True,
        description="Keep one job process started ahead, TensorFlow imported, to run the next job claimed "
        "(single-worker jobs; a new one is started as each is handed a job).",
    )
    job_memory_limit_bytes: int = Field(
        default=0,
        ge=0,
        description="Resident memory a single-worker job process may use (checked every poll); above it the "
        "process is killed as the out-of-memory killer would. 0: no limit but the machine's or the pod's.",
    )
    max_attempts: int = Field(default=3, description="Starts of a job before it is failed for good.")
    max_jobs_per_tenant: int = Field(
        default=4, description="Jobs of one tenant running at once across all workers; 0 means no limit."
    )
    collective_timeout_seconds: float = Field(
        default=300.0,
        description="Multi-worker jobs: longest wait of a worker on its peers in one step (also while the chief "
        "saves a checkpoint) before the attempt fails and is retried.",
    )
    job_launcher: Literal["local", "kubernetes"] = Field(
        default="local",
        description="Where multi-worker jobs run: processes on this worker, or pods of an Indexed Job.",
    )
    kube_namespace: str = Field(
        default="", description="Kubernetes launcher: namespace of the training pods; empty for this pod's own."
    )
    pod_name: str = Field(
        default="",
        description="Kubernetes launcher: this worker's pod, whose image and environment the training pods "
        "reuse and which owns them; empty for the host name.",
    )

    @property
    def db_url(self) -> str:
        return self.database_url or self.sqlite_url("trainer")
