"""Inference settings (`MAAS_*` environment variables)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from services.common.settings import ServiceSettings


class InferenceSettings(ServiceSettings):
    service_name: str = "inference"
    default_port: int = 50054
    default_metrics_port: int = 9104

    # Thousands of predictions a second: a line for each would cost a fifth of the throughput;
    # failed and slow calls are still logged, and the metrics count every call.
    log_successful_calls: bool = False
    registry_addr: str = Field(default="127.0.0.1:50052", description="host:port of the registry.")
    cache_dir: Path | None = Field(default=None, description="Local model cache; data_dir/model-cache when unset.")
    memory_budget_bytes: int = Field(
        default=4 * 1024**3, description="Models kept loaded up to this estimated size; least recently used go first."
    )
    validation_timeout_seconds: float = Field(
        default=300, gt=0, description="Longest the sandbox may take to validate an uploaded model version."
    )
    validation_max_bytes: int = Field(
        default=16 * 1024**3, gt=0, description="Largest file the validation sandbox may write (a converted model)."
    )
    batching: bool = Field(default=True, description="Gather concurrent requests into one model call.")
    max_batch_size: int = Field(default=64, description="Most rows in one batched model call.")
    max_queue_delay_ms: float = Field(default=2.0, description="Longest a request waits for others to join a batch.")
    queue_capacity: int = Field(default=2048, description="Requests waiting per model before RESOURCE_EXHAUSTED.")
    inline_call_max_ms: float = Field(
        default=1.0,
        ge=0,
        description="Models whose full-batch call takes at most this (measured at load) run on the event loop "
        "rather than a thread: no GIL hand-off, but the loop waits for each call; 0 = always a thread.",
    )
    runtime: Literal["auto", "savedmodel"] = Field(
        default="auto",
        description="auto: on CPU, a model whose signature converts to LiteRT and gives the same outputs on a "
        "probe batch moves there after loading (far less overhead per call); savedmodel: always TensorFlow.",
    )
    device: Literal["cpu", "gpu", "auto"] = Field(
        default="cpu", description="cpu (default), gpu (fail without one) or auto (a GPU when there is one)."
    )
    gpu_memory_growth: bool = Field(default=True, description="Take GPU memory as models need it, not all at once.")
    gpu_memory_limit_mb: int = Field(default=0, ge=0, description="Cap on GPU memory per GPU; 0 = no cap.")
    intra_op_threads: int = Field(default=0, ge=0, description="TensorFlow threads within one op; 0 = its default.")
    inter_op_threads: int = Field(default=0, ge=0, description="TensorFlow ops run at once; 0 = its default.")
    shadow_max_in_flight: int = Field(
        default=64, ge=1, description="Mirrored (shadow) requests running at once; more are dropped and counted."
    )
    idle_unload_seconds: float = Field(
        default=0,
        ge=0,
        description="Unload a model version not called for this long and return its memory; 0 = never. "
        "The next call loads it again (concurrent callers wait for that one load).",
    )
    drift_sample_percent: float = Field(
        default=10, ge=0, le=100, description="Percent of requests whose rows are kept for drift; 0 = no drift scores."
    )
    drift_interval_seconds: float = Field(default=60, gt=0, description="How often drift scores are computed.")
    drift_window_rows: int = Field(default=5000, ge=100, description="Latest sampled rows per version scored.")
    payload_log_batch_rows: int = Field(default=1000, ge=1, description="Sampled requests per payload log file.")
    payload_log_flush_seconds: float = Field(
        default=60, gt=0, description="A payload log batch is written at least this often, full or not."
    )
    rollout_check_seconds: float = Field(
        default=1.0, gt=0, description="How often the rollout controller judges the steps of running rollouts."
    )
    workers: int = Field(
        default=1,
        ge=0,
        description="Processes serving the port together (SO_REUSEPORT), each with its own models; 0 = one per core.",
    )
    # Set on the extra worker processes; worker i serves /metrics on the metrics port + i (each
    # on any free port when the metrics port is 0).
    worker_index: int = Field(default=0, ge=0)

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def prometheus_port(self) -> int:
        port = super().prometheus_port
        return port + self.worker_index if port > 0 else port

    @property
    def model_cache(self) -> Path:
        return self.cache_dir or self.data_dir / "model-cache"
