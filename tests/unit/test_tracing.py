"""Tracing's switch (`OTEL_*`), propagation helpers, log processor and the SDK's traceparent."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from maas.client.client import _trace_metadata
from services.common import tracing

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch):
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(name, raising=False)
    yield
    tracing.uninstall()


@pytest.mark.parametrize(
    "environment",
    [{}, {"OTEL_TRACES_EXPORTER": "none"}, {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}],
)
def test_tracing_is_off_unless_an_exporter_is_named(monkeypatch, environment):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert tracing.configure_tracing("maas-test") is False
    assert tracing.tracer is None
    # Off: nothing on the wire, no interceptors, no spans, no ids in log lines.
    assert tracing.outgoing_metadata() == ()
    assert tracing.traceparent() == ""
    assert tracing.channel_interceptors() == []
    with tracing.span("model call"):
        assert not trace.get_current_span().get_span_context().is_valid
    assert tracing.add_trace_ids(None, "info", {"event": "x"}) == {"event": "x"}


def test_an_unknown_exporter_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="unknown exporter 'zipkin'"):
        tracing.configure_tracing("maas-test")


@pytest.mark.parametrize(("variable", "expected"), [(None, "maas-registry"), ("my-registry", "my-registry")])
def test_the_service_name_is_the_services_unless_otel_service_name_says(monkeypatch, variable, expected):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    if variable:
        monkeypatch.setenv("OTEL_SERVICE_NAME", variable)
    assert tracing.configure_tracing("maas-registry") is True
    assert tracing._provider.resource.attributes["service.name"] == expected
    assert len(tracing.channel_interceptors()) == 4
    tracing.shutdown_tracing()


def test_a_job_process_continues_the_trace_it_is_given_and_sends_it_on(spans):
    tracing.continue_in_process(TRACEPARENT, "training job", job="job-1")
    outgoing = dict(tracing.outgoing_metadata())
    assert outgoing["traceparent"].split("-")[1] == TRACE_ID
    event = tracing.add_trace_ids(None, "info", {"event": "job started"})
    assert event["trace_id"] == TRACE_ID
    with tracing.span("artifact upload", size_bytes=3):
        pass
    tracing.shutdown_tracing()
    finished = {s.name: s for s in spans.get_finished_spans()}
    assert format(finished["training job"].parent.span_id, "016x") == "b7ad6b7169203331"
    assert finished["artifact upload"].parent.span_id == finished["training job"].context.span_id
    assert finished["artifact upload"].attributes["size_bytes"] == 3


def test_the_sdk_sends_the_callers_trace_context_when_it_has_one(spans):
    assert _trace_metadata() == ()  # no span current
    with tracing.span("caller") as span:
        # The global propagator: W3C trace context by default.
        metadata = dict(_trace_metadata())
    assert metadata["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
