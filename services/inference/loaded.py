"""One model version in memory: its signature, the runtime that computes it, its batcher and
its statistics; and where its calls run (on the event loop or a thread)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from maas.registry.v1 import registry_pb2 as rpb
from services.common import tracing
from services.inference.batcher import DynamicBatcher
from services.inference.config import InferenceSettings
from services.inference.memory import ModelKey
from services.inference.metrics import BatchObserver
from services.inference.runtimes import ModelRuntime, disagreement
from services.inference.signature import ModelSignature


class LoadedModel:
    def __init__(
        self,
        key: ModelKey,
        version: rpb.ModelVersion,
        signature: ModelSignature,
        runtime: ModelRuntime,
        directory: Path,
        settings: InferenceSettings,
        executor: ThreadPoolExecutor,
        observer: BatchObserver,
    ) -> None:
        self.key = key
        self.version = version
        self.signature = signature
        self.inputs = signature.inputs
        self.outputs = signature.outputs
        self.size_bytes = version.artifact_size_bytes
        # The training data's per-feature bins, which served inputs are compared with (drift).
        self.reference = version.reference_statistics if version.reference_statistics.features else None
        self.runtime = runtime
        # The SavedModel on local disk, which a faster runtime is converted from.
        self.directory = directory
        self.statistics = observer.statistics
        # The background switch to a faster runtime, if one was tried (see RuntimeSwitch).
        self.upgrade: asyncio.Task | None = None
        # A model without a batch dimension is called once per request, as it is.
        self.batched = signature.batched
        self.max_batch_size = settings.max_batch_size if settings.batching and self.batched else 0
        self._executor = executor
        self._observer = observer
        self._inline_max_seconds = settings.inline_call_max_ms / 1000
        self.on_event_loop = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._batcher = (
            DynamicBatcher(
                self.call,
                settings.max_batch_size,
                settings.max_queue_delay_ms / 1000,
                settings.queue_capacity,
                observer,
                variable_shapes=any(-1 in spec.shape[1:] for spec in signature.inputs.values()),
            )
            if self.max_batch_size
            else None
        )

    def probe_inputs(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """A full batch of inputs: zeros, or seeded random values for comparing runtimes."""
        return self.signature.probe_inputs(self.max_batch_size or 1, seed)

    async def warm_up(self) -> float:
        """Warm the runtime (the first call traces and allocates; no request should pay for that),
        then time a call of the largest batch and choose where calls run: a call on a thread costs
        a hand-off of Python's GIL with the event loop, which for a small model costs more than the
        call, so calls that fast run on the loop itself. Returns the timed call's seconds."""
        inputs = self.probe_inputs()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.runtime, inputs)
        started = time.perf_counter()
        await loop.run_in_executor(self._executor, self.runtime, inputs)
        elapsed = time.perf_counter() - started
        self.on_event_loop = elapsed <= self._inline_max_seconds
        return elapsed

    async def adopt(self, candidate: ModelRuntime) -> str | None:
        """Switch to `candidate` if it computes what the current runtime does on a probe batch
        (which also warms it). Returns why not, or None once switched."""
        inputs = self.probe_inputs(seed=0)
        loop = asyncio.get_running_loop()
        expected = await loop.run_in_executor(self._executor, self.runtime, inputs)
        try:
            got = await loop.run_in_executor(self._executor, candidate, inputs)
        except Exception as error:  # noqa: BLE001 - a candidate that cannot run is not adopted
            return f"the converted model failed on the probe batch: {error}"
        reason = disagreement(expected, got)
        if reason is None:
            self.runtime = candidate
            await self.warm_up()  # times the new runtime, to choose again where its calls run
        return reason

    async def call(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One model call, on the event loop or a thread as `warm_up` chose."""
        started = time.perf_counter()
        with tracing.span("model call", model=self.key.model, version=self.key.version):
            if self.on_event_loop:
                outputs = self.runtime(inputs)
            else:
                outputs = await asyncio.get_running_loop().run_in_executor(self._executor, self.runtime, inputs)
        self.statistics.model_call(self.rows(inputs), time.perf_counter() - started)
        return outputs

    def rows(self, inputs: dict[str, np.ndarray]) -> int:
        """Rows in a request: its batch size, or 1 for a model without a batch dimension."""
        return next(iter(inputs.values())).shape[0] if self.batched else 1

    async def infer(self, inputs: dict[str, np.ndarray], deadline: float | None) -> dict[str, np.ndarray]:
        self._in_flight += 1
        try:
            if self._batcher is not None:
                return await self._batcher.infer(inputs, deadline)
            self._observer.batch(self.rows(inputs), [0.0])
            return await self.call(inputs)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    @property
    def idle(self) -> bool:
        """No request is running on this version."""
        return self._in_flight == 0

    async def drained(self) -> None:
        """Wait until no request is running on this version."""
        while self._in_flight:
            self._idle.clear()
            await self._idle.wait()

    async def close(self) -> None:
        if self.upgrade is not None:
            self.upgrade.cancel()
        if self._batcher is not None:
            await self._batcher.close()
