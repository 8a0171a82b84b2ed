"""The local stack: the four services as separate processes, as `maas up` runs them."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICES = ("registry", "trainer", "inference", "gateway")
DEFAULT_PORTS = {
    "gateway": (50051, 9101),
    "registry": (50052, 9102),
    "trainer": (50053, 9103),
    "inference": (50054, 9104),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_key_for(data_dir: Path) -> str:
    """MAAS_ADMIN_KEY, else the key kept in the data dir, else a new one (saved there, mode 0600)."""
    if os.environ.get("MAAS_ADMIN_KEY"):
        return os.environ["MAAS_ADMIN_KEY"]
    path = data_dir / "admin-key"
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "maas_admin_" + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def wait_serving(address: str, timeout: float) -> bool:
    """Poll the standard health check until SERVING or timeout."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)  # pyright: ignore[reportAttributeAccessIssue]
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    return False


@dataclass
class LocalStack:
    data_dir: Path
    ports: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    # The gateway's HTTP port: REST twin, KServe v2 REST, OpenAPI document and web console.
    http_port: int = 8080
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, data_dir: Path, **kwargs) -> LocalStack:
        return cls(data_dir, {name: (free_port(), free_port()) for name in SERVICES}, free_port(), **kwargs)

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service][0]}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service][1]}/metrics"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def admin_key(self) -> str:
        return self.extra_env.get("MAAS_ADMIN_KEY") or admin_key_for(self.data_dir)

    def _environment(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
        env.update(
            MAAS_DATA_DIR=str(self.data_dir.resolve()),
            MAAS_PORT=str(self.ports[service][0]),
            MAAS_METRICS_PORT=str(self.ports[service][1]),
            MAAS_REGISTRY_ADDR=self.address("registry"),
            MAAS_TRAINER_ADDR=self.address("trainer"),
            MAAS_INFERENCE_ADDR=self.address("inference"),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        if service == "gateway":
            env["MAAS_ADMIN_KEY"] = self.admin_key
            env["MAAS_HTTP_PORT"] = str(self.http_port)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in SERVICES:
            log_file = (self.log_dir / f"{service}.log").open("ab")
            self.processes[service] = subprocess.Popen(
                [sys.executable, "-m", f"services.{service}"],
                env=self._environment(service),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log_file.close()
        for service in SERVICES:
            remaining = max(1.0, timeout)
            started = time.monotonic()
            while not wait_serving(self.address(service), min(2.0, remaining)):
                process = self.processes[service]
                if process.poll() is not None or time.monotonic() - started > timeout:
                    self.stop()
                    tail = self.log_tail(service)
                    raise RuntimeError(
                        f"{service} did not start (exit code {process.returncode}); "
                        f"log {self.log_dir / (service + '.log')}:\n{tail}"
                    )

    def log_tail(self, service: str, lines: int = 30) -> str:
        path = self.log_dir / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, grace: float = 15) -> dict[str, int | None]:
        """SIGTERM every service (they drain), then SIGKILL what is left after `grace` seconds."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                codes[name] = process.wait()
        self.processes.clear()
        return codes

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
