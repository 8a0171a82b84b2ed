"""Tracing across real services: a prediction through inference, which loads its model from a real
registry, is one trace (the client's `traceparent`, or a new one started at inference), spans
collected in memory from both services, and the trace id on both services' log lines."""

from __future__ import annotations

import io
import json
import time

import grpc
import numpy as np
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common.logging import configure_logging
from tests.conftest import collected_spans, tenant_md
from tests.integration.serving import registry_and_inference
from tests.integration.test_inference_service import FEATURES, infer_request, register, set_production, tiny_model

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
INFER = "inference.GRPCInferenceService/ModelInfer"
REGISTRY = "maas.registry.v1.RegistryService"


@pytest.fixture
def traced(tmp_path_factory):
    """Registry and inference with tracing on (an in-memory exporter), JSON logs into a buffer; a
    pair per test, so that each test's first prediction loads the model (in any order)."""
    logs = io.StringIO()
    configure_logging("test", level="info", fmt="json", cache=False, stream=logs)
    try:
        with collected_spans() as exporter, registry_and_inference(tmp_path_factory.mktemp("tracing")) as servers:
            register(servers["registry"], tiny_model(1), tmp_path_factory.mktemp("export"))
            set_production(servers["registry"], 1)
            exporter.clear()
            yield exporter, logs, servers["oip"]
    finally:
        configure_logging("test", level="info", fmt="console", cache=False)


def _finished(exporter: InMemorySpanExporter, name: str, count: int = 1) -> list:
    """The finished spans once `count` of them are named `name`: a server span ends just after its
    status went out, so the client may see the answer first."""
    deadline = time.monotonic() + 5
    while sum(s.name == name for s in exporter.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return list(exporter.get_finished_spans())


def _lines(logs: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]


def test_one_prediction_is_one_trace_across_inference_and_registry(traced):
    exporter, logs, oip = traced
    x = np.random.default_rng(0).normal(size=(3, FEATURES)).astype(np.float32)
    logs.seek(0)
    logs.truncate()
    oip.ModelInfer(infer_request(x), metadata=(*MD, ("traceparent", TRACEPARENT)))
    spans = [s for s in _finished(exporter, INFER) if format(s.context.trace_id, "032x") == TRACE_ID]
    names = {s.name for s in spans}
    # The server span of each service's calls, and the inner spans of a first prediction.
    assert INFER in names
    assert {f"{REGISTRY}/GetModelVersion", f"{REGISTRY}/DownloadArtifact"} <= names, names
    assert {"model load", "artifact download", "model call", "batch wait"} <= names, names
    server = next(s for s in spans if s.name == INFER)
    assert server.parent is not None and format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert server.attributes["maas.tenant"] == "acme"
    assert server.attributes["rpc.grpc.status_code"] == 0
    # The registry's download is a child of inference's download span: the context crossed the hop.
    by_id = {s.context.span_id: s for s in spans}
    download = next(s for s in spans if s.name == f"{REGISTRY}/DownloadArtifact")
    assert by_id[download.parent.span_id].name == "artifact download"
    # No payload data on any span.
    for span in spans:
        assert not any("raw" in key or "content" in key for key in span.attributes), span.attributes
    # Both services' log lines carry the trace id: the registry's canonical lines, and inference's
    # line of the model it loaded (its successful calls are not logged by default).
    lines = _lines(logs)
    traced_methods = {
        line["method"] for line in lines if line.get("event") == "rpc" and line.get("trace_id") == TRACE_ID
    }
    assert f"{REGISTRY}/GetModelVersion" in traced_methods, lines
    loaded = next(line for line in lines if line["event"] == "model loaded")
    assert (loaded["trace_id"], loaded["method"]) == (TRACE_ID, INFER)


def test_a_call_without_traceparent_starts_a_trace_and_errors_are_marked(traced):
    exporter, _, oip = traced
    exporter.clear()
    x = np.zeros((1, FEATURES), np.float32)
    oip.ModelInfer(infer_request(x), metadata=MD)
    with pytest.raises(grpc.RpcError) as caught:
        oip.ModelInfer(infer_request(x).__class__(model_name="no-such-model"), metadata=MD)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    servers = [s for s in _finished(exporter, INFER, 2) if s.name == INFER]
    assert len(servers) == 2
    assert servers[0].parent is None  # the trace started here
    assert servers[0].context.trace_id != servers[1].context.trace_id
    assert servers[1].attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    # A caller's mistake is not the server's error.
    assert servers[1].status.is_unset
