"""Payload logging: the requests an alias samples (its `payload_log_percent`) are kept with their
outputs per version and day, and written in batches as Parquet files to the registry (an
artifact of the tenant and a payload-log record naming it), so the tenant reads them back with
the API it uses for any artifact. Batches are written off the request path; a batch the
registry refuses is dropped and counted, never retried into memory without bound."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Callable

import numpy as np
import structlog

from services.common.errors import DomainError
from services.common.interceptors import request_id_var
from services.inference.memory import ModelKey
from services.inference.metrics import InferenceMetrics
from services.inference.registry_client import RegistryClient

log = structlog.get_logger("maas.inference.payload_log")


def parquet_bytes(rows: list[tuple]) -> bytes:
    """A Parquet file of rows (time, request id, inputs, outputs): a list column per tensor."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list] = {
        "time": [r[0] for r in rows],
        "request_id": [r[1] for r in rows],
    }
    for index, prefix in ((2, "input"), (3, "output")):
        for name in rows[0][index]:
            columns[f"{prefix}.{name}"] = [r[index][name].ravel().tolist() for r in rows]
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer, compression="zstd")
    return buffer.getvalue()


class PayloadLogger:
    def __init__(
        self,
        registry: RegistryClient,
        metrics: InferenceMetrics,
        batch_rows: int,
        flush_seconds: float,
        run: Callable[..., asyncio.Future],
    ) -> None:
        self._registry = registry
        self._metrics = metrics
        self._batch_rows = batch_rows
        self._flush_seconds = flush_seconds
        self._run = run  # runs the Parquet encoding off the event loop
        self._batches: dict[tuple[ModelKey, str], list[tuple]] = {}
        self._writes: set[asyncio.Task] = set()
        self._timer: asyncio.Task | None = None

    def record(self, key: ModelKey, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
        """Keep one sampled request; a full batch is written at once, others on the timer."""
        when = dt.datetime.now(dt.UTC)
        batch = self._batches.setdefault((key, when.date().isoformat()), [])
        batch.append((when, request_id_var.get(), inputs, outputs))
        if len(batch) >= self._batch_rows:
            self._write(key, when.date().isoformat())
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._flush_on_timer(), name="payload-log")

    def _write(self, key: ModelKey, day: str) -> None:
        rows = self._batches.pop((key, day), None)
        if rows:
            task = asyncio.get_running_loop().create_task(self._send(key, day, rows))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _send(self, key: ModelKey, day: str, rows: list[tuple]) -> None:
        counter = self._metrics.payload_log_rows
        try:
            data = await self._run(parquet_bytes, rows)
            artifact = await self._registry.upload_artifact(key.tenant, data)
            await self._registry.create_payload_log(key.tenant, key.model, key.version, day, len(rows), artifact)
        except DomainError as error:
            log.warning("a payload log batch was dropped", model=key.model, rows=len(rows), error=error.message)
            counter.labels(key.tenant, key.model, "dropped").inc(len(rows))
            return
        counter.labels(key.tenant, key.model, "written").inc(len(rows))

    async def _flush_on_timer(self) -> None:
        while self._batches:
            await asyncio.sleep(self._flush_seconds)
            self.flush()

    def flush(self) -> None:
        """Write every batch now, whatever its size."""
        for key, day in list(self._batches):
            self._write(key, day)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.flush()
        await asyncio.gather(*self._writes, return_exceptions=True)
