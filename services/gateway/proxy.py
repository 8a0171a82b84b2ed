"""Byte-level proxy: forwards backend RPCs without decoding their payloads.

Each routed method gets a handler of its own streaming kind with no (de)serialisers, so the
gateway passes the request and response bytes through untouched; it reads only the method
name and metadata, authenticates, and sets the tenant for the backend.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from services.common.errors import UpstreamError
from services.common.interceptors import request_id_var
from services.common.metadata import REQUEST_ID_KEY, RESERVED_PREFIX, TENANT_KEY
from services.gateway.auth import Authenticator, authorize
from services.gateway.quota import UsageMeter
from services.gateway.routes import Route

# Client metadata not forwarded: credentials, the platform's reserved keys, transport headers.
_DROPPED = frozenset({"authorization", "x-api-key", "user-agent", "te", "content-type", REQUEST_ID_KEY})


def _forwarded_metadata(metadata, tenant: str) -> tuple[tuple[str, str | bytes], ...]:
    kept = [
        (k, v)
        for k, v in metadata or ()
        if k not in _DROPPED and not k.startswith(RESERVED_PREFIX) and not k.startswith("grpc-")
    ]
    kept.append((TENANT_KEY, tenant))
    kept.append((REQUEST_ID_KEY, request_id_var.get()))
    return tuple(kept)


class ProxyHandler(grpc.GenericRpcHandler):
    def __init__(
        self,
        routes: Mapping[str, Route],
        channels: Mapping[str, grpc.aio.Channel],
        authenticator: Authenticator,
        meter: UsageMeter,
    ) -> None:
        self._routes = routes
        self._meter = meter
        self._channels = channels
        self._auth = authenticator
        self._handlers = {name: self._handler(route) for name, route in routes.items()}

    def service(self, handler_call_details: grpc.HandlerCallDetails):
        return self._handlers.get(handler_call_details.method)

    async def _prepare(self, route: Route, context: grpc.aio.ServicerContext):
        metadata = context.invocation_metadata()
        principal = await self._auth.authenticate(metadata)
        # Backends act inside a tenant, so an admin-scoped backend method (TF Serving's config reload)
        # is closed to every key: tenants' keys never hold the admin scope.
        authorize(principal, route.scope, route.method, in_tenant=True)
        await self._meter.admit(principal.tenant, route.quota)
        return principal.tenant, _forwarded_metadata(metadata, principal.tenant), context.time_remaining()

    def _handler(self, route: Route) -> grpc.RpcMethodHandler:
        channel = self._channels[route.backend]
        if not route.server_streaming:
            call_backend = (channel.stream_unary if route.client_streaming else channel.unary_unary)(route.method)

            async def single_response(request_or_iterator, context):
                tenant, metadata, timeout = await self._prepare(route, context)
                try:
                    return await call_backend(request_or_iterator, metadata=metadata, timeout=timeout)
                except grpc.aio.AioRpcError as error:
                    self._meter.refund(tenant, route.quota)
                    raise UpstreamError.from_rpc_error(error) from None

            if route.client_streaming:
                return grpc.stream_unary_rpc_method_handler(single_response)
            return grpc.unary_unary_rpc_method_handler(single_response)

        call_stream = (channel.stream_stream if route.client_streaming else channel.unary_stream)(route.method)

        async def response_stream(request_or_iterator, context):
            _, metadata, timeout = await self._prepare(route, context)
            # Headers go out once the call is authorised: a watch may wait long for its first
            # event, and the REST twin answers its HTTP status when they arrive.
            await context.send_initial_metadata(())
            call = call_stream(request_or_iterator, metadata=metadata, timeout=timeout)
            try:
                async for response in call:
                    yield response
            except grpc.aio.AioRpcError as error:
                raise UpstreamError.from_rpc_error(error) from None
            finally:
                call.cancel()

        if route.client_streaming:
            return grpc.stream_stream_rpc_method_handler(response_stream)
        return grpc.unary_stream_rpc_method_handler(response_stream)
