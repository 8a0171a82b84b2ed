"""The one bootstrap of every service: gRPC server with health, reflection, interceptors,
a /metrics endpoint and a defined shutdown order on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import grpc
import structlog
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from services.common.interceptors import ObservabilityInterceptor
from services.common.logging import configure_logging
from services.common.metrics import GrpcServerMetrics, serve_metrics
from services.common.ports import report_bound_ports
from services.common.reflection import STANDARD_SERVICES, reflection_pool
from services.common.settings import ServiceSettings
from services.common.tls import server_credentials
from services.common.tracing import configure_tracing, shutdown_tracing

log = structlog.get_logger("maas.server")


@dataclass
class ServiceBinding:
    """A servicer and how to register it: the generated `add_..._to_server` and its full service name."""

    # The generated `add_..._to_server` functions are untyped: any servicer of the service fits.
    register: Callable[[Any, grpc.aio.Server], None]
    servicer: Any
    service_name: str


class Gate(Protocol):
    """What the server needs of `services.common.gate.Gate`: started with it, stopped after it."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Companion(Protocol):
    """Something served beside the gRPC server (the gateway's HTTP server): started once gRPC
    listens, stopped as soon as draining begins; one that listens is also `Listening`."""

    async def start(self) -> object: ...

    async def stop(self) -> None: ...


@runtime_checkable
class Listening(Protocol):
    """A companion that listens: the ports it bound, by the name of their setting."""

    @property
    def bound_ports(self) -> Mapping[str, int]: ...


@dataclass
class GrpcServer:
    """A gRPC server with the platform's standard parts; `start()` then `wait()` or `stop()`."""

    settings: ServiceSettings
    bindings: Sequence[ServiceBinding]
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    generic_handlers: Sequence[grpc.GenericRpcHandler] = ()
    # Called after the server stopped taking calls: close stores, stop workers.
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()
    # When False, the service itself calls `set_serving()` once it can really answer.
    serving_on_start: bool = True
    companions: Sequence[Companion] = ()
    # Let several processes bind the same port (SO_REUSEPORT) and the kernel spread connections.
    reuse_port: bool = False
    # Services reflection lists besides the bound ones (the gateway's routed services), and the
    # descriptor pool that holds them all (built from this process's generated code when None).
    reflected_services: Sequence[str] = ()
    reflection_pool: descriptor_pool.DescriptorPool | None = None
    # Authenticates, limits and meters every call to the service's own methods (`services.common.gate`).
    gate: Gate | None = None
    # Set when the drain begins: handlers of endless streams (watches) end on it, so that a drain
    # does not wait the whole grace for them; their clients reconnect to another replica.
    draining: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.health = health.aio.HealthServicer()  # pyright: ignore[reportAttributeAccessIssue] - set on import
        self.metrics = GrpcServerMetrics(self.registry)
        self.port = 0
        self.metrics_port = 0
        self.health_port = 0
        # A plaintext port on loopback for in-process companions when the public port speaks TLS.
        self.loopback_port = 0
        self._stopped = asyncio.Event()
        self._server: grpc.aio.Server | None = None
        self._health_server: grpc.aio.Server | None = None
        self._metrics_server = None

    @property
    def service_names(self) -> list[str]:
        return [b.service_name for b in self.bindings]

    async def start(self) -> int:
        limit = self.settings.max_message_bytes
        server = grpc.aio.server(
            interceptors=[ObservabilityInterceptor(self.metrics, self.settings.log_successful_calls, self.gate)],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", int(self.reuse_port)),
            ],
        )
        for binding in self.bindings:
            binding.register(binding.servicer, server)
        if self.generic_handlers:
            server.add_generic_rpc_handlers(tuple(self.generic_handlers))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflected = [*self.service_names, *self.reflected_services]
        pool = self.reflection_pool or reflection_pool(reflected)
        reflection.enable_server_reflection([*reflected, *STANDARD_SERVICES], server, pool=pool)
        address = f"{self.settings.bind_host}:{self.settings.grpc_port}"
        settings = self.settings
        credentials = server_credentials(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)
        if credentials is None:
            self.port = server.add_insecure_port(address)
            if settings.bind_host in ("0.0.0.0", "::", "[::]", "127.0.0.1", "localhost"):
                self.loopback_port = self.port
        else:
            self.port = server.add_secure_port(address, credentials)
        if self.port == 0:
            raise RuntimeError(f"could not bind {address}")
        if settings.unix_socket is not None and not server.add_insecure_port(f"unix:{settings.unix_socket}"):
            raise RuntimeError(f"could not bind the Unix socket {settings.unix_socket}")
        if any(getattr(c, "needs_loopback", True) for c in self.companions) and not self.loopback_port:
            self.loopback_port = server.add_insecure_port("127.0.0.1:0")
        # The library's servicer answers SERVING for "" from the start; not until we say so.
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.start()
        self._server = server
        if self.settings.health_port >= 0:
            # The same health states, nothing else: probes see what clients would.
            self._health_server = grpc.aio.server()
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
            health_address = f"{self.settings.bind_host}:{self.settings.health_port}"
            self.health_port = self._health_server.add_insecure_port(health_address)
            await self._health_server.start()
        if self.gate is not None:
            self.gate.start()
        if self.settings.prometheus_port >= 0:
            self._metrics_server = serve_metrics(self.settings.bind_host, self.settings.prometheus_port, self.registry)
            self.metrics_port = self._metrics_server.server_port
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if self.serving_on_start
            else (health_pb2.HealthCheckResponse.NOT_SERVING)
        )
        # Companions first: the health check says SERVING only once everything serves.
        for companion in self.companions:
            await companion.start()
        await self._set_all(status)
        log.info("started", tls=credentials is not None, services=self.service_names, **self.bound_ports)
        report_bound_ports(self.bound_ports)
        return self.port

    @property
    def bound_ports(self) -> dict[str, int]:
        """The ports this server listens on, by the name of their setting (`port`, `metrics_port`,
        `health_port`, the gateway's `http_port`): with 0 in the settings, the ones the kernel chose."""
        ports = {"port": self.port}
        if self._metrics_server is not None:
            ports["metrics_port"] = self.metrics_port
        if self._health_server is not None:
            ports["health_port"] = self.health_port
        for companion in self.companions:
            if isinstance(companion, Listening):
                ports.update(companion.bound_ports)
        return ports

    @property
    def loopback_target(self) -> str:
        return f"127.0.0.1:{self.loopback_port}"

    async def set_serving(self, serving: bool = True) -> None:
        await self._set_all(
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )

    async def _set_all(self, status: int) -> None:
        for name in ["", *self.service_names]:
            await self.health.set(name, status)

    async def stop(self, grace: float | None = None) -> None:
        """Health to NOT_SERVING, drain in-flight calls, then run the stop hooks."""
        if self._server is None or self._stopped.is_set():
            return
        await self.health.enter_graceful_shutdown()
        self.draining.set()
        for companion in self.companions:
            await companion.stop()
        grace = self.settings.grace_seconds if grace is None else grace
        log.info("draining", grace_seconds=grace)
        await self._server.stop(grace)
        if self._health_server is not None:
            await self._health_server.stop(0)
        if self.gate is not None:
            await self.gate.stop()  # the last usage report, and leases given back
        for hook in self.on_stop:
            await hook()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        self._stopped.set()
        log.info("stopped")

    async def wait(self) -> None:
        await self._stopped.wait()

    async def run_until_signalled(self, on_started: Callable[[GrpcServer], object] | None = None) -> None:
        """Start, serve until SIGTERM or SIGINT, then stop gracefully."""
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop_requested.set)
        if self._server is None:
            await self.start()
        if on_started is not None:
            on_started(self)
        await stop_requested.wait()
        log.info("signal received")
        await self.stop()


_Settings = TypeVar("_Settings", bound=ServiceSettings)


def run_service(
    settings: _Settings,
    build: Callable[[_Settings], Awaitable[GrpcServer]],
    on_started: Callable[[GrpcServer], object] | None = None,
) -> None:
    """Entry point of a service process: logging, tracing (`OTEL_*`), build, serve until SIGTERM, drain."""
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    configure_tracing(f"maas-{settings.service_name}")

    async def serve() -> None:
        server = await build(settings)
        await server.run_until_signalled(on_started)

    try:
        asyncio.run(serve())
    finally:
        shutdown_tracing()  # the last spans out to the collector
