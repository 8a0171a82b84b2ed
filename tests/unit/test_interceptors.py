"""The shared interceptor's error mapping: a domain error is its own status (with its details), a
method the contract has but a servicer lacks is UNIMPLEMENTED, an unexpected exception is INTERNAL
with a generic message and its traceback in the log; each counted by its code."""

from contextlib import asynccontextmanager

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from services.common.errors import NotFound, ResourceExhausted
from services.common.interceptors import ObservabilityInterceptor
from services.common.metrics import GrpcServerMetrics


@pytest.mark.asyncio
async def test_an_unimplemented_method_is_unimplemented_not_internal():
    registry = CollectorRegistry()
    server = grpc.aio.server(interceptors=[ObservabilityInterceptor(GrpcServerMetrics(registry))])
    # The generated base class: every method raises NotImplementedError.
    grpc_service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        grpc_service_pb2_grpc.GRPCInferenceServiceServicer(), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await stub.ModelConfig(pb.ModelConfigRequest(name="m"))
    finally:
        await server.stop(None)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "inference.GRPCInferenceService/ModelConfig is not implemented" in error.value.details()
    labels = {"grpc_type": "unary", "grpc_service": "inference.GRPCInferenceService", "grpc_method": "ModelConfig"}
    assert registry.get_sample_value("grpc_server_handled_total", {**labels, "grpc_code": "UNIMPLEMENTED"}) == 1


class _Boom(Exception):
    """An exception no domain code raises on purpose: a bug."""


_RAISES = {
    "NotFound": NotFound("models/m not found"),
    "Exhausted": ResourceExhausted(
        "quota reached",
        details=[error_details_pb2.QuotaFailure(violations=[{"subject": "tenants/acme", "description": "rows"}])],
    ),
    "Boom": _Boom("secret table name in a bug's message"),
}


def _raising(error: Exception):
    async def handle(request: bytes, context) -> bytes:
        raise error

    return grpc.unary_unary_rpc_method_handler(handle)


@asynccontextmanager
async def _server(registry: CollectorRegistry):
    """A server of `test.Raising/<name>` methods, each raising `_RAISES[name]`, behind the interceptor."""
    server = grpc.aio.server(interceptors=[ObservabilityInterceptor(GrpcServerMetrics(registry))])
    handlers = {name: _raising(error) for name, error in _RAISES.items()}
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Raising", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(None)


async def _call(channel: grpc.aio.Channel, name: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await channel.unary_unary(f"/test.Raising/{name}")(b"", metadata=(("x-request-id", "req-1"),))
    return error.value


def _handled(registry: CollectorRegistry, name: str, code: str) -> float | None:
    labels = {"grpc_type": "unary", "grpc_service": "test.Raising", "grpc_method": name, "grpc_code": code}
    return registry.get_sample_value("grpc_server_handled_total", labels)


@pytest.mark.asyncio
async def test_a_domain_error_is_its_status_with_its_details():
    registry = CollectorRegistry()
    async with _server(registry) as channel:
        missing = await _call(channel, "NotFound")
        exhausted = await _call(channel, "Exhausted")
    assert (missing.code(), missing.details()) == (grpc.StatusCode.NOT_FOUND, "models/m not found")
    assert exhausted.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(exhausted)
    assert status is not None and status.message == "quota reached"
    failure = error_details_pb2.QuotaFailure()
    assert status.details[0].Unpack(failure) and failure.violations[0].subject == "tenants/acme"
    assert _handled(registry, "NotFound", "NOT_FOUND") == 1
    assert _handled(registry, "Exhausted", "RESOURCE_EXHAUSTED") == 1


@pytest.mark.asyncio
async def test_an_unexpected_exception_is_internal_with_a_generic_message_and_a_logged_traceback():
    registry = CollectorRegistry()
    with capture_logs() as logs:
        async with _server(registry) as channel:
            error = await _call(channel, "Boom")
    assert error.code() == grpc.StatusCode.INTERNAL
    # The caller learns the request id to quote, nothing of the bug.
    assert error.details() == "internal error (request_id=req-1)"
    (logged,) = [entry for entry in logs if entry["event"] == "unhandled exception"]
    assert logged["log_level"] == "error" and isinstance(logged["exc_info"], _Boom)
    (line,) = [entry for entry in logs if entry["event"] == "rpc"]
    assert (line["log_level"], line["code"]) == ("warning", "INTERNAL")
    assert _handled(registry, "Boom", "INTERNAL") == 1
