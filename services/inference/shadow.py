"""Shadow traffic: a copy of a request an alias mirrors is run on the shadow version after the
caller has the primary's answer, off the request path (a task nobody awaits), and only compared
with that answer: agreement, the candidate's latency and its errors become metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import structlog

from maas.registry.v1 import registry_pb2 as rpb
from services.common.errors import DomainError
from services.inference.codec import check_batch, check_tensor, datatype_of
from services.inference.loaded import LoadedModel
from services.inference.metrics import InferenceMetrics

log = structlog.get_logger("maas.inference.shadow")
# Regression answers agree when they are this close (numpy's isclose).
RTOL, ATOL = 1e-2, 1e-4


@dataclass(frozen=True)
class Comparison:
    rows: int
    disagreeing: int
    mean_abs_difference: float


def compare(primary: dict[str, np.ndarray], candidate: dict[str, np.ndarray], batched: bool) -> Comparison:
    """Compare the first output: class scores ([rows, classes], float) agree when their argmax
    does; anything else row by row within RTOL/ATOL (or equal, for strings)."""
    name = next(iter(primary))
    expected, got = primary[name], candidate.get(name)
    rows = expected.shape[0] if batched and expected.ndim else 1
    if got is None or got.shape != expected.shape:
        return Comparison(rows, rows, float("nan"))
    if expected.dtype.kind not in "fiub":
        same = (expected == got).reshape(rows, -1).all(axis=1)
        return Comparison(rows, int(rows - same.sum()), float("nan"))
    difference = float(np.mean(np.abs(expected.astype(np.float64) - got.astype(np.float64))))
    if expected.dtype.kind == "f" and expected.ndim == 2 and expected.shape[1] > 1 and batched:
        disagreeing = int((expected.argmax(axis=1) != got.argmax(axis=1)).sum())
    else:
        close = np.isclose(got, expected, rtol=RTOL, atol=ATOL).reshape(rows, -1).all(axis=1)
        disagreeing = int(rows - close.sum())
    return Comparison(rows, disagreeing, difference)


# (tenant, model, primary version, shadow version, code, seconds, comparison or None)
ShadowListener = Callable[[str, str, int, int, str, float, "Comparison | None"], None]


class ShadowMirror:
    """Runs mirrored requests in the background, at most `max_in_flight` at once (more are
    dropped and counted: a slow candidate must not pile up work beside the primary)."""

    def __init__(
        self,
        load: Callable[[str, str, rpb.ModelVersion], Awaitable[LoadedModel]],
        metrics: InferenceMetrics,
        max_in_flight: int,
    ) -> None:
        self._load = load
        self._metrics = metrics
        self._max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task] = set()
        self.listeners: list[ShadowListener] = []

    def mirror(
        self,
        primary: LoadedModel,
        shadow: rpb.ModelVersion,
        inputs: dict[str, np.ndarray],
        outputs: dict[str, np.ndarray],
    ) -> None:
        key = primary.key
        if len(self._tasks) >= self._max_in_flight:
            self._metrics.shadow_dropped.labels(key.tenant, key.model, str(shadow.version)).inc()
            return
        task = asyncio.create_task(self._run(primary, shadow, inputs, outputs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, primary: LoadedModel, shadow: rpb.ModelVersion, inputs, outputs) -> None:
        key = primary.key
        labels = (key.tenant, key.model, str(key.version), str(shadow.version))
        started = time.perf_counter()
        comparison = None
        try:
            candidate = await self._load(key.tenant, key.model, shadow)
            # The primary's inputs fit the primary; a candidate with another signature fails here,
            # as it would for a caller, not inside its runtime.
            check_batch(inputs, candidate.inputs, candidate.batched)
            for name, spec in candidate.inputs.items():
                check_tensor(f"inputs[{name}]", datatype_of(inputs[name].dtype) or "", inputs[name].shape, spec)
            got = await candidate.infer({name: inputs[name] for name in candidate.inputs}, None)
            code = "OK"
        except DomainError as error:
            code = error.code.name
        except Exception:
            log.exception("shadow request failed", model=key.model, shadow=shadow.version, tenant=key.tenant)
            code = "INTERNAL"
        seconds = time.perf_counter() - started
        metrics = self._metrics
        metrics.shadow_requests.labels(*labels, code).inc()
        if code == "OK":
            metrics.shadow_seconds.labels(*labels).observe(seconds)
            comparison = compare(outputs, got, primary.batched)
            metrics.shadow_rows.labels(*labels).inc(comparison.rows)
            metrics.shadow_disagreeing_rows.labels(*labels).inc(comparison.disagreeing)
            if comparison.mean_abs_difference == comparison.mean_abs_difference:  # not NaN
                metrics.shadow_abs_difference.labels(*labels).observe(comparison.mean_abs_difference)
        for listener in self.listeners:
            listener(key.tenant, key.model, key.version, shadow.version, code, seconds, comparison)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
