"""Per-version statistics in Triton's terms (`ModelStatistics`): requests that succeeded or
failed and their durations, time queued in the batcher, time in the model, and model calls by
batch size. Plain counters, updated on the event loop."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, seconds: float, count: int = 1) -> None:
        self.count += count
        self.ns += int(seconds * 1e9)


@dataclass
class VersionStatistics:
    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    # Rows answered (Triton's inference_count) and model calls made (execution_count).
    inference_count: int = 0
    execution_count: int = 0
    last_inference_ms: int = 0
    # batch size -> model calls of that size and their time.
    batches: dict[int, Duration] = field(default_factory=dict)

    def request(self, seconds: float, ok: bool, rows: int) -> None:
        (self.success if ok else self.fail).add(seconds)
        if ok:
            self.inference_count += rows
        self.last_inference_ms = int(time.time() * 1000)

    def queued(self, waits: list[float]) -> None:
        for wait in waits:
            self.queue.add(wait)

    def model_call(self, rows: int, seconds: float) -> None:
        self.execution_count += 1
        self.compute_infer.add(seconds)
        self.batches.setdefault(rows, Duration()).add(seconds)
