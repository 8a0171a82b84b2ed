"""Authentication (API key from metadata) and authorisation (scopes) at the gateway."""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog

from maas.api.v1 import annotations_pb2 as api_pb
from services.common.errors import PermissionDenied, Unauthenticated
from services.gateway.cache import SharedTtlCache
from services.gateway.store import GatewayStore, Principal


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


class Authenticator:
    """Resolves keys to principals with a short cache, so a revocation applies within `ttl` seconds."""

    def __init__(self, store: GatewayStore, ttl: float) -> None:
        self._principals: SharedTtlCache[str, Principal | None] = SharedTtlCache(
            lambda secret: asyncio.to_thread(store.find_principal, secret), ttl
        )

    async def authenticate(self, metadata) -> Principal:
        # The call's log line names the key's tenant (none until a key is valid), never the one a
        # client claims in `x-maas-tenant`, which the interceptor bound when the call began.
        structlog.contextvars.bind_contextvars(tenant=None)
        secret = secret_from_metadata(metadata)
        if not secret:
            raise Unauthenticated("missing API key: send 'authorization: Bearer <api key>'")
        principal = await self._principals.get(secret)
        if principal is None:
            raise Unauthenticated("invalid or revoked API key")
        if principal.expire_time is not None and principal.expire_time <= dt.datetime.now(dt.UTC):
            raise Unauthenticated("the API key has expired")
        structlog.contextvars.bind_contextvars(tenant=principal.tenant)
        return principal


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
