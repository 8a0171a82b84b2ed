"""The multi-worker supervisor: a job's N worker processes and their `TF_CONFIG`, without TensorFlow.

A job with `resources.workers` N > 1 runs as N cooperating job processes under TensorFlow's
`MultiWorkerMirroredStrategy`, each told its place by `TF_CONFIG`; task 0 is the chief, the only
one that writes checkpoints, reports epochs, exports and registers. Locally the job scheduler
starts `python -m services.trainer.supervisor <job> <N>`, which starts the N job processes on
loopback ports and watches them: one that dies takes the others down, so the attempt ends and
is retried from the last checkpoint instead of the survivors waiting on a dead peer. In
Kubernetes the N processes are the pods of an Indexed Job (`services.trainer.kube`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import structlog

from services.common.logging import configure_logging
from services.common.process import die_with_parent
from services.trainer.config import TrainerSettings

log = structlog.get_logger("maas.trainer.supervisor")
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Task:
    """This process's place in a multi-worker job."""

    index: int
    workers: int

    @property
    def chief(self) -> bool:
        return self.index == 0


def tf_config(hosts: list[str], index: int | str) -> str:
    """`TF_CONFIG` for worker `index` of a cluster whose workers listen on `hosts` (host:port).
    `index` may be a reference that Kubernetes expands in the pod (`$(MAAS_TASK_INDEX)`)."""
    if not hosts or (isinstance(index, int) and not 0 <= index < len(hosts)):
        raise ValueError(f"worker index {index} outside a cluster of {len(hosts)}")
    workers = json.dumps(list(hosts))
    return f'{{"cluster": {{"worker": {workers}}}, "task": {{"type": "worker", "index": {index}}}}}'


def task_from_environment() -> Task | None:
    """This process's task from `TF_CONFIG`, or None for a single-worker job."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    config = json.loads(text)
    return Task(index=int(config["task"]["index"]), workers=len(config["cluster"]["worker"]))


def loopback_hosts(count: int) -> list[str]:
    """`count` free loopback addresses. The ports are free when chosen; TensorFlow binds them a
    moment later, and a port taken in between fails the attempt, which is then retried."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)  # held until all are chosen, so no port is picked twice
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def supervise(job_id: str, workers: int) -> int:
    """Run the job's `workers` processes on loopback ports until the chief ends, or until another
    fails; returns this process's exit code (0 when the chief ended well). A worker that meets a
    failure the chief reports too (bad data, a model that does not build) exits 0 and is waited
    out; one that crashes fails the attempt at once rather than leave the others blocked."""
    hosts = loopback_hosts(workers)
    processes = []
    for index in range(workers):
        env = {**os.environ, "TF_CONFIG": tf_config(hosts, index), "MAAS_WORKER_PID": str(os.getpid())}
        processes.append(subprocess.Popen([sys.executable, "-m", "services.trainer.runner", job_id], env=env))
    log.info("workers started", workers=workers, pids=[p.pid for p in processes])
    chief = processes[0]
    try:
        while chief.poll() is None:
            for index, process in enumerate(processes[1:], start=1):
                if process.poll() not in (None, 0):
                    log.warning("a worker failed", worker=index, exit_code=process.returncode)
                    return 1
            time.sleep(POLL_SECONDS)
        log.info("chief ended", exit_code=chief.returncode)
        return 0 if chief.returncode == 0 else 1
    finally:
        # Peers still running after the chief ended have nothing left to do, or wait on a collective
        # that will never come; a chief still running after a peer failed waits on one.
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def die_with_worker() -> None:
    """End this process when the worker that started it dies, so that a job whose worker was
    killed never keeps running beside the attempt that resumes it."""
    die_with_parent(signal.SIGKILL, int(os.environ.get("MAAS_WORKER_PID", "0")))


def main() -> None:
    die_with_worker()
    settings = TrainerSettings()
    configure_logging("trainer-job", settings.log_level, settings.log_format)
    structlog.contextvars.bind_contextvars(job=sys.argv[1])
    sys.exit(supervise(sys.argv[1], int(sys.argv[2])))


if __name__ == "__main__":
    main()
