"""The one server interceptor: request context, trace span, canonical log line, gRPC metrics, error mapping."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.rpc import status_pb2
from grpc_status import rpc_status
from prometheus_client import Counter

from services.common import tracing
from services.common.access import Quota
from services.common.errors import DomainError, InvalidArgument, ResourceExhausted, UpstreamError
from services.common.metadata import REQUEST_ID_KEY, new_request_id
from services.common.metrics import GrpcServerMetrics
from services.common.rows import failed_answer, prediction_rows

log = structlog.get_logger("maas.rpc")

# The current call's request id, for outgoing calls to other services.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Calls too frequent to log one line each (probes, scrapes of health).
_QUIET_SERVICES = frozenset(
    {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}
)


def _split_method(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


class _MethodRecord:
    """Per-method constants, built once: names, labelled metric children, whether to log."""

    def __init__(self, metrics: GrpcServerMetrics, kind: str, full_method: str, log_ok: bool, gate=None) -> None:
        self.kind = kind
        # Authentication and admission of the method's callers, when the service has a gate and
        # the method is one it guards (health and reflection stay open).
        self.access = gate.access(full_method) if gate is not None else None
        self.gate = gate if self.access is not None else None
        # Predictions are admitted by their rows, so the request is parsed before admission.
        self.counts_rows = self.access is not None and self.access.quota is Quota.PREDICTIONS
        self.service, self.method = _split_method(full_method)
        self.name = f"{self.service}/{self.method}"
        self.log_ok = log_ok and self.service not in _QUIET_SERVICES
        # Probes and reflection get no span either: a trace per health check is noise.
        self.traced = self.service not in _QUIET_SERVICES
        self.started = metrics.started.labels(kind, self.service, self.method)
        self.admitted = metrics.admitted.labels(kind, self.service, self.method)
        self.seconds = metrics.handling_seconds.labels(kind, self.service, self.method)
        self._handled = metrics.handled
        self._by_code: dict[grpc.StatusCode, Counter] = {}
        self._refused = metrics.refused

    def refused(self, error: BaseException) -> None:
        if isinstance(error, ResourceExhausted):
            reason = error.limit
        elif isinstance(error, DomainError):
            reason = error.code.name.lower()
        else:
            return  # not a refusal: a fault, counted by its status like any other
        self._refused.labels(self.service, reason).inc()

    def handled(self, code: grpc.StatusCode) -> Counter:
        child = self._by_code.get(code)
        if child is None:
            child = self._by_code[code] = self._handled.labels(self.kind, self.service, self.method, code.name)
        return child


class _CallRecord:
    """Bookkeeping for one call: context binding, timing, final log line and metrics."""

    __slots__ = ("caller", "code", "method", "pending", "span", "start", "token", "undo")

    def __init__(self, method: _MethodRecord) -> None:
        self.method = method
        self.code = grpc.StatusCode.OK
        self.start = time.perf_counter()
        self.undo = None
        self.span = None
        self.token = None
        self.caller = None
        self.pending: deque = deque()  # refunds of a stream's messages admitted and not yet answered

    async def begin(self, context: grpc.aio.ServicerContext, raw: Any = None, parse=None, admit: bool = True) -> Any:
        """Authenticate and admit the call; returns the request, parsed by `parse` when given (after
        authentication, before admission: a prediction is admitted by its rows). With `admit` false
        (a stream of predictions) only authenticate: each message is admitted by `admit_rows`."""
        request_id = ""
        metadata = context.invocation_metadata() or ()
        for key, value in metadata:
            if key == REQUEST_ID_KEY and isinstance(value, str):  # only `-bin` keys carry bytes
                request_id = value
                break
        request_id = request_id or new_request_id()
        request_id_var.set(request_id)
        method = self.method
        if tracing.tracer is not None and method.traced:
            # The caller's trace continues here (a new one starts when it sent none).
            self.span, self.token = tracing.start_server_span(method.service, method.method, metadata)
            self.span.set_attribute("maas.request_id", request_id)
        method.started.inc()
        gate = method.gate
        if gate is None:
            structlog.contextvars.bind_contextvars(request_id=request_id, method=method.name, tenant=None)
            return raw if parse is None else parse(raw)
        # The tenant is the authenticated caller's, never one a caller claims.
        try:
            caller = await gate.authenticate(context, method.access)
        except Exception as error:
            structlog.contextvars.bind_contextvars(request_id=request_id, method=method.name, tenant=None)
            method.refused(error)
            raise
        structlog.contextvars.bind_contextvars(
            request_id=request_id, method=method.name, tenant=caller.tenant, caller=caller.service
        )
        if self.span is not None:
            self.span.set_attribute("maas.tenant", caller.tenant or "")
        if not admit:
            self.caller = caller
            method.admitted.inc()
            return raw
        request = raw if parse is None else parse(raw)
        self.undo = await self._admit(caller, prediction_rows(request) if parse else 1)
        method.admitted.inc()
        return request

    async def _admit(self, caller, rows: int) -> Callable[[], None] | None:
        assert self.method.gate is not None  # only a guarded method admits
        try:
            return await self.method.gate.ledger.admit(caller, self.method.access, rows)
        except Exception as error:
            self.method.refused(error)
            raise

    async def admit_rows(self, request: Any) -> None:
        """One message of a stream of predictions admitted by its rows (and counted as a call)."""
        self.pending.append(await self._admit(self.caller, prediction_rows(request)))

    def answered(self, response: Any) -> None:
        """The answer to the oldest message: an error answer refunds that message's rows."""
        undo = self.pending.popleft() if self.pending else None
        if undo is not None and failed_answer(response):
            undo()

    async def fail(self, context: grpc.aio.ServicerContext, error: BaseException) -> None:
        """Turn an exception into a status and abort the call with it (raises)."""
        self.refund()
        outage = _store_outage(error)
        if outage is not None:
            log.warning("database unreachable", error=type(error).__name__)
            error = outage
        if isinstance(error, UpstreamError):
            self.code = error.code
            await context.abort(error.code, error.message, error.trailing_metadata)
        if isinstance(error, DomainError):
            self.code = error.code
            if error.details:
                status = status_pb2.Status(code=error.code.value[0], message=error.message)
                for detail in error.details:
                    status.details.add().Pack(detail)
                converted = rpc_status.to_status(status)
                await context.abort(converted.code, converted.details, converted.trailing_metadata)
            await context.abort(error.code, error.message)
        if isinstance(error, NotImplementedError):
            # A method the contract has and the servicer does not (generated base classes raise
            # this): the caller asked for something this server does not do, no fault of ours.
            self.code = grpc.StatusCode.UNIMPLEMENTED
            await context.abort(self.code, f"{self.method.name} is not implemented by this server")
        self.code = grpc.StatusCode.INTERNAL
        log.error("unhandled exception", exc_info=error)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request_id={request_id_var.get()})")

    def refund(self) -> None:
        """A call that failed after admission does not count against the quota (nor do the
        messages of a stream it did not answer)."""
        if self.undo is not None:
            self.undo()
            self.undo = None
        while self.pending:
            undo = self.pending.popleft()
            if undo is not None:
                undo()

    def end(self) -> None:
        elapsed = time.perf_counter() - self.start
        method = self.method
        method.handled(self.code).inc()
        method.seconds.observe(elapsed)
        # Failed and slow calls are always logged; successful ones unless the service turns them off.
        if self.code != grpc.StatusCode.OK or elapsed > SLOW_CALL_SECONDS or method.log_ok:
            level = log.warning if self.code in _SERVER_FAULTS else log.info
            level("rpc", code=self.code.name, duration_ms=round(elapsed * 1000, 3))
        if self.span is not None:
            tracing.end_server_span(self.span, self.token, self.code, self.code in _SERVER_FAULTS)
        structlog.contextvars.unbind_contextvars("request_id", "method", "tenant", "caller")


SLOW_CALL_SECONDS = 1.0
_SERVER_FAULTS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS, grpc.StatusCode.UNAVAILABLE}
)


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler: binds request context, logs one line, records metrics, maps errors."""

    def __init__(self, metrics: GrpcServerMetrics, log_successful_calls: bool = True, gate=None) -> None:
        self._metrics = metrics
        self._log_ok = log_successful_calls
        self._gate = gate
        # method -> (the handler as registered, its wrapped twin): wrap once, not on every call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        for kind, attribute in _HANDLER_KINDS:
            behavior = getattr(handler, attribute)
            if behavior is not None:
                record = _MethodRecord(self._metrics, kind, method, self._log_ok, self._gate)
                parse = None
                if handler.request_deserializer is not None:
                    # Predictions are admitted by their rows: a call's, or each message's of a stream.
                    stream = handler.request_streaming and inspect.isasyncgenfunction(behavior)
                    if record.counts_rows and (kind == "unary" or stream):
                        parse = _parser(handler.request_deserializer)
                    else:
                        behavior = _parsing(behavior, handler.request_deserializer, handler.request_streaming)
                # Streaming handlers are async generators, or coroutines that call context.write().
                wrap = _wrap_stream if inspect.isasyncgenfunction(behavior) else _wrap_awaitable
                # RpcMethodHandler is a namedtuple at run time (its stub does not say so).
                return handler._replace(  # pyright: ignore[reportAttributeAccessIssue]
                    request_deserializer=None, **{attribute: wrap(behavior, record, parse)}
                )
        return handler


def _parser(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """`parse`, raising INVALID_ARGUMENT for bytes that are not the method's message (gRPC's own parsing
    answers UNKNOWN with the parser's text)."""
    message = getattr(getattr(parse, "__self__", None), "DESCRIPTOR", None)
    what = message.full_name if message is not None else "the method's request message"

    def parsed(raw: bytes) -> Any:
        try:
            return parse(raw)
        except Exception as error:
            raise InvalidArgument(f"the request does not parse as {what}") from error

    return parsed


def _parsing(behavior: Callable[..., Any], parse: Callable[[bytes], Any], streaming: bool) -> Callable[..., Any]:
    """`behavior` fed parsed requests: the bytes are parsed here, inside the call, so that malformed bytes
    are INVALID_ARGUMENT for every method."""
    parsed = _parser(parse)

    async def each(requests: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        async for raw in requests:
            yield parsed(raw)

    def request(raw_or_iterator: Any) -> Any:
        return each(raw_or_iterator) if streaming else parsed(raw_or_iterator)

    if inspect.isasyncgenfunction(behavior):

        async def stream(raw_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async for response in behavior(request(raw_or_iterator), context):
                yield response

        return stream

    async def call(raw_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        result = behavior(request(raw_or_iterator), context)
        return await result if inspect.isawaitable(result) else result

    return call


_HANDLER_KINDS = (
    ("unary", "unary_unary"),
    ("client_stream", "stream_unary"),
    ("server_stream", "unary_stream"),
    ("bidi_stream", "stream_stream"),
)


def _wrap_awaitable(behavior: Callable[..., Any], method: _MethodRecord, parse=None):
    async def wrapper(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        record = _CallRecord(method)
        try:
            request = await record.begin(context, request_or_iterator, parse)
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result
        except grpc.aio.AbortError:
            record.code = _aborted_code(context)
            record.refund()
            raise
        except asyncio.CancelledError:
            record.code = grpc.StatusCode.CANCELLED
            record.refund()
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a status
            await record.fail(context, error)
        finally:
            record.end()

    return wrapper


def _wrap_stream(behavior: Callable[..., Any], method: _MethodRecord, parse=None):
    """A server- or bidi-streaming handler; with `parse`, a stream of predictions: every request
    message is parsed and admitted by its rows before the handler sees it (quota, usage and bills
    count rows per message, not one per stream). Its answers come one per request, in order: an
    answer that is an error (`rows.failed_answer`) refunds its request's rows, as a failed call is."""

    async def wrapper(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        record = _CallRecord(method)

        async def admitted(raw_requests: AsyncIterator[bytes], parse: Callable[[bytes], Any]) -> AsyncIterator[Any]:
            async for raw in raw_requests:
                request = parse(raw)
                await record.admit_rows(request)
                yield request

        try:
            await record.begin(context, admit=parse is None)
            if method.gate is not None:
                # Headers go out once the call is admitted: a watch may wait long for its first
                # event, and a door in front (the REST twin) answers its HTTP status when they come.
                await context.send_initial_metadata(())
            requests = admitted(request_or_iterator, parse) if parse is not None else request_or_iterator
            async for response in behavior(requests, context):
                if parse is not None:
                    record.answered(response)
                yield response
        except grpc.aio.AbortError:
            record.code = _aborted_code(context)
            record.refund()
            raise
        except asyncio.CancelledError:
            record.code = grpc.StatusCode.CANCELLED
            record.refund()
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a status
            await record.fail(context, error)
        finally:
            record.end()

    return wrapper


def _aborted_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    for candidate in grpc.StatusCode:
        if candidate.value[0] == code:
            return candidate
    return grpc.StatusCode.UNKNOWN


def _store_outage(error: BaseException) -> DomainError | None:
    # Only a service with a database has SQLAlchemy loaded; inference has none and should not
    # import it (a quarter of a second at start-up) just to learn that no error of its is an outage.
    if "sqlalchemy" not in sys.modules:
        return None
    from services.common.db import store_outage

    return store_outage(error)
