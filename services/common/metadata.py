"""Names of the gRPC metadata keys the platform uses between its services."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterable

import grpc

from services.common.errors import Unauthenticated

# The tenant a platform service acts for when it calls another; counted only from a service.
TENANT_KEY = "x-maas-tenant"
# Correlates log lines of one request across hops.
REQUEST_ID_KEY = "x-request-id"
# Every key with this prefix is reserved for the platform.
RESERVED_PREFIX = "x-maas-"


def metadata_value(metadata: Iterable[tuple[str, str | bytes]] | None, key: str) -> str | None:
    for k, v in metadata or ():
        if k == key:
            return v if isinstance(v, str) else v.decode("utf-8", "replace")
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


# The tenant the current call was authenticated for (`services.common.gate` sets it).
tenant_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)


def tenant_of(context: grpc.aio.ServicerContext) -> str:
    """The tenant the call was authenticated for: the API key's, or the one a platform service acts for."""
    tenant = tenant_var.get()
    if not tenant:
        raise Unauthenticated("no tenant on the call: send an API key ('authorization: Bearer <api key>')")
    return tenant
