"""Names of the gRPC metadata keys the platform uses between its services."""

from __future__ import annotations

import uuid

import grpc

from services.common.errors import Unauthenticated

# Set by the gateway after authentication; clients' own values are stripped there.
TENANT_KEY = "x-maas-tenant"
# Correlates log lines of one request across hops.
REQUEST_ID_KEY = "x-request-id"
# Every key with this prefix is reserved for the platform.
RESERVED_PREFIX = "x-maas-"


def metadata_value(metadata: tuple | None, key: str) -> str | None:
    for k, v in metadata or ():
        if k == key:
            return v if isinstance(v, str) else v.decode("utf-8", "replace")
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def tenant_of(context: grpc.aio.ServicerContext) -> str:
    """The tenant the gateway authenticated; backends refuse calls that carry none."""
    tenant = metadata_value(context.invocation_metadata(), TENANT_KEY)
    if not tenant:
        raise Unauthenticated("no tenant on the call: send requests through the gateway with an API key")
    return tenant
