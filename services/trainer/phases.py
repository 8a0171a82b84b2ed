"""Where a job's time goes: seconds per phase (start-up, data, fit, checkpoints, evaluation,
export, upload and registration), logged as one event at the end of the job so that a user (and
`bench.training`) can see them. Plain Python; no TensorFlow."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# The line's prefix, which bench.training looks for.
PREFIX = "time by phase: "
# The line a job logs before it with the most resident memory its process used.
PEAK_MEMORY = "peak resident memory of the job process: "


class Phases:
    """Seconds per phase; a phase timed inside another is not counted in the outer one, so the
    phases add up to the time measured."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = clock
        self._nested: list[float] = []

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        self.seconds.setdefault(name, 0.0)  # listed in the order the phases began
        started = self._clock()
        self._nested.append(0.0)
        try:
            yield
        finally:
            elapsed = self._clock() - started
            self.add(name, elapsed - self._nested.pop())
            if self._nested:
                self._nested[-1] += elapsed

    def summary(self) -> str:
        return PREFIX + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items())


def parse(message: str) -> dict[str, float] | None:
    """The phases of a `summary()` line, or None for any other line."""
    if not message.startswith(PREFIX):
        return None
    phases = {}
    for part in message.removeprefix(PREFIX).split(", "):
        name, _, seconds = part.rpartition(" ")[0].rpartition(" ")
        phases[name] = float(seconds)
    return phases
