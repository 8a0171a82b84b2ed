"""Dynamic batching: concurrent requests for one model become one model call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from services.common.errors import DeadlineExceeded, ResourceExhausted
from services.inference.metrics import BatchObserver

RunBatch = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass
class _Pending:
    inputs: dict[str, np.ndarray]
    rows: int
    deadline: float | None
    enqueued: float = field(default_factory=time.monotonic)
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class DynamicBatcher:
    """Gathers requests up to `max_batch_size` rows or `max_queue_delay`, runs one call off the
    event loop, and splits the results. The queue is bounded; expired requests are dropped
    before they run."""

    def __init__(
        self,
        run: RunBatch,
        executor: Executor,
        max_batch_size: int,
        max_queue_delay: float,
        capacity: int,
        observer: BatchObserver | None = None,
    ) -> None:
        self._run = run
        self._observer = observer
        self._executor = executor
        self._max_rows = max_batch_size
        self._delay = max_queue_delay
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=capacity)
        self._task = asyncio.create_task(self._loop(), name="dynamic-batcher")

    async def infer(self, inputs: dict[str, np.ndarray], deadline: float | None) -> dict[str, np.ndarray]:
        rows = next(iter(inputs.values())).shape[0]
        pending = _Pending(inputs, rows, deadline)
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise ResourceExhausted("the model's request queue is full; retry with backoff") from None
        return await pending.future

    async def close(self) -> None:
        self._task.cancel()
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(ResourceExhausted("the model was unloaded; retry"))

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            rows = batch[0].rows
            flush_at = time.monotonic() + self._delay
            while rows < self._max_rows:
                if self._queue.empty():
                    remaining = flush_at - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    item = self._queue.get_nowait()
                batch.append(item)
                rows += item.rows
            now = time.monotonic()
            live = []
            for pending in batch:
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
                outputs = await loop.run_in_executor(self._executor, self._run, inputs)
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
