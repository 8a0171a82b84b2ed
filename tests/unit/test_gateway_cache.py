"""SharedTtlCache: one load for concurrent misses, expiry, failures not kept, cancellation."""

import asyncio

import pytest

from services.gateway.cache import SharedTtlCache


class Loader:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.release = asyncio.Event()

    async def __call__(self, key: str) -> str:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("backend down")
        return f"{key}-{self.calls}"


@pytest.mark.asyncio
async def test_concurrent_misses_share_one_load_and_the_answer_is_kept():
    load = Loader()
    cache = SharedTtlCache(load, ttl=60)
    waiting = [asyncio.create_task(cache.get("k")) for _ in range(64)]
    await asyncio.sleep(0)
    load.release.set()
    assert set(await asyncio.gather(*waiting)) == {"k-1"}
    assert await cache.get("k") == "k-1" and load.calls == 1
    assert await cache.get("k", fresh=True) == "k-2"


@pytest.mark.asyncio
async def test_expired_answers_are_loaded_again():
    load = Loader()
    load.release.set()
    cache = SharedTtlCache(load, ttl=0.01)
    assert await cache.get("k") == "k-1"
    await asyncio.sleep(0.02)
    assert await cache.get("k") == "k-2"


@pytest.mark.asyncio
async def test_a_failed_load_is_not_kept():
    load = Loader(fail=True)
    load.release.set()
    cache = SharedTtlCache(load, ttl=60)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await cache.get("k")
    assert load.calls == 2
    load.fail = False
    assert await cache.get("k") == "k-3"


@pytest.mark.asyncio
async def test_one_caller_cancelled_does_not_cancel_the_others():
    load = Loader()
    cache = SharedTtlCache(load, ttl=60)
    first, second = asyncio.create_task(cache.get("k")), asyncio.create_task(cache.get("k"))
    await asyncio.sleep(0)
    first.cancel()
    load.release.set()
    assert await second == "k-1"
    assert load.calls == 1
