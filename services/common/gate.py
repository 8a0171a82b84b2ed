"""The door of every backend service: each call is authenticated (`credentials`), limited and
metered (`metering`) in the service itself before its handler runs, by the method's entry in
`access`. Built from the service's settings; `GrpcServer` runs it inside its one interceptor."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc

from maas.gateway.v1 import admin_pb2, admin_pb2_grpc
from services.common.access import METHODS, Access, Quota
from services.common.clients import FAST_RECONNECT, PeerChannels, backend_metadata
from services.common.credentials import (
    SERVICE_KEY,
    Caller,
    CallerAuthenticator,
    CredentialWatch,
    KeyCache,
    ServiceVerifier,
    service_token,
)
from services.common.interceptors import request_id_var
from services.common.metadata import tenant_var
from services.common.metering import UsageLedger
from services.common.settings import ServiceSettings


class CallGate:
    def __init__(
        self,
        settings: ServiceSettings,
        local_figures: dict[Quota, Callable[[str], Awaitable[int]]] | None = None,
        methods: dict[str, Access] = METHODS,
    ) -> None:
        self.identity = settings.service_name
        self._token = service_token(settings.service_secret, self.identity) if settings.service_secret else ""
        # Leases and credentials resume as soon as the gateway answers again.
        self._channel = PeerChannels(settings).aio(settings.gateway_addr, *FAST_RECONNECT)
        identity = self.service_metadata()
        admin = admin_pb2_grpc.AdminServiceStub(self._channel)

        async def lookup(digest: str):
            request = admin_pb2.LookupCredentialRequest(secret_sha256=digest)
            return await admin.LookupCredential(request, metadata=identity, timeout=5)

        self.keys = KeyCache(lookup)
        self.authenticator = CallerAuthenticator(self.keys, ServiceVerifier(settings.service_secret))
        self._methods = methods
        self._watch = CredentialWatch(self._channel, identity, self.keys)
        self.ledger = UsageLedger(
            self.keys, self._channel, identity, self.identity, settings.usage_report_seconds, local_figures
        )

    def service_metadata(self) -> tuple[tuple[str, str], ...]:
        """This service's identity for calls to its peers (with mTLS the certificate says it too)."""
        return ((SERVICE_KEY, self._token),) if self._token else ()

    def acting_for(self, tenant: str) -> tuple[tuple[str, str], ...]:
        """Metadata of a call this service makes for `tenant` (as its grants allow)."""
        return backend_metadata(self.service_metadata(), tenant, request_id_var.get())

    def access(self, method: str) -> Access | None:
        return self._methods.get(method)

    async def authenticate(self, context: grpc.aio.ServicerContext, access: Access) -> Caller:
        """The call's caller; its tenant is what `tenant_of` answers for the rest of the call.
        The interceptor then admits the call against the plan (`self.ledger.admit`)."""
        caller = await self.authenticator.authenticate(context, access)
        tenant_var.set(caller.tenant)
        return caller

    def start(self) -> None:
        self._watch.start()
        self.ledger.start()

    async def wait_loaded(self, seconds: float) -> bool:
        """Whether the first credentials arrived within `seconds`."""
        try:
            await asyncio.wait_for(self.keys.loaded.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        await self.ledger.stop()
        await self._watch.stop()
        await self._channel.close()
