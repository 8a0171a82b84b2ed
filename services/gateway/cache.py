"""A short-lived cache of answers that concurrent callers share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedTtlCache(Generic[K, V]):
    """Keeps `load(key)`'s answer for `ttl` seconds. Callers that miss the same key at the same
    time share one load, so an expiry under load costs one lookup, not one per call in flight;
    a failed load is not kept, the next caller loads again."""

    def __init__(self, load: Callable[[K], Awaitable[V]], ttl: float, max_entries: int = 10_000) -> None:
        self._load = load
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, asyncio.Future[V]]] = {}

    async def get(self, key: K, fresh: bool = False) -> V:
        """The answer, from the cache unless it is older than the TTL or `fresh` is asked for."""
        entry = self._entries.get(key)
        if fresh or entry is None or entry[0] < time.monotonic():
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            entry = self._entries[key] = (time.monotonic() + self._ttl, asyncio.ensure_future(self._load(key)))
        future = entry[1]
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()  # the common case, without a shield and an await
        try:
            # Shielded: one caller giving up (its client cancelled) must not cancel the others' answer.
            return await asyncio.shield(future)
        except Exception:
            if self._entries.get(key) is entry:
                del self._entries[key]
            raise
