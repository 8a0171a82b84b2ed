"""The shared interceptor maps a method the contract has but a servicer lacks to UNIMPLEMENTED,
on every service, instead of INTERNAL."""

import grpc
import pytest
from prometheus_client import CollectorRegistry

from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
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
