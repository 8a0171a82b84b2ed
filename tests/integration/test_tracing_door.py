"""A client's `traceparent` through the public door (Envoy, or the gateway's fallback proxy with
`MAAS_TEST_DOOR=python`) reaches the registry's span: the door forwards the header, and the
gateway's proxy, when it is the door, continues the trace with a span of its own. The REST twin
passes an HTTP client's `traceparent` on the same way."""

from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from maas.registry.v1 import registry_pb2 as rpb
from tests.integration.gateway_stack import bearer, gateway_stack

pytestmark = pytest.mark.slow
TRACE_ID = "7d3a0c9e1b2f4a6d8e0c2b4a6f8e0d1c"
REST_TRACE_ID = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
CLIENT_SPAN = "2a4c6e8f0b1d3f5a"
GET_DATASET = "maas.registry.v1.RegistryService/GetDataset"


def test_the_clients_trace_crosses_the_door_into_the_registry(spans, tmp_path):
    with gateway_stack(tmp_path / "maas") as stack:
        key = stack.tenant("acme")
        stack.upload_dataset(key, b"x,label\n1,0\n2,1\n", dataset_id="d")
        spans.clear()
        metadata = (*bearer(key), ("traceparent", f"00-{TRACE_ID}-{CLIENT_SPAN}-01"))
        assert stack.models.GetDataset(rpb.GetDatasetRequest(name="datasets/d"), metadata=metadata).name
        proxied = stack.door == stack.gateway.address
        _wait_for(spans, 1 + proxied)
        found = _get_dataset(spans)
        # The REST twin: HTTP → the gateway's own gRPC port → the registry, one trace.
        spans.clear()
        rest = f"http://127.0.0.1:{stack.gateway.server.companions[0].port}/v1/datasets/d"
        headers = {"authorization": f"Bearer {key}", "traceparent": f"00-{REST_TRACE_ID}-{CLIENT_SPAN}-01"}
        assert httpx.get(rest, headers=headers, timeout=10).status_code == 200
        _wait_for(spans, 2)
        assert {format(s.context.trace_id, "032x") for s in _get_dataset(spans)} == {REST_TRACE_ID}
    assert {format(s.context.trace_id, "032x") for s in found} == {TRACE_ID}
    # The registry's span: a child of the client's (through Envoy) or of the gateway proxy's span.
    registry = next(s for s in found if s.attributes.get("maas.tenant") == "acme" and s.parent is not None)
    if proxied:
        gateway = next(s for s in found if s is not registry)
        assert format(gateway.parent.span_id, "016x") == CLIENT_SPAN
        assert registry.parent.span_id == gateway.context.span_id
    else:
        assert format(registry.parent.span_id, "016x") == CLIENT_SPAN


def _wait_for(exporter: InMemorySpanExporter, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(_get_dataset(exporter)) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def _get_dataset(exporter: InMemorySpanExporter) -> list:
    return [s for s in exporter.get_finished_spans() if s.name == GET_DATASET]
