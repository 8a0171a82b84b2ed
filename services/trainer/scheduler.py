"""The job scheduler: claims jobs from the queue with leases and runs each in its own process.

A job process that crashes, runs out of memory or is cancelled takes only itself down. A
worker that dies stops renewing its leases, and the claim query hands those jobs to another.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass

import structlog

from maas.trainer.v1 import trainer_pb2 as pb
from services.trainer.config import WAIT_FOR_JOB, TrainerSettings
from services.trainer.kube import KubernetesLauncher, KubernetesRun
from services.trainer.metrics import TrainerMetrics
from services.trainer.store import JobStore

log = structlog.get_logger("maas.trainer.scheduler")
State = pb.TrainingJob.State
# Time a cancelled job process gets to exit on SIGTERM before SIGKILL.
CANCEL_GRACE_SECONDS = 3.0
# A job process started ahead that ended before it was given a job is restarted after this long at the earliest.
SPARE_RESTART_SECONDS = 30.0


@dataclass
class RunningJob:
    job_id: str
    process: asyncio.subprocess.Process | KubernetesRun
    started: float
    cancelling: bool = False
    over_memory: bool = False


class JobScheduler:
    """Runs up to `slots` jobs at once, each as `python -m services.trainer.runner <job>` (or, with
    several workers, `python -m services.trainer.supervisor <job> <workers>`)."""

    def __init__(self, store: JobStore, settings: TrainerSettings, slots: int, metrics: TrainerMetrics) -> None:
        self.store = store
        self.metrics = metrics
        self.settings = settings
        self.slots = slots
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.running: dict[str, RunningJob] = {}
        # Multi-worker jobs as pods (services.trainer.kube) instead of local processes.
        self.kubernetes = KubernetesLauncher(settings) if settings.job_launcher == "kubernetes" else None
        self._task: asyncio.Task | None = None
        self._stopping = False
        # A job process started ahead (TensorFlow imported), waiting on its stdin for a job id.
        self._spare: asyncio.subprocess.Process | None = None
        self._spare_started = 0.0
        # Set when a job process ends, so that its slot is refilled without waiting for a tick.
        self._wake = asyncio.Event()
        self._watchers: set[asyncio.Task] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="trainer-worker-pool")

    async def stop(self) -> None:
        """Stop claiming; jobs still running are stopped and left for another worker to resume."""
        self._stopping = True
        if self._spare is not None:
            _signal(self._spare, signal.SIGKILL)  # it holds nothing yet
        for job in self.running.values():
            _signal(job.process, signal.SIGTERM)
        for job in list(self.running.values()):
            try:
                await asyncio.wait_for(job.process.wait(), CANCEL_GRACE_SECONDS)
            except TimeoutError:
                _signal(job.process, signal.SIGKILL)
        if self._task:
            self._task.cancel()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._tick()
            except Exception:
                log.exception("worker tick failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)

    async def _tick(self) -> None:
        for job in list(self.running.values()):
            if job.process.returncode is not None:
                await self._reap(job)
                continue
            self._check_memory(job)
            cancel = await asyncio.to_thread(self.store.renew, job.job_id, self.worker_id, self.settings.lease_seconds)
            if cancel and not job.cancelling:
                job.cancelling = True
                log.info("cancelling job", job=job.job_id)
                _signal(job.process, signal.SIGTERM)
                asyncio.get_running_loop().call_later(CANCEL_GRACE_SECONDS, _signal, job.process, signal.SIGKILL)
        while len(self.running) < self.slots and not self._stopping:
            claimed = await asyncio.to_thread(
                self.store.claim,
                self.worker_id,
                self.settings.lease_seconds,
                self.settings.max_attempts,
                self.settings.max_jobs_per_tenant,
            )
            if claimed is None:
                break
            job_id = claimed.name.split("/")[1]
            waited = claimed.start_time.ToDatetime(dt.UTC) - claimed.create_time.ToDatetime(dt.UTC)
            if claimed.attempt == 1:
                self.metrics.queue_wait.observe(max(0.0, waited.total_seconds()))
            workers = claimed.spec.resources.workers
            if workers > 1 and self.kubernetes is not None:
                try:
                    process = await self.kubernetes.launch(claimed)
                except Exception as error:
                    log.exception("could not create the training pods", job=job_id)
                    reason = f"could not create the training pods ({type(error).__name__}); trying again"
                    await asyncio.to_thread(self.store.requeue, job_id, reason)
                    continue
            elif workers <= 1 and (process := await self._hand_to_spare(job_id)) is not None:
                pass
            else:
                # A multi-worker job runs as a supervisor of its worker processes (services.trainer.supervisor).
                command = (
                    ("services.trainer.supervisor", job_id, str(workers))
                    if workers > 1
                    else ("services.trainer.runner", job_id)
                )
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", *command, env=_job_environment(self.settings.service_secret)
                )
            self.running[job_id] = RunningJob(job_id, process, time.monotonic())
            watcher = asyncio.create_task(self._wake_on_exit(process))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)
            log.info("job started", job=job_id, attempt=claimed.attempt, pid=process.pid)
        await self._keep_spare()

    async def _wake_on_exit(self, process: asyncio.subprocess.Process | KubernetesRun) -> None:
        if isinstance(process, asyncio.subprocess.Process):
            await process.wait()
            self._wake.set()

    def _check_memory(self, job: RunningJob) -> None:
        """Kill a job process whose resident memory is over `job_memory_limit_bytes`, as the
        out-of-memory killer of a pod's cgroup would (its job is requeued like one killed so)."""
        limit = self.settings.job_memory_limit_bytes
        if not limit or job.over_memory or not isinstance(job.process, asyncio.subprocess.Process):
            return
        used = resident_bytes(job.process.pid)
        if used > limit:
            job.over_memory = True
            log.warning("job process over its memory limit; killing it", job=job.job_id, rss=used, limit=limit)
            _signal(job.process, signal.SIGKILL)

    async def _keep_spare(self) -> None:
        """While a slot is free, keep a job process started ahead (one that died is restarted at
        most every SPARE_RESTART_SECONDS). Not while every slot is busy: its start-up would take
        CPU from the jobs running, and it could not run a job before one of them ends."""
        if not self.settings.warm_job_process or self._stopping or len(self.running) >= self.slots:
            return
        if self._spare is not None and self._spare.returncode is None:
            return
        if self._spare is not None:
            if time.monotonic() - self._spare_started < SPARE_RESTART_SECONDS:
                return
            log.warning("the job process started ahead ended", exit_code=self._spare.returncode)
        self._spare_started = time.monotonic()
        self._spare = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.trainer.runner",
            WAIT_FOR_JOB,
            stdin=asyncio.subprocess.PIPE,
            env=_job_environment(self.settings.service_secret),
        )

    async def _hand_to_spare(self, job_id: str) -> asyncio.subprocess.Process | None:
        """Give the job to the process started ahead, if one is alive; None otherwise."""
        spare, self._spare = self._spare, None
        if spare is None or spare.returncode is not None or spare.stdin is None:
            return None
        try:
            spare.stdin.write(f"{job_id}\n".encode())
            await spare.stdin.drain()
            spare.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            return None
        return spare

    async def _reap(self, job: RunningJob) -> None:
        del self.running[job.job_id]
        code = job.process.returncode
        outcome = "cancelled" if job.cancelling else "exited" if code == 0 else "crashed"
        self.metrics.job_seconds.labels(outcome).observe(time.monotonic() - job.started)
        if job.cancelling:
            await asyncio.to_thread(self.store.finish, job.job_id, State.STATE_CANCELLED, "cancelled by the user")
        elif code != 0:
            # Killed (the out-of-memory killer sends SIGKILL) or crashed: try again from the last
            # checkpoint; the claim fails the job once its attempts are used up.
            if job.over_memory:
                cause = f"used more than its memory limit ({self.settings.job_memory_limit_bytes >> 20} MiB)"
            else:
                cause = "was killed (out of memory?)" if code == -signal.SIGKILL else f"exited with code {code}"
            reason = f"the training process {cause}; resuming from the last checkpoint"
            await asyncio.to_thread(self.store.requeue, job.job_id, reason)
        log.info("job process ended", job=job.job_id, exit_code=code)


def resident_bytes(pid: int) -> int:
    """A process's resident memory (VmRSS), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _signal(process: asyncio.subprocess.Process | KubernetesRun, sig: int) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
            process.send_signal(sig)


def _job_environment(service_secret: str) -> dict[str, str]:
    env = os.environ.copy()
    # The job registers its model as the trainer, acting for the job's tenant.
    if service_secret:
        env["MAAS_SERVICE_SECRET"] = service_secret
    # The job process ends itself if this worker dies, so a job never runs twice at once.
    env["MAAS_WORKER_PID"] = str(os.getpid())
    # TensorFlow's C++ start-up chatter is noise in the job's logs.
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env
