"""OpenTelemetry tracing of every service: off by default, configured by the standard `OTEL_*`
environment variables, W3C trace context (`traceparent`) in and out of every gRPC call.

While tracing is off `tracer` is None and every helper here returns at once: the interceptor, the
channels and the batcher test that one module attribute and do nothing else, so the hot path pays
no span, no context switch and no metadata copy (`bench/tracing.py` measures it).

`configure_tracing()` (the bootstrap's) reads `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`;
comma-separated; `none` when unset, unlike the SDK's own default), `OTEL_SDK_DISABLED`,
`OTEL_SERVICE_NAME` (the service's name when unset), and leaves the rest to the SDK: the sampler
(`OTEL_TRACES_SAMPLER`), the batch processor (`OTEL_BSP_*`), and the OTLP exporter's
`OTEL_EXPORTER_OTLP_*` (endpoint, protocol, headers, certificates)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from structlog.typing import EventDict

TRACEPARENT_KEY = "traceparent"
TRACESTATE_KEY = "tracestate"
_TRACE_KEYS = frozenset({TRACEPARENT_KEY, TRACESTATE_KEY})
_PROPAGATOR = TraceContextTextMapPropagator()
_SCOPE = "maas"
T = TypeVar("T")
R = TypeVar("R")

# The tracer of this process while tracing is on; None while it is off (the default).
tracer: Tracer | None = None
_provider: Any = None
# The span a process runs under from start to end (a job process's), ended by `shutdown_tracing`.
_process_span: Span | None = None
_process_token: object = None


def configure_tracing(service: str) -> bool:
    """Turn tracing on if the environment (`OTEL_*`) asks for an exporter; True when it did."""
    environ = os.environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "none").split(",")]
    names = [n for n in names if n and n != "none"]
    if not names:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, environ)))
    install(provider)
    # Third-party instrumentation, if any is installed, reports to the same provider.
    trace.set_tracer_provider(provider)
    return True


def _exporter(name: str, environ: Mapping[str, str]):
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
        )
        try:
            if protocol.startswith("http"):
                # An optional install (opentelemetry-exporter-otlp-proto-http); the ImportError is handled.
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # pyright: ignore[reportMissingImports]
                    OTLPSpanExporter,
                )
            else:
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as error:
            raise RuntimeError(
                f"OTEL_TRACES_EXPORTER=otlp with protocol {protocol} needs the OTLP exporter package "
                f"({error.name} is not installed)"
            ) from error
        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console or none)")


def install(provider) -> None:
    """Trace with this provider (tests pass one with an in-memory exporter)."""
    global tracer, _provider
    _provider = provider
    tracer = provider.get_tracer(_SCOPE)


def uninstall() -> None:
    """Tracing off again; spans in flight are flushed."""
    global tracer, _provider
    if _provider is not None:
        _provider.force_flush()
    tracer, _provider = None, None


def shutdown_tracing() -> None:
    """End the process's span, flush and stop the exporters (at the end of a process)."""
    global _process_span, _process_token
    if _process_span is not None:
        _process_span.end()
        otel_context.detach(_process_token)  # type: ignore[arg-type]
        _process_span = _process_token = None
    if _provider is not None:
        _provider.shutdown()


def continue_in_process(traceparent_value: str | None, name: str, **attributes: str | int | float | bool) -> None:
    """Run the rest of this process as a span of the trace a `traceparent` names (a job process
    continuing the trace of the call that created its job; a new trace when there is none), until
    `shutdown_tracing()`. Nothing while tracing is off."""
    global _process_span, _process_token
    if tracer is None:
        return
    parent = _PROPAGATOR.extract({TRACEPARENT_KEY: traceparent_value}) if traceparent_value else None
    _process_span = tracer.start_span(name, context=parent, attributes=attributes)
    _process_token = otel_context.attach(trace.set_span_in_context(_process_span, parent))


# Server side: one span per call, its parent the caller's `traceparent` (a new trace when none).


def start_server_span(service: str, method: str, metadata: Iterable[tuple[str, Any]]) -> tuple[Span, object]:
    """The span of one incoming call, made current; `end_server_span` with what this returns."""
    assert tracer is not None
    carrier = {k: v for k, v in metadata if k in _TRACE_KEYS}
    parent = _PROPAGATOR.extract(carrier) if carrier else None
    span = tracer.start_span(
        f"{service}/{method}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": method},
    )
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    return span, token


def end_server_span(span: Span, token: object, code: grpc.StatusCode, server_fault: bool) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if server_fault:
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()
    otel_context.detach(token)  # type: ignore[arg-type]


# Inner spans.

_NO_SPAN = nullcontext()


def span(name: str, **attributes: str | int | float | bool):
    """`with span("model load", model=...)`: a child of the current span, nothing while tracing is off."""
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(name, attributes=attributes)


@dataclass(slots=True)
class Waiting:
    """A request waiting in a queue (the dynamic batcher's): its "batch wait" span, ended when its
    batch is taken, and the caller's context, under which the batch's model call runs."""

    span: Span
    context: otel_context.Context


def start_waiting(name: str) -> Waiting:
    assert tracer is not None
    return Waiting(tracer.start_span(name), otel_context.get_current())


async def call_batched(waiting: Sequence[Waiting], call: Callable[[T], Awaitable[R]], argument: T) -> R:
    """`await call(argument)` in the first waiting request's context, in a "batch" span linked
    to every request that shares it (one model call serves several traces)."""
    assert tracer is not None
    links = [trace.Link(w.span.get_span_context()) for w in waiting[1:]]
    token = otel_context.attach(waiting[0].context)
    try:
        with tracer.start_as_current_span("batch", links=links, attributes={"batch.requests": len(waiting)}):
            return await call(argument)
    finally:
        otel_context.detach(token)


# Propagation: the current span's `traceparent` out with every call to another service.


def traceparent() -> str:
    """The W3C `traceparent` of the current span, or "" (off, or no span)."""
    if tracer is None:
        return ""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT_KEY, "")


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """Metadata that carries the current trace to a peer (empty while off), for blocking channels."""
    if tracer is None:
        return ()
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return tuple(carrier.items())


def _with_trace(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    kept = [(k, v) for k, v in (details.metadata or ()) if k not in _TRACE_KEYS]
    return details._replace(metadata=grpc.aio.Metadata(*kept, *carrier.items()))  # type: ignore[attr-defined]


# One class per kind of call: grpc.aio files an interceptor under the first kind it is an instance of only.


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(_with_trace(client_call_details), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(_with_trace(client_call_details), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return await continuation(_with_trace(client_call_details), request_iterator)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return await continuation(_with_trace(client_call_details), request_iterator)


def channel_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """The interceptors of a channel to another service, which put the current span's
    `traceparent` on every call in place of any a forwarded call brought (the gateway's proxy
    passes its client's metadata on); none while tracing is off."""
    if tracer is None:
        return []
    return [_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()]


def add_trace_ids(logger: object, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the current span's trace and span id on every line while tracing is on."""
    if tracer is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event_dict["trace_id"] = format(context.trace_id, "032x")
            event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict
