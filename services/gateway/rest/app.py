"""The gateway's HTTP server: the REST/JSON twin of every RPC, the KServe v2 REST paths, the
OpenAPI document and the web console.

Transcoded calls go to the gateway's own gRPC port on loopback, the way Envoy's JSON transcoder or
grpc-gateway sit in front of a gRPC server: authentication, scopes, quotas, metering and routing
stay in one place, the gRPC path, and REST cannot drift from it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, cast

import grpc
import structlog
from aiohttp import web

from maas.gateway.v1 import admin_pb2
from maas.registry.v1 import registry_pb2
from maas.trainer.v1 import trainer_pb2
from services.common.errors import DomainError, InvalidArgument
from services.common.metadata import REQUEST_ID_KEY
from services.common.tracing import TRACEPARENT_KEY, TRACESTATE_KEY
from services.gateway.accounts import Accounts
from services.gateway.rest.accounts import COOKIE as COOKIE_NAME
from services.gateway.rest.accounts import OPEN_PATHS, SESSION_TOKEN, SessionCookies, openapi_paths
from services.gateway.rest.failures import CallFailed, json_error
from services.gateway.rest.invoices import add_invoice_pdf
from services.gateway.rest.invoices import openapi_paths as invoice_paths
from services.gateway.rest.kserve_routes import KServeRoutes
from services.gateway.rest.openapi import openapi_document
from services.gateway.rest.transcoding import HttpRoute, build_request, decode_json, message_to_json, routes_for

log = structlog.get_logger("maas.gateway.rest")

# The services with a REST twin, in the order their routes are tried.
REST_SERVICES = (
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"],
    registry_pb2.DESCRIPTOR.services_by_name["RegistryService"],
    trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"],
)
# HTTP headers passed on as gRPC metadata: credentials and the request id, nothing else.
_KEY_HEADERS = ("authorization", "x-api-key")
# The W3C trace context goes on too, so a REST client's trace continues on the gRPC side.
_FORWARDED_HEADERS = (*_KEY_HEADERS, REQUEST_ID_KEY, TRACEPARENT_KEY, TRACESTATE_KEY)
_NDJSON = "application/x-ndjson"
_SSE = "text/event-stream"
# A package on disk, so a Path: what aiohttp serves files from.
_CONSOLE = cast(Path, resources.files("services.gateway") / "console")


def _metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    """The call's gRPC metadata; a request that came with the session cookie (checked by the guard)
    is authenticated by the session's token, as a key would be."""
    forwarded = tuple((h, request.headers[h]) for h in _FORWARDED_HEADERS if h in request.headers)
    token = request.get(SESSION_TOKEN)
    return (("authorization", f"Bearer {token}"), *forwarded) if token else forwarded


async def _json_body(request: web.Request):
    if not request.can_read_body:
        return None
    return decode_json(await request.read())


async def _ndjson_lines(request: web.Request, limit: int) -> AsyncIterator[object]:
    """The body as newline-delimited JSON values, one line at a time, each at most `limit` bytes."""
    pending = b""
    number = 0
    async for chunk in request.content.iter_any():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > limit:
            raise InvalidArgument(f"body line {number + len(lines) + 1}: longer than {limit} bytes")
        for line in lines:
            number += 1
            if line.strip():
                yield decode_json(line, f"body line {number}")
    if pending.strip():
        yield decode_json(pending, f"body line {number + 1}")


def _printable_ascii(value: str) -> bool:
    return all(" " <= c <= "~" for c in value)


def _guard(sessions: SessionCookies | None):
    @web.middleware
    async def guard(request: web.Request, handler):
        """Before any API handler: the headers that become gRPC metadata are printable ASCII (gRPC
        cannot carry anything else), and the caller has sent credentials (a key, or the session
        cookie with its CSRF checks), so that nothing reads the body of an unauthenticated request."""
        if not _api_path(request.path):
            return await handler(request)
        kserve_shape = request.path == "/v2" or request.path.startswith("/v2/")
        try:
            refused = _refusal(request)
            if refused is None and _needs_session(request):
                if sessions is None or COOKIE_NAME not in request.cookies:
                    refused = CallFailed(
                        grpc.StatusCode.UNAUTHENTICATED, "missing API key: send 'authorization: Bearer <api key>'"
                    )
                else:
                    await sessions.authenticate(request)
        except DomainError as error:
            refused = CallFailed.of(error)
        if refused is not None:
            return json_error(refused, kserve_shape)
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:  # a defect of ours, never the caller's: logged, with a generic answer
            log.exception("unhandled exception", path=request.path, method=request.method)
            return json_error(CallFailed(grpc.StatusCode.INTERNAL, "internal error"), kserve_shape)

    return guard


def _api_path(path: str) -> bool:
    """The REST twin's and KServe's paths (`/v2` itself is KServe's server metadata)."""
    return path == "/v2" or path.startswith(("/v1/", "/v2/"))


def _needs_session(request: web.Request) -> bool:
    """No key was sent, and the path is not one of the open account paths."""
    has_key = "authorization" in request.headers or "x-api-key" in request.headers
    return not has_key and (request.method, request.path) not in OPEN_PATHS


def _refusal(request: web.Request) -> CallFailed | None:
    """Why a request is refused before its handler runs, for headers gRPC could not carry, or None."""
    for header in _FORWARDED_HEADERS:
        value = request.headers.get(header)
        if value is not None and not _printable_ascii(value):
            if header not in _KEY_HEADERS:
                return CallFailed(grpc.StatusCode.INVALID_ARGUMENT, f"header {header}: printable ASCII only")
            return CallFailed(grpc.StatusCode.UNAUTHENTICATED, f"header {header}: an API key is printable ASCII")
    return None


async def _nothing() -> None:
    return None


class RestGateway:
    """The HTTP server; `grpc_target` is the gateway's own gRPC address, known once it listens, and
    `connect` opens a channel to it (PeerChannels.loopback)."""

    def __init__(
        self,
        bind_host: str,
        port: int,
        grpc_target: Callable[[], str],
        connect: Callable[[str], grpc.aio.Channel],
        max_message_bytes: int,
        ssl_context: ssl.SSLContext | None = None,
        accounts: Accounts | None = None,
        credentials_changed: Callable[[], Awaitable[None]] | None = None,
        public_grpc_address: str = "",
    ) -> None:
        """`accounts` serves sign-in and the session cookie; `credentials_changed` tells the services'
        credential watches at once that a session began or ended."""
        self._bind = (bind_host, port)
        failed = lambda error: json_error(CallFailed.of(error))  # noqa: E731
        self._sessions = (
            SessionCookies(accounts, ssl_context is not None, failed, credentials_changed or _nothing)
            if accounts
            else None
        )
        self._grpc_target = grpc_target
        self._connect = connect
        self._public_grpc = public_grpc_address
        self._limit = max_message_bytes
        self._ssl = ssl_context
        self._routes = routes_for(REST_SERVICES)
        extra_paths = {**invoice_paths(), **(openapi_paths() if accounts else {})}
        self._openapi_document = openapi_document(self._routes, extra_paths)
        self._channel: grpc.aio.Channel | None = None
        self._rpcs: dict[str, Callable[..., Any]] = {}  # multi-callables of each streaming kind
        self._runner: web.AppRunner | None = None
        self.port = 0

    # lifecycle

    async def start(self) -> int:
        self._channel = self._connect(self._grpc_target())
        # Each routed RPC's callable, of its streaming kind, made once.
        self._rpcs = {
            route.grpc_path: getattr(
                self._channel,
                f"{'stream' if route.method.client_streaming else 'unary'}_"
                f"{'stream' if route.method.server_streaming else 'unary'}",
            )(
                route.grpc_path,
                request_serializer=route.request_class.SerializeToString,
                response_deserializer=route.response_class.FromString,
            )
            for route in self._routes
        }
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, *self._bind, ssl_context=self._ssl)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("http started", port=self.port, tls=self._ssl is not None)
        return self.port

    @property
    def bound_ports(self) -> dict[str, int]:
        """Its port by the name of its setting, for the server's bound ports (once started)."""
        return {"http_port": self.port}

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._channel is not None:
            await self._channel.close()

    def _started_channel(self) -> grpc.aio.Channel:
        assert self._channel is not None, "routes are served only after start()"
        return self._channel

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=self._limit, middlewares=[_guard(self._sessions)])
        app.router.add_get("/openapi.json", self._openapi)
        if self._sessions is not None:
            self._sessions.add_to(app)
        KServeRoutes(lambda: self._channel, _metadata, lambda e: json_error(CallFailed.of(e), True)).add_to(app)
        add_invoice_pdf(app, self._started_channel, _metadata, lambda e: json_error(CallFailed.of(e)))
        app.router.add_route("*", "/v1/{tail:.*}", self._transcoded)
        app.router.add_get("/", self._console_index)
        app.router.add_get("/docs", self._docs)
        app.router.add_get("/console/endpoints.json", self._endpoints)
        app.router.add_static("/console/", _CONSOLE, show_index=False)
        return app

    # the REST twin

    def _find(self, request: web.Request) -> tuple[HttpRoute, dict[str, str]] | None:
        for route in self._routes:
            found = route.match(request.method, request.path)
            if found is not None:
                return route, found
        return None

    async def _transcoded(self, request: web.Request) -> web.StreamResponse:
        found = self._find(request)
        if found is None:
            return json_error(
                CallFailed(grpc.StatusCode.NOT_FOUND, f"no API method at {request.method} {request.path}")
            )
        route, path_values = found
        method = route.method
        try:
            if method.server_streaming:
                return await self._server_stream(request, route, path_values)
            if method.client_streaming:
                return await self._client_stream(request, route, path_values)
            message = build_request(route, path_values, request.query.items(), await _json_body(request))
            response = await self._rpcs[route.grpc_path](message, metadata=_metadata(request))
            return web.json_response(message_to_json(response))
        except (grpc.aio.AioRpcError, DomainError) as error:
            return json_error(CallFailed.of(error))

    async def _client_stream(self, request: web.Request, route: HttpRoute, path_values: Mapping[str, str]):
        """Client streaming: the body is newline-delimited JSON, one request message per line."""
        failure: list[DomainError] = []
        call_holder: list[grpc.aio.StreamUnaryCall] = []

        async def messages():
            query = list(request.query.items())
            try:
                first = True
                async for line in _ndjson_lines(request, 2 * self._limit):
                    yield build_request(route, path_values if first else {}, query if first else (), line)
                    first = False
            except DomainError as error:
                # Cancel rather than end the stream: a half-sent upload must not be taken as complete.
                failure.append(error)
                call_holder[0].cancel()

        call = self._rpcs[route.grpc_path](messages(), metadata=_metadata(request))
        call_holder.append(call)
        try:
            response = await call
        except (asyncio.CancelledError, grpc.aio.AioRpcError) as error:
            if failure:
                return json_error(CallFailed.of(failure[0]))
            if isinstance(error, asyncio.CancelledError):
                raise
            return json_error(CallFailed.of(error))
        return web.json_response(message_to_json(response))

    async def _server_stream(self, request: web.Request, route: HttpRoute, path_values: Mapping[str, str]):
        """Server streaming: JSON lines (`{"result": ...}`), or server-sent events when asked for."""
        message = build_request(route, path_values, request.query.items(), await _json_body(request))
        call = self._rpcs[route.grpc_path](message, metadata=_metadata(request))
        # The gateway sends headers once the call is authorised, so a refused call still gets
        # its own HTTP status here rather than a 200 followed by an error line.
        await call.initial_metadata()
        if call.done() and await call.code() != grpc.StatusCode.OK:
            return json_error(CallFailed(await call.code(), await call.details(), await call.trailing_metadata()))
        sse = _SSE in request.headers.get("accept", "")
        response = web.StreamResponse(headers={"content-type": _SSE if sse else _NDJSON, "cache-control": "no-cache"})
        await response.prepare(request)
        try:
            async for item in call:
                payload = json.dumps({"result": message_to_json(item)})
                await response.write((f"data: {payload}\n\n" if sse else payload + "\n").encode())
        except grpc.aio.AioRpcError as error:
            payload = json.dumps({"error": CallFailed.of(error).status_json()})
            await response.write((f"event: error\ndata: {payload}\n\n" if sse else payload + "\n").encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the HTTP client went away; the gRPC call is cancelled below
        finally:
            call.cancel()
        return response

    # documents and the console

    async def _openapi(self, request: web.Request):
        return web.json_response(self._openapi_document)

    async def _console_index(self, request: web.Request):
        return web.FileResponse(_CONSOLE / "index.html")

    async def _docs(self, request: web.Request):
        """The OpenAPI document browsable: a page of ours that renders /openapi.json (no CDN)."""
        return web.FileResponse(_CONSOLE / "docs.html")

    async def _endpoints(self, request: web.Request):
        """Where a program reaches this gateway, for the console's code snippets: the HTTP origin the
        browser used, and the gRPC port on the same host (the browser cannot see it)."""
        grpc = self._public_grpc
        if not grpc:
            host = request.url.host or "127.0.0.1"
            grpc = f"{f'[{host}]' if ':' in host else host}:{self._grpc_target().rsplit(':', 1)[-1]}"
        return web.json_response({"http": f"{request.scheme}://{request.host}", "grpc": grpc})
