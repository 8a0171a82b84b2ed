"""How every service knows who calls it, without asking anyone on the hot path.

- API keys: the gateway owns them; each service holds a `KeyCache` (sha256 of the secret ->
  tenant, scopes, expiry, and every tenant's plan) that `CredentialWatch` keeps in sync over the
  gateway's `WatchCredentials` stream (a full snapshot on connect and on every change; the gateway
  looks for changes every half second, so a revoked key stops working within about a second).
- Service identities: the platform's own services call each other as themselves. Locally a
  service proves its name with a token derived from the per-deployment secret
  (`MAAS_SERVICE_SECRET`): `<name>.<hmac-sha256(secret, name)>`; with mTLS (`prod`) the client
  certificate's name does. What a service may do for a tenant is `access.PEER_GRANTS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass

import grpc
import structlog

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2 as pb
from maas.gateway.v1 import admin_pb2_grpc
from services.common.access import Access, peer_may
from services.common.errors import PermissionDenied, Unauthenticated, Unavailable
from services.common.metadata import TENANT_KEY

log = structlog.get_logger("maas.credentials")
SERVICE_KEY = "x-maas-service"
# Identities a service certificate or token may name. `operator` is the deployment's own tools
# (tests, benchmarks, scripts run by whoever holds the deployment secret): it may act for any tenant.
SERVICE_IDENTITIES = frozenset({"gateway", "registry", "trainer", "inference", "operator"})
ADMIN_TENANT = None
# How long a call made before the first snapshot arrived waits for it.
FIRST_SNAPSHOT_WAIT_SECONDS = 5.0


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def service_token(secret: str, identity: str) -> str:
    """The token by which `identity` proves itself to the other services of one deployment."""
    return f"{identity}.{hmac.new(secret.encode(), identity.encode(), hashlib.sha256).hexdigest()}"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant's key, the admin key (tenant None), or a user's console session
    (`user_id` and the user's `role` in the tenant set; the gateway alone sees those)."""

    key_id: str
    tenant: str | None
    scopes: frozenset[int]
    expire_time: dt.datetime | None
    user_id: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of the current call: the tenant it acts in, and either the key
    it used or the platform service acting for the tenant."""

    tenant: str | None
    principal: Principal | None = None
    service: str | None = None


caller_var: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("caller", default=None)


def secret_from_metadata(metadata) -> str | None:
    """`authorization: Bearer <key>` or `x-api-key: <key>`."""
    for key, value in metadata or ():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise Unauthenticated("authorization metadata must be 'Bearer <api key>'")
        if key == "x-api-key" and value.strip():
            return value.strip()
    return None


def authorize(principal: Principal, scope: int, method: str, *, in_tenant: bool | None = None) -> None:
    """The key needs the method's scope. Admin-scoped methods are the platform admin key's alone (they
    reach every tenant); a method that acts inside a tenant (by default, every other) needs a tenant's key."""
    admin = scope == api_pb.Scope.SCOPE_ADMIN
    if scope not in principal.scopes:
        name = api_pb.Scope.Name(scope).removeprefix("SCOPE_").lower()
        raise PermissionDenied(f"the API key lacks the '{name}' scope needed for {method}")
    if admin and principal.tenant is not None:
        raise PermissionDenied(f"{method} needs the platform's admin key; a tenant's key cannot use it")
    if (not admin if in_tenant is None else in_tenant) and principal.tenant is None:
        raise PermissionDenied(f"{method} acts inside a tenant: use a tenant's API key, not the admin key")


# A console session's principal's `key_id` (the gateway's and the services' alike): it is no API key.
SESSION_KEY_PREFIX = "session-"


def api_key_id(principal: Principal | None) -> str | None:
    """The id of the API key a principal is, or None (a console session, or no principal)."""
    if principal is None or principal.key_id.startswith(SESSION_KEY_PREFIX):
        return None
    return principal.key_id


def _principal(credential: pb.Credential) -> Principal:
    parent, _, ident = credential.name.rpartition("/")
    return Principal(
        SESSION_KEY_PREFIX + ident if parent.endswith("/sessions") else ident,
        credential.tenant or ADMIN_TENANT,
        frozenset(credential.scopes),
        credential.expire_time.ToDatetime(tzinfo=dt.UTC) if credential.HasField("expire_time") else None,
    )


class KeyCache:
    """The gateway's keys and plans as last sent; looked up in memory on every call. A key the
    snapshot lacks (created since) is asked of the gateway once (`LookupCredential`); an unknown
    one is remembered as unknown for `unknown_seconds`, so bad keys cost the gateway little."""

    def __init__(self, lookup=None, unknown_seconds: float = 1.0, max_unknown: int = 10_000) -> None:
        self._principals: dict[str, Principal] = {}
        self.plans: dict[str, pb.Plan] = {}
        self.loaded = asyncio.Event()
        self._lookup = lookup
        self._unknown: dict[str, float] = {}
        self._unknown_seconds = unknown_seconds
        self._max_unknown = max_unknown
        self._pending: dict[str, asyncio.Future] = {}

    def replace(self, snapshot: pb.CredentialSnapshot) -> None:
        self._principals = {c.secret_sha256: _principal(c) for c in snapshot.credentials}
        self.plans = dict(snapshot.plans)
        self._unknown.clear()
        self.loaded.set()

    async def principal(self, secret: str) -> Principal:
        if not self.loaded.is_set():
            # Just started (or restarted): the first snapshot is usually a moment away.
            try:
                await asyncio.wait_for(self.loaded.wait(), FIRST_SNAPSHOT_WAIT_SECONDS)
            except TimeoutError:
                raise Unavailable("credentials not loaded from the gateway yet; retry") from None
        digest = hash_secret(secret)
        principal = self._principals.get(digest)
        if principal is None:
            principal = await self._look_up(digest)
        if principal.expire_time is not None and principal.expire_time <= dt.datetime.now(dt.UTC):
            raise Unauthenticated("the API key has expired")
        return principal

    async def _look_up(self, digest: str) -> Principal:
        if self._lookup is None or self._unknown.get(digest, 0.0) > time.monotonic():
            raise Unauthenticated("invalid or revoked API key")
        pending = self._pending.get(digest)
        if pending is None:
            pending = self._pending[digest] = asyncio.ensure_future(self._lookup(digest))
            pending.add_done_callback(lambda _: self._pending.pop(digest, None))
        try:
            credential = await asyncio.shield(pending)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise Unavailable(f"cannot check the API key with the gateway ({error.code().name}); retry") from None
            if len(self._unknown) >= self._max_unknown:
                self._unknown.clear()
            self._unknown[digest] = time.monotonic() + self._unknown_seconds
            raise Unauthenticated("invalid or revoked API key") from None
        principal = self._principals[digest] = _principal(credential)
        if credential.tenant and credential.HasField("plan"):
            self.plans.setdefault(credential.tenant, credential.plan)
        return principal


class ServiceVerifier:
    """Names the platform service behind a call: its mTLS client certificate, else its token."""

    def __init__(self, secret: str) -> None:
        self._tokens = {service_token(secret, name): name for name in SERVICE_IDENTITIES} if secret else {}

    def identity(self, context: grpc.aio.ServicerContext, token: str | None) -> str | None:
        if token is not None:
            identity = self._tokens.get(token)
            if identity is None:
                raise Unauthenticated("unknown service token")
            return identity
        return certificate_identity(context)


def certificate_identity(context: grpc.aio.ServicerContext) -> str | None:
    """`maas-<service>` (or `<service>`) as the client certificate's first DNS name or common name."""
    auth = context.auth_context() or {}
    for key in ("x509_subject_alternative_name", "x509_common_name"):
        for value in auth.get(key, ()):
            name = value.decode() if isinstance(value, bytes) else value
            name = name.split(".", 1)[0].removeprefix("maas-")
            if name in SERVICE_IDENTITIES:
                return name
    return None


class CallerAuthenticator:
    """Authenticates every call a service serves: an API key (tenant and scopes from the gateway's
    credentials), or a platform service acting for a tenant as its grants allow. A tenant named
    in `x-maas-tenant` counts only from a service; a key's caller acts in the key's own tenant."""

    def __init__(self, keys: KeyCache, verifier: ServiceVerifier) -> None:
        self.keys = keys
        self._verifier = verifier

    async def authenticate(self, context: grpc.aio.ServicerContext, access: Access) -> Caller:
        token = tenant = None
        credentials = []
        for key, value in context.invocation_metadata() or ():
            if not isinstance(value, str):  # a `-bin` key: none of ours
                continue
            if key == SERVICE_KEY:
                token = value
            elif key == TENANT_KEY:
                tenant = value
            elif key in ("authorization", "x-api-key"):
                credentials.append((key, value))
        secret = secret_from_metadata(credentials) if credentials else None
        if secret is not None:
            principal = await self.keys.principal(secret)
            # Backends act inside a tenant, so an admin-scoped backend method (TF Serving's config
            # reload) is closed to every key: tenants' keys never hold the admin scope.
            if access.internal:
                raise PermissionDenied(f"{access.name} is for the platform's services only")
            authorize(principal, access.scope, access.name, in_tenant=True)
            return Caller(principal.tenant, principal)
        service = self._verifier.identity(context, token)
        if service is None:
            raise Unauthenticated("missing API key: send 'authorization: Bearer <api key>'")
        if not tenant:
            raise Unauthenticated(f"the {service} service called {access.name} for no tenant ({TENANT_KEY})")
        if service != "operator" and not peer_may(service, access):
            raise PermissionDenied(f"the {service} service may not call {access.name} for a tenant")
        return Caller(tenant, None, service)


class CredentialWatch:
    """Keeps a `KeyCache` in step with the gateway's `WatchCredentials` stream, reconnecting
    (every `retry_seconds`) when the gateway is away; the last snapshot stays in use meanwhile."""

    def __init__(self, channel: grpc.aio.Channel, metadata, keys: KeyCache, retry_seconds: float = 0.5) -> None:
        self._stub = admin_pb2_grpc.AdminServiceStub(channel)
        self._metadata = metadata
        self._keys = keys
        self._retry = retry_seconds
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="credential-watch")

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                async for snapshot in self._stub.WatchCredentials(
                    pb.WatchCredentialsRequest(), metadata=self._metadata
                ):
                    self._keys.replace(snapshot)
            except grpc.aio.AioRpcError as error:
                if time.monotonic() - started > 5 or error.code() != grpc.StatusCode.UNAVAILABLE:
                    log.warning("credential watch ended; reconnecting", code=error.code().name)
            await asyncio.sleep(self._retry)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
