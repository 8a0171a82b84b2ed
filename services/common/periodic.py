"""Work repeated every period in a server's event loop: usage reports, session purges, billing rounds."""

from __future__ import annotations

import asyncio
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
