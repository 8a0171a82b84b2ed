"""Gateway process: admin API, authentication and the byte-level proxy to the backends."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry

from services.common import db
from services.common.clients import PeerChannels, balanced, read_retries
from services.common.credentials import SERVICE_KEY, ServiceVerifier, service_token
from services.common.interceptors import request_id_var
from services.common.metadata import REQUEST_ID_KEY, TENANT_KEY
from services.common.server import GrpcServer, ServiceBinding, run_service
from services.common.tls import ssl_context
from services.gateway.accounts import Accounts, Throttle
from services.gateway.auth import Authenticator
from services.gateway.config import GatewaySettings
from services.gateway.invoicing import BillingCycle, Invoicer
from services.gateway.key_use import KeyUseRecorder
from services.gateway.metrics import AuthMetrics
from services.gateway.proxy import ProxyHandler
from services.gateway.quota import BackendUsage, LeaseBook
from services.gateway.reflection import reflection_pool
from services.gateway.rest.app import RestGateway
from services.gateway.routes import REGISTRY_SERVICE, TRAINER_SERVICE, build_routes, routed_services
from services.gateway.servicer import ADMIN_SERVICE, AdminServicer, register
from services.gateway.session_purge import SessionPurger
from services.gateway.store import GatewayStore, new_secret

log = structlog.get_logger("maas.gateway")
# Inference may be several replicas: its calls are spread and retried (clients.balanced). The
# registry's and trainer's reads (unary methods of the read scope, from the descriptors) change
# nothing, so one that a restarting backend answered UNAVAILABLE is retried with backoff (random, 5.5 s
# in all at most), within a retry budget; writes are never retried. The channels reconnect within a
# second of a backend coming back, so a retry finds it.
_READ_RETRIES = (
    *read_retries(REGISTRY_SERVICE, TRAINER_SERVICE),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


def _served_by(backend: str) -> list[str]:
    return [service for service, served_by in routed_services().items() if served_by == backend]


def _http_tls(settings: GatewaySettings):
    """The HTTP port's TLS: its own (public) certificate when set, else the gRPC port's."""
    if settings.http_tls_cert_file is not None:
        return ssl_context(settings.http_tls_cert_file, settings.http_tls_key_file, None)
    return ssl_context(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)


def _ensure_admin_key(store: GatewayStore, settings: GatewaySettings) -> None:
    if settings.admin_key:
        store.ensure_admin_key(settings.admin_key)
    elif not store.has_admin_key():
        secret = new_secret()
        store.ensure_admin_key(secret)
        # Shown once, on the first start; only its hash is kept.
        print(f"MaaS admin key (shown once, store it safely): {secret}", file=sys.stderr, flush=True)


def _accounts(store: GatewayStore, settings: GatewaySettings) -> Accounts:
    return Accounts(
        store.accounts,
        registration_enabled=settings.registration_enabled,
        plan=f"plans/{settings.registration_plan}",
        session_ttl=dt.timedelta(hours=settings.session_hours),
        invitation_ttl=dt.timedelta(hours=settings.invitation_hours),
        throttle=Throttle(
            settings.login_max_failures,
            dt.timedelta(seconds=settings.login_lockout_seconds),
            settings.login_max_failures_per_address,
        ),
        scrypt_n=settings.password_scrypt_n,
    )


async def build_server(settings: GatewaySettings) -> GrpcServer:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.db_url)
    db.migrate(engine, "gateway", Path(__file__).parent / "migrations")
    store = GatewayStore(engine, dt.timedelta(minutes=settings.session_idle_minutes))
    _ensure_admin_key(store, settings)
    metrics = CollectorRegistry()
    key_uses = KeyUseRecorder(store, settings.key_use_flush_seconds)
    authenticator = Authenticator(store, settings.key_cache_seconds, AuthMetrics(metrics), key_uses)
    accounts = _accounts(store, settings)
    peers = PeerChannels(settings, (settings.backend_ca_file, settings.backend_cert_file, settings.backend_key_file))
    channels = {
        "registry": peers.aio(settings.registry_addr, *_READ_RETRIES),
        "trainer": peers.aio(settings.trainer_addr, *_READ_RETRIES),
        "inference": peers.aio(settings.inference_addr, *balanced(*_served_by("inference"))),
    }
    identity = ((SERVICE_KEY, service_token(settings.service_secret, "gateway")),) if settings.service_secret else ()

    def acting_for(tenant: str) -> tuple[tuple[str, str], ...]:
        return (*identity, (TENANT_KEY, tenant), (REQUEST_ID_KEY, request_id_var.get()))

    backend_usage = BackendUsage(channels["trainer"], channels["registry"], acting_for)

    async def close() -> None:
        await key_uses.flush()  # the uses of calls answered while the server drained
        for channel in channels.values():
            await channel.close()
        engine.dispose()

    routes = build_routes()
    routed = sorted({method.split("/")[1] for method in routes})
    draining = asyncio.Event()
    invoicer = Invoicer(store, audit=accounts.audit)
    admin = AdminServicer(
        store,
        authenticator,
        backend_usage,
        LeaseBook(store),
        ServiceVerifier(settings.service_secret),
        report_wait=settings.usage_report_seconds + 0.1,
        draining=draining,
        accounts=accounts,
        invoicer=invoicer,
        key_uses=key_uses,
    )
    billing_cycle = BillingCycle(invoicer, store, backend_usage, settings.billing_cycle_seconds)
    server = GrpcServer(
        settings=settings,
        draining=draining,
        bindings=[ServiceBinding(register, admin, ADMIN_SERVICE.full_name)],
        registry=metrics,
        generic_handlers=[ProxyHandler(routes, channels)],
        on_stop=[close],
        reflected_services=routed,
        reflection_pool=reflection_pool([ADMIN_SERVICE.full_name, *routed]),
    )
    purger = SessionPurger(store.accounts, settings.session_purge_seconds)
    if settings.http_port >= 0:
        server.companions = [
            RestGateway(
                settings.bind_host,
                settings.http_port,
                lambda: server.loopback_target,
                peers.loopback,
                settings.max_message_bytes,
                _http_tls(settings),
                accounts,
                admin.notify_changed,
                settings.public_grpc_address,
            ),
            purger,  # after the HTTP server: `companions[0]` is the HTTP port
            billing_cycle,
            key_uses,
        ]
    else:
        server.companions = [purger, billing_cycle, key_uses]
    return server


def main() -> None:
    run_service(GatewaySettings(), build_server)
