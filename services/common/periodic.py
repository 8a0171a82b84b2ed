"""Work repeated every period in a server's event loop: usage reports, session purges, billing rounds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any


async def every(period: float, work: Callable[[], Awaitable[object]], log: Any, failed: str) -> None:
    """Run `work` every `period` seconds, a period first (it starts with its server, beside the
    peers it may need); a round that raises is logged as `failed` and the next one runs anyway."""
    while True:
        await asyncio.sleep(period)
        try:
            await work()
        except Exception:  # a database or peer blip: the next round tries again
            log.exception(failed)


class Periodic:
    """`every` as a server's companion: started with the server (not at all when `period` is 0
    or less), cancelled by `stop()`."""

    needs_loopback = False

    def __init__(self, period: float, work: Callable[[], Awaitable[object]], log: Any, failed: str) -> None:
        self.period = period
        self._work, self._log, self._failed = work, log, failed
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.period > 0:
            self._task = asyncio.create_task(every(self.period, self._work, self._log, self._failed))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
