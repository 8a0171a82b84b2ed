"""Gateway process: admin API, authentication and the byte-level proxy to the backends."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path

import structlog

from services.common import db
from services.common.clients import read_retries
from services.common.credentials import SERVICE_KEY, ServiceVerifier, service_token
from services.common.interceptors import request_id_var
from services.common.metadata import REQUEST_ID_KEY, TENANT_KEY
from services.common.server import GrpcServer, ServiceBinding, run_service
from services.common.tls import open_channel, ssl_context
from services.gateway.accounts import Accounts, Throttle
from services.gateway.auth import Authenticator
from services.gateway.config import GatewaySettings
from services.gateway.invoicing import BillingCycle, Invoicer
from services.gateway.proxy import ProxyHandler
from services.gateway.quota import BackendUsage, LeaseBook
from services.gateway.reflection import reflection_pool
from services.gateway.rest.app import RestGateway
from services.gateway.routes import REGISTRY_SERVICE, TRAINER_SERVICE, build_routes
from services.gateway.servicer import ADMIN_SERVICE, AdminServicer, register
from services.gateway.session_purge import SessionPurger
from services.gateway.store import GatewayStore, new_secret

log = structlog.get_logger("maas.gateway")
# Inference may be several replicas (a headless Service resolved with dns:///, or a list such as
# ipv4:10.0.0.1:50054,10.0.0.2:50054): spread calls over every address round robin, skip replicas
# whose health check is not SERVING, and retry inference calls (they change nothing) that a dying
# replica answered UNAVAILABLE, within a retry budget so retries cannot swamp the survivors.
_BALANCED = [
    ("grpc.enable_retries", 1),
    (
        "grpc.service_config",
        json.dumps(
            {
                "loadBalancingConfig": [{"round_robin": {}}],
                "healthCheckConfig": {"serviceName": ""},
                "methodConfig": [
                    {
                        "name": [
                            {"service": "inference.GRPCInferenceService"},
                            {"service": "tensorflow.serving.PredictionService"},
                            {"service": "tensorflow.serving.ModelService"},
                        ],
                        "retryPolicy": {
                            "maxAttempts": 5,
                            "initialBackoff": "0.05s",
                            "maxBackoff": "0.5s",
                            "backoffMultiplier": 2,
                            "retryableStatusCodes": ["UNAVAILABLE"],
                        },
                    }
                ],
                # The retry budget: each failure takes a token, each success gives back 0.1, and
                # retries stop below half the tokens; 200 absorbs a replica's share of 64 in flight.
                "retryThrottling": {"maxTokens": 200, "tokenRatio": 0.1},
            }
        ),
    ),
]

# The registry's and trainer's reads (unary methods of the read scope, from the descriptors) change
# nothing, so one that a restarting backend answered UNAVAILABLE is retried with backoff (random, 5.5 s
# in all at most), within a retry budget; writes are never retried. The channels reconnect within a
# second of a backend coming back, so a retry finds it.
_READ_RETRIES = [
    *read_retries(REGISTRY_SERVICE, TRAINER_SERVICE),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


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
        throttle=Throttle(settings.login_max_failures, dt.timedelta(seconds=settings.login_lockout_seconds)),
        scrypt_n=settings.password_scrypt_n,
    )


async def build_server(settings: GatewaySettings) -> GrpcServer:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.db_url)
    db.migrate(engine, "gateway", Path(__file__).parent / "migrations")
    store = GatewayStore(engine, dt.timedelta(minutes=settings.session_idle_minutes))
    _ensure_admin_key(store, settings)
    authenticator = Authenticator(store, settings.key_cache_seconds)
    accounts = _accounts(store, settings)
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]
    tls = (settings.backend_ca_file, settings.backend_cert_file, settings.backend_key_file)
    channels = {
        "registry": open_channel(settings.registry_addr, [*options, *_READ_RETRIES], *tls),
        "trainer": open_channel(settings.trainer_addr, [*options, *_READ_RETRIES], *tls),
        "inference": open_channel(settings.inference_addr, [*options, *_BALANCED], *tls),
    }
    identity = ((SERVICE_KEY, service_token(settings.service_secret, "gateway")),) if settings.service_secret else ()

    def acting_for(tenant: str) -> tuple[tuple[str, str], ...]:
        return (*identity, (TENANT_KEY, tenant), (REQUEST_ID_KEY, request_id_var.get()))

    backend_usage = BackendUsage(channels["trainer"], channels["registry"], acting_for)

    async def close() -> None:
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
    )
    billing_cycle = BillingCycle(invoicer, store, backend_usage, settings.billing_cycle_seconds)
    server = GrpcServer(
        settings=settings,
        draining=draining,
        bindings=[ServiceBinding(register, admin, ADMIN_SERVICE.full_name)],
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
                settings.max_message_bytes,
                _http_tls(settings),
                accounts,
                admin.notify_changed,
                settings.public_grpc_address,
            ),
            purger,  # after the HTTP server: `companions[0]` is the HTTP port
            billing_cycle,
        ]
    else:
        server.companions = [purger, billing_cycle]
    return server


def main() -> None:
    run_service(GatewaySettings(), build_server)
