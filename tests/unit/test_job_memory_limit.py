"""The trainer's memory limit on a job process (MAAS_JOB_MEMORY_LIMIT_BYTES), on real processes:
one over the limit is killed and marked so its requeue names the limit; one under it is left."""

import asyncio
import signal
import sys
import time

import pytest

from services.trainer.config import TrainerSettings
from services.trainer.scheduler import JobScheduler, RunningJob, resident_bytes

# Holds `size` bytes it has written (so resident), says so, then waits.
HOLD = "import time; block = b'x' * {size}; print(flush=True); time.sleep(60)"


async def _job(size: int) -> RunningJob:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD.format(size=size), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), 30)  # its memory is touched
    return RunningJob("job-test", process, time.monotonic())


@pytest.mark.asyncio
async def test_a_job_process_over_the_memory_limit_is_killed_and_one_under_it_is_not(tmp_path):
    pool = JobScheduler(None, TrainerSettings(data_dir=tmp_path, job_memory_limit_bytes=200 << 20), 1, None)  # type: ignore[arg-type]
    big, small = await _job(300 << 20), await _job(1 << 20)
    try:
        assert resident_bytes(big.process.pid) > 300 << 20
        pool._check_memory(big)
        pool._check_memory(small)
        assert big.over_memory and not small.over_memory
        assert await asyncio.wait_for(big.process.wait(), 10) == -signal.SIGKILL
        assert small.process.returncode is None
    finally:
        for job in (big, small):
            if job.process.returncode is None:
                job.process.kill()
                await job.process.wait()
    assert resident_bytes(big.process.pid) == 0
