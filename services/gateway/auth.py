"""Authentication (API key from metadata) and authorisation (scopes) at the gateway."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from maas.api.v1 import annotations_pb2 as api_pb
from services.common.errors import PermissionDenied, Unauthenticated
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
        self._store = store
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, metadata) -> Principal:
        secret = secret_from_metadata(metadata)
        if not secret:
            raise Unauthenticated("missing API key: send 'authorization: Bearer <api key>'")
        now = time.monotonic()
        cached = self._cache.get(secret)
        if cached is None or cached[0] < now:
            principal = await asyncio.to_thread(self._store.find_principal, secret)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[secret] = (now + self._ttl, principal)
        else:
            principal = cached[1]
        if principal is None:
            raise Unauthenticated("invalid or revoked API key")
        if principal.expire_time is not None and principal.expire_time <= dt.datetime.now(dt.UTC):
            raise Unauthenticated("the API key has expired")
        return principal


def authorize(principal: Principal, scope: int, method: str) -> None:
    if scope not in principal.scopes:
        name = api_pb.Scope.Name(scope).removeprefix("SCOPE_").lower()
        raise PermissionDenied(f"the API key lacks the '{name}' scope needed for {method}")
    if scope != api_pb.Scope.SCOPE_ADMIN and principal.tenant is None:
        raise PermissionDenied(f"{method} acts inside a tenant: use a tenant's API key, not the admin key")
