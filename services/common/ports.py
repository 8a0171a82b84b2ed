"""The ports a server bound, told to whoever started it: a `bound ports` log event, and, when
`MAAS_PORTS_FILE` names a file, the same ports as JSON there (written to a temporary file, then
renamed, so that a reader never sees half of it). With port 0 ("any free port") in the settings,
this is how a parent process learns where the service listens."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import structlog

PORTS_FILE_ENV = "MAAS_PORTS_FILE"

log = structlog.get_logger("maas.ports")


def report_bound_ports(ports: Mapping[str, int], path: str | None = None) -> None:
    """Log `ports` (name to bound port, e.g. {"port": 50052, "metrics_port": 9102}) and write them
    to `path`, or to `$MAAS_PORTS_FILE` when `path` is None and the variable is set."""
    log.info("bound ports", **ports)
    target = os.environ.get(PORTS_FILE_ENV) if path is None else path
    if target:
        write_ports_file(Path(target), ports)


def write_ports_file(path: Path, ports: Mapping[str, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(ports), sort_keys=True) + "\n")
    tmp.replace(path)


def read_ports_file(path: Path) -> dict[str, int] | None:
    """The ports a server wrote to `path`, or None while it has not yet."""
    try:
        return {name: int(port) for name, port in json.loads(path.read_text()).items()}
    except FileNotFoundError:
        return None


def wait_ports_file(path: Path, process: subprocess.Popen, timeout: float) -> dict[str, int]:
    """The ports a child `process` started with `MAAS_PORTS_FILE=path` bound; RuntimeError if it
    exits first or writes nothing within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (ports := read_ports_file(path)) is None:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with code {process.returncode} before binding")
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {process.args!r} wrote no ports to {path} within {timeout} s")
        time.sleep(0.05)
    return ports
