"""The registry down while inference serves: models already loaded keep answering (by number and
by alias), a model that would need the registry gets UNAVAILABLE (never INTERNAL), and when the
registry is back on its address inference uses it again by itself."""

import time

import grpc
import numpy as np
import pytest

from maas.client.uploads import upload_resumable
from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from services.inference.config import InferenceSettings
from services.inference.server import build_server as build_inference
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests.conftest import ServerThread, running, service_settings, tenant_md
from tests.integration import byom_models

pytestmark = pytest.mark.slow
MD = tenant_md("outage")


def _register(channel, model_id: str, path) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    artifact = upload_resumable(registry, lambda timeout: {"metadata": MD, "timeout": timeout or 30}, path)
    version = rpb.ModelVersion(artifact=artifact.name)
    registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(parent=f"models/{model_id}", model_version=version), metadata=MD
    )


def _infer(stub, model: str, version: str = "1") -> np.ndarray:
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    for name, width in (("age", 3), ("score", 2)):
        request.inputs.add(name=name, datatype="FP32", shape=[1, width])
        request.raw_input_contents.append(np.ones((1, width), np.float32).tobytes())
    response = stub.ModelInfer(request, metadata=MD, timeout=60)
    return np.frombuffer(response.raw_output_contents[0], np.float32)


def test_loaded_models_serve_through_a_registry_outage_and_the_rest_recovers(tmp_path):
    byom_models.two_inputs(tmp_path / "pair.keras")
    registry_settings = service_settings(RegistrySettings, tmp_path / "registry")
    registry = ServerThread(build_registry, registry_settings).start()
    registry_settings.port = registry.server.port  # bound on port 0; restarted on the port it bound
    settings = service_settings(InferenceSettings, tmp_path / "inference", registry_addr=registry.address)
    with running(build_inference, settings) as inference, grpc.insecure_channel(inference.address) as channel:
        stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with grpc.insecure_channel(registry.address) as registry_channel:
            _register(registry_channel, "loaded", tmp_path / "pair.keras")
            _register(registry_channel, "cold", tmp_path / "pair.keras")
            registry_pb2_grpc.RegistryServiceStub(registry_channel).SetAlias(
                rpb.SetAliasRequest(alias=rpb.Alias(name="models/loaded/aliases/production", version=1)), metadata=MD
            )
        expected = _infer(stub, "loaded")
        _infer(stub, "loaded", "production")
        registry.stop()

        down = time.monotonic()
        answers = [_infer(stub, "loaded") for _ in range(20)]
        assert all(np.allclose(a, expected) for a in answers)
        with pytest.raises(grpc.RpcError) as cold:
            _infer(stub, "cold")
        assert cold.value.code() == grpc.StatusCode.UNAVAILABLE, cold.value.details()
        print(f"loaded model answered 20 calls during the outage; cold model: {cold.value.details()!r}")

        registry = ServerThread(build_registry, registry_settings).start()  # same port, same data
        try:
            back = time.monotonic()
            deadline = back + 30
            while True:
                try:
                    _infer(stub, "cold")
                    break
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
                    assert time.monotonic() < deadline, "inference did not use the registry again"
                    time.sleep(0.2)
            print(f"outage {back - down:.1f} s; the cold model served {time.monotonic() - back:.2f} s after it ended")
        finally:
            registry.stop()
