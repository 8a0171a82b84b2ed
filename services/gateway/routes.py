"""The routing table, derived from the service descriptors: which backend serves a method,
its streaming kind and the scope a key needs for it."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from maas.api.v1 import annotations_pb2 as api_pb
from maas.inference.v2 import grpc_service_pb2 as inference_pb
from maas.registry.v1 import registry_pb2
from maas.trainer.v1 import trainer_pb2

Scope = api_pb.Scope

# Calls that run a model: metered as predictions.
PREDICTION_METHODS = frozenset(
    {
        "/inference.GRPCInferenceService/ModelInfer",
        "/tensorflow.serving.PredictionService/Predict",
        "/tensorflow.serving.PredictionService/Classify",
        "/tensorflow.serving.PredictionService/Regress",
        "/tensorflow.serving.PredictionService/MultiInference",
    }
)
# Standard inference APIs carry no scope option; these are the exceptions to `predict`.
_INFERENCE_SCOPES = {"RepositoryModelLoad": Scope.SCOPE_TRAIN, "RepositoryModelUnload": Scope.SCOPE_TRAIN}


@dataclass(frozen=True)
class Route:
    backend: str
    method: str
    client_streaming: bool
    server_streaming: bool
    scope: int
    # Counts against the plan's daily prediction quota.
    prediction: bool = False


def _scope(method: MethodDescriptor, default: int | None) -> int:
    scope = method.GetOptions().Extensions[api_pb.required_scope]
    if scope == Scope.SCOPE_UNSPECIFIED:
        if default is None:
            raise ValueError(f"{method.full_name} has no maas.api.v1.required_scope option")
        scope = _INFERENCE_SCOPES.get(method.name, default)
    return scope


def _routes(backend: str, service: ServiceDescriptor, default_scope: int | None = None) -> dict[str, Route]:
    return {
        f"/{service.full_name}/{m.name}": Route(
            backend,
            f"/{service.full_name}/{m.name}",
            m.client_streaming,
            m.server_streaming,
            _scope(m, default_scope),
            f"/{service.full_name}/{m.name}" in PREDICTION_METHODS,
        )
        for m in service.methods
    }


# TensorFlow Serving's services, by name: their descriptors come with tensorflow-serving-api,
# which imports TensorFlow, and the gateway never does. All their methods are unary.
_TF_SERVING = {
    "tensorflow.serving.PredictionService": {
        "Classify": Scope.SCOPE_PREDICT,
        "Regress": Scope.SCOPE_PREDICT,
        "Predict": Scope.SCOPE_PREDICT,
        "MultiInference": Scope.SCOPE_PREDICT,
        "GetModelMetadata": Scope.SCOPE_PREDICT,
    },
    "tensorflow.serving.ModelService": {
        "GetModelStatus": Scope.SCOPE_PREDICT,
        "HandleReloadConfigRequest": Scope.SCOPE_ADMIN,
    },
}


def build_routes() -> dict[str, Route]:
    tf_serving = {
        f"/{service}/{method}": Route(
            "inference", f"/{service}/{method}", False, False, scope, f"/{service}/{method}" in PREDICTION_METHODS
        )
        for service, methods in _TF_SERVING.items()
        for method, scope in methods.items()
    }
    return {
        **tf_serving,
        **_routes("registry", registry_pb2.DESCRIPTOR.services_by_name["RegistryService"]),
        **_routes("trainer", trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"]),
        **_routes("inference", inference_pb.DESCRIPTOR.services_by_name["GRPCInferenceService"], Scope.SCOPE_PREDICT),
    }
