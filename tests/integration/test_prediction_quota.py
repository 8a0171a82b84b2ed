"""The daily prediction quota is exact across inference replicas: each admits calls out of
leases the gateway grants, so with two replicas behind the door a plan of 100 a day admits
exactly 100 and `GetUsage` says 100."""

from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2_grpc
from tests.integration.gateway_stack import bearer, error_details, gateway_stack, started_calls
from tests.integration.test_inference_service import FEATURES, infer_request, register, set_production, tiny_model

pytestmark = pytest.mark.slow


def test_a_plan_of_100_a_day_admits_100_across_two_replicas(data_dir, tmp_path):
    with gateway_stack(data_dir, inference=True, inference_replicas=2) as stack:
        secret = stack.tenant("acme", stack.plan("hundred", predictions_per_day=100))
        with grpc.insecure_channel(stack.registry.address) as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            register(registry, tiny_model(1), tmp_path)
            set_production(registry, 1)
        infer = grpc_service_pb2_grpc.GRPCInferenceServiceStub(stack.channel).ModelInfer
        request = infer_request(np.zeros((1, FEATURES)))
        # Both replicas load the model first (a refused or failed call is not counted).
        for replica in stack.replicas:
            with grpc.insecure_channel(replica.address) as channel:
                grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
                    request, metadata=bearer(secret), timeout=60
                )

        def call(_):
            try:
                infer(request, metadata=bearer(secret), timeout=30)
            except grpc.RpcError as error:
                return error
            return None

        # 8 clients at once through the door, spread over both replicas.
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(call, range(98)))
        assert [r.code() for r in results if r is not None] == []
        assert all(started_calls(replica) > 2 for replica in stack.replicas)  # both served

        with pytest.raises(grpc.RpcError) as error:
            infer(request, metadata=bearer(secret), timeout=30)
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert set(error_details(error.value)) == {"RetryInfo", "QuotaFailure"}
        (violation,) = error_details(error.value)["QuotaFailure"].violations
        assert violation.description == "predictions per day: 100"
        assert stack.usage("acme", predictions=100).predictions == 100

        with pytest.raises(grpc.RpcError) as error:
            infer(request, metadata=bearer("maas_not_a_key"), timeout=30)
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Each refusal is counted by why, in the replica that refused it.
        refused = {
            reason: sum(
                replica.server.registry.get_sample_value(
                    "maas_gate_refused_total", {"grpc_service": "inference.GRPCInferenceService", "reason": reason}
                )
                or 0
                for replica in stack.replicas
            )
            for reason in ("predictions_per_day", "unauthenticated", "rate_limit")
        }
        assert refused == {"predictions_per_day": 1, "unauthenticated": 1, "rate_limit": 0}
