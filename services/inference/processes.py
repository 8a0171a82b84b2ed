"""The serving processes: extra inference processes on the same port.

One process's event loop runs on one core, and most of a prediction's cost is Python gRPC
work on that loop, so using more cores takes more processes: they bind the port together with
SO_REUSEPORT and the kernel spreads connections over them. Each loads its own models and follows
aliases on its own; the first process starts the others and stops them when it drains.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import structlog

log = structlog.get_logger("maas.inference.processes")


class ServingProcesses:
    """A `Companion` of the first process's server: starts `count - 1` more processes running
    `serve(index, port, ready)`, signals them to drain with it, and waits for them on stop. Each
    sends its bound ports over `ready` (a pipe) once it serves; their metrics ports are this
    companion's `bound_ports` (`worker_1_metrics_port`, ...), which the first process reports."""

    def __init__(self, count: int, port: Callable[[], int], serve: Callable[..., None], grace: float) -> None:
        self._count = count
        self._port = port
        self._serve = serve
        self._grace = grace
        # spawn, not fork: TensorFlow and gRPC hold threads that do not survive a fork.
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self.bound_ports: dict[str, int] = {}

    async def start(self) -> None:
        """Start the others and wait until each serves, so that SERVING means every worker does."""
        started = []
        for index in range(1, self._count):
            receiver, sender = self._context.Pipe(duplex=False)
            process = self._context.Process(
                target=self._serve, args=(index, self._port(), sender), name=f"inference-worker-{index}"
            )
            process.start()
            sender.close()  # the worker holds its end: a worker that dies closes the pipe
            self._processes.append(process)
            started.append((index, process, receiver))
        for index, process, receiver in started:
            while not await asyncio.to_thread(receiver.poll, 1.0):
                if not process.is_alive():
                    raise RuntimeError(f"{process.name} exited with code {process.exitcode} before serving")
            try:
                ports = receiver.recv()
            except EOFError:
                raise RuntimeError(f"{process.name} exited with code {process.exitcode} before serving") from None
            receiver.close()
            if "metrics_port" in ports:
                self.bound_ports[f"worker_{index}_metrics_port"] = ports["metrics_port"]
        log.info("worker processes serving", workers=self._count, pids=[p.pid for p in self._processes])

    async def stop(self) -> None:
        # SIGTERM now, so every process drains at the same time as this one.
        for process in self._processes:
            if process.is_alive():
                process.terminate()

    async def wait(self) -> None:
        def join() -> None:
            for process in self._processes:
                process.join(self._grace + 10)
                if process.is_alive():
                    process.kill()
                    process.join()

        await asyncio.to_thread(join)
        log.info("worker processes stopped", exit_codes=[p.exitcode for p in self._processes])
