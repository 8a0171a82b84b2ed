"""Authentication of the admin API's callers: API keys looked up in the gateway's own store."""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog

from services.common.credentials import Principal, api_key_id, secret_from_metadata
from services.common.errors import Unauthenticated
from services.gateway.cache import SharedTtlCache
from services.gateway.key_use import KeyUseRecorder
from services.gateway.metrics import AuthMetrics
from services.gateway.store import GatewayStore


class Authenticator:
    """Resolves keys to principals with a short cache, so a revocation applies within `ttl` seconds."""

    def __init__(
        self,
        store: GatewayStore,
        ttl: float,
        metrics: AuthMetrics | None = None,
        key_uses: KeyUseRecorder | None = None,
    ) -> None:
        self._metrics = metrics
        self._key_uses = key_uses
        self._principals: SharedTtlCache[str, Principal | None] = SharedTtlCache(
            lambda secret: asyncio.to_thread(store.find_principal, secret), ttl
        )

    async def authenticate(self, metadata) -> Principal:
        # The call's log line names the key's tenant (none until a key is valid), never the one a
        # client claims in `x-maas-tenant`, which the interceptor bound when the call began.
        structlog.contextvars.bind_contextvars(tenant=None)
        secret = secret_from_metadata(metadata)
        if not secret:
            raise self.refused("missing_key", "missing API key: send 'authorization: Bearer <api key>'")
        principal = await self._principals.get(secret)
        if principal is None:
            raise self.refused("unknown_key", "invalid or revoked API key")
        if principal.expire_time is not None and principal.expire_time <= dt.datetime.now(dt.UTC):
            raise self.refused("expired_key", "the API key has expired")
        structlog.contextvars.bind_contextvars(tenant=principal.tenant)
        key_id = api_key_id(principal)
        if self._key_uses is not None and key_id is not None:  # a key, not a console session
            self._key_uses.note(key_id)
        return principal

    def refused(self, reason: str, message: str) -> Unauthenticated:
        """The error refusing a caller, counted by `reason` (one of metrics.AUTH_FAILURE_REASONS)."""
        if self._metrics is not None:
            self._metrics.failed(reason)
        return Unauthenticated(message)
