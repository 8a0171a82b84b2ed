"""Dynamic batching: concurrent requests for one model become one model call."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from services.common import tracing
from services.common.errors import DeadlineExceeded, ResourceExhausted
from services.inference.metrics import BatchObserver

# One model call on a batch; the model decides where it runs (see LoadedModel.call).
CallBatch = Callable[[dict[str, np.ndarray]], Awaitable[dict[str, np.ndarray]]]


def _shape_key(inputs: dict[str, np.ndarray]) -> tuple:
    """What must agree for requests to share a batch: every input's dimensions after the batch
    (a model with variable dimensions gets requests of several shapes) and its dtype."""
    return tuple((name, array.shape[1:], array.dtype.str) for name, array in inputs.items())


def _same_shape(inputs: dict[str, np.ndarray]) -> tuple:
    return ()


@dataclass
class _Pending:
    inputs: dict[str, np.ndarray]
    rows: int
    deadline: float | None
    shape_key: tuple
    enqueued: float = field(default_factory=time.monotonic)
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    # While tracing is on: the request's "batch wait" span and its caller's trace context.
    waiting: tracing.Waiting | None = None


class DynamicBatcher:
    """Gathers requests up to `max_batch_size` rows or `max_queue_delay`, makes one model call,
    and splits the results. Every input is concatenated along its first (batch) dimension;
    only requests whose other dimensions agree share a call, the others wait for the next in
    arrival order. The queue is bounded; expired requests are dropped before they run.

    The queue is a deque and an event, woken when the first request arrives or a batch is full,
    with one timer per batch: no task or timeout object per request on the hot path."""

    def __init__(
        self,
        call: CallBatch,
        max_batch_size: int,
        max_queue_delay: float,
        capacity: int,
        observer: BatchObserver | None = None,
        variable_shapes: bool = True,
    ) -> None:
        self._call = call
        # With no variable dimension after the batch, every checked request has the same shape.
        self._shape_key = _shape_key if variable_shapes else _same_shape
        self._observer = observer
        self._max_rows = max_batch_size
        self._delay = max_queue_delay
        self._capacity = capacity
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="dynamic-batcher")

    async def infer(self, inputs: dict[str, np.ndarray], deadline: float | None) -> dict[str, np.ndarray]:
        if len(self._queue) >= self._capacity:
            raise ResourceExhausted("the model's request queue is full; retry with backoff")
        pending = _Pending(inputs, next(iter(inputs.values())).shape[0], deadline, self._shape_key(inputs))
        if tracing.tracer is not None:
            pending.waiting = tracing.start_waiting("batch wait")
        self._queue.append(pending)
        self._queued_rows += pending.rows
        if len(self._queue) == 1 or self._queued_rows >= self._max_rows:
            self._wake.set()
        return await pending.future

    async def close(self) -> None:
        self._task.cancel()
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(ResourceExhausted("the model was unloaded; retry"))
        # Once its task has ended nothing refers to the model any more, so its memory can go.
        await asyncio.gather(self._task, return_exceptions=True)

    async def _gather(self) -> list[_Pending]:
        """Wait for a first request, then for the batch to fill or its delay to pass; take it."""
        loop = asyncio.get_running_loop()
        while not self._queue:
            self._wake.clear()
            await self._wake.wait()
        # The delay runs from when gathering starts: under load, requests that queued while the
        # last batch ran are joined by the ones arriving now, so model calls stay large.
        flush_at = time.monotonic() + self._delay
        while self._queued_rows < self._max_rows and (remaining := flush_at - time.monotonic()) > 0:
            self._wake.clear()
            timer = loop.call_later(remaining, self._wake.set)
            await self._wake.wait()
            timer.cancel()
        batch = [self._queue.popleft()]
        rows = batch[0].rows
        key = batch[0].shape_key
        if all(p.shape_key == key for p in self._queue):  # the usual case: one shape
            while self._queue and rows + self._queue[0].rows <= self._max_rows:
                batch.append(self._queue.popleft())
                rows += batch[-1].rows
        else:
            kept: deque[_Pending] = deque()
            while self._queue:
                pending = self._queue.popleft()
                if pending.shape_key == key and rows + pending.rows <= self._max_rows:
                    batch.append(pending)
                    rows += pending.rows
                else:
                    kept.append(pending)
            self._queue = kept
        self._queued_rows -= rows
        return batch

    async def _loop(self) -> None:
        while True:
            batch = await self._gather()
            now = time.monotonic()
            live = []
            for pending in batch:
                if pending.waiting is not None:
                    pending.waiting.span.end()
                if pending.future.done():
                    continue  # the caller went away
                if pending.deadline is not None and pending.deadline <= now:
                    pending.future.set_exception(DeadlineExceeded("the deadline passed while the request was queued"))
                    continue
                live.append(pending)
            if not live:
                continue
            if self._observer is not None:
                self._observer.batch(sum(p.rows for p in live), [now - p.enqueued for p in live])
            try:
                if len(live) == 1:
                    inputs = live[0].inputs
                else:
                    inputs = {name: np.concatenate([p.inputs[name] for p in live]) for name in live[0].inputs}
                if live[0].waiting is None:
                    outputs = await self._call(inputs)
                else:
                    # The model call is a span of the first request's trace, linked to the others'.
                    outputs = await tracing.call_batched([p.waiting for p in live], self._call, inputs)
            except Exception as error:  # noqa: BLE001 - the callers get the error, the loop goes on
                for pending in live:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            start = 0
            for pending in live:
                end = start + pending.rows
                if not pending.future.done():
                    pending.future.set_result({name: value[start:end] for name, value in outputs.items()})
                start = end
