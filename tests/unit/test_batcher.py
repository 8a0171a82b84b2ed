import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from services.common.errors import DeadlineExceeded, ResourceExhausted
from services.inference.batcher import DynamicBatcher


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[int] = []
        self.delay = delay

    def __call__(self, inputs):
        time.sleep(self.delay)
        self.batches.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}


def on_thread(run, executor):
    """A model call on the executor, as LoadedModel.call makes for slow models."""

    async def call(inputs):
        return await asyncio.get_running_loop().run_in_executor(executor, run, inputs)

    return call


@pytest.mark.asyncio
async def test_concurrent_requests_share_one_call_and_get_their_own_rows():
    run = Recorder()
    with ThreadPoolExecutor(1) as executor:
        batcher = DynamicBatcher(on_thread(run, executor), max_batch_size=64, max_queue_delay=0.05, capacity=100)
        results = await asyncio.gather(*(batcher.infer({"x": np.full((1, 2), i, np.float32)}, None) for i in range(8)))
        await batcher.close()
    assert run.batches == [8]
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result["y"], np.full((1, 2), 2 * i))


@pytest.mark.asyncio
async def test_batches_never_exceed_max_batch_size():
    run = Recorder()
    with ThreadPoolExecutor(1) as executor:
        batcher = DynamicBatcher(on_thread(run, executor), max_batch_size=4, max_queue_delay=0.01, capacity=100)
        await asyncio.gather(*(batcher.infer({"x": np.zeros((1, 2), np.float32)}, None) for _ in range(10)))
        await batcher.close()
    assert sum(run.batches) == 10 and max(run.batches) <= 4


@pytest.mark.asyncio
async def test_full_queue_is_resource_exhausted():
    run = Recorder(delay=0.2)
    with ThreadPoolExecutor(1) as executor:
        batcher = DynamicBatcher(on_thread(run, executor), max_batch_size=1, max_queue_delay=0, capacity=2)
        tasks = [asyncio.ensure_future(batcher.infer({"x": np.zeros((1, 1))}, None)) for _ in range(6)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.close()
    assert any(isinstance(r, ResourceExhausted) for r in results)
    assert any(isinstance(r, dict) for r in results)


@pytest.mark.asyncio
async def test_expired_requests_are_dropped_before_they_run():
    run = Recorder()
    with ThreadPoolExecutor(1) as executor:
        batcher = DynamicBatcher(on_thread(run, executor), max_batch_size=8, max_queue_delay=0.05, capacity=10)
        with pytest.raises(DeadlineExceeded):
            await batcher.infer({"x": np.zeros((1, 1))}, deadline=time.monotonic() - 1)
        await batcher.close()
    assert run.batches == []


@pytest.mark.asyncio
async def test_calls_made_on_the_event_loop_still_batch():
    run = Recorder()

    async def on_loop(inputs):
        return run(inputs)

    batcher = DynamicBatcher(on_loop, max_batch_size=64, max_queue_delay=0.05, capacity=100)
    results = await asyncio.gather(*(batcher.infer({"x": np.full((1, 2), i, np.float32)}, None) for i in range(5)))
    await batcher.close()
    assert run.batches == [5]
    assert [int(r["y"][0, 0]) for r in results] == [0, 2, 4, 6, 8]


@pytest.mark.asyncio
async def test_requests_batch_only_with_requests_of_the_same_other_dimensions():
    """A model with a variable second dimension (sequences) gets requests of several lengths:
    each call concatenates only those that agree, in arrival order, and every row comes back."""
    calls: list[tuple[int, ...]] = []

    async def call(inputs):
        calls.append(inputs["x"].shape)
        return {"y": inputs["x"].sum(axis=1), "z": inputs["w"] * 3}

    batcher = DynamicBatcher(call, max_batch_size=64, max_queue_delay=0.05, capacity=100)
    lengths = [2, 3, 2, 3, 2]
    requests = [{"x": np.full((1, n), i, np.float32), "w": np.full((1, 1), i, np.int64)} for i, n in enumerate(lengths)]
    results = await asyncio.gather(*(batcher.infer(r, None) for r in requests))
    await batcher.close()
    assert sorted(calls) == [(2, 3), (3, 2)]
    for i, (n, result) in enumerate(zip(lengths, results)):
        assert result["y"].tolist() == [i * n] and result["z"].tolist() == [[i * 3]]
