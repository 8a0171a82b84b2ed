"""The routing table, derived from the service descriptors: which backend serves a method,
its streaming kind and the scope a key needs for it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from maas.api.v1 import annotations_pb2 as api_pb
from maas.inference.v2 import grpc_service_pb2 as inference_pb
from maas.registry.v1 import registry_pb2
from maas.trainer.v1 import trainer_pb2

Scope = api_pb.Scope
REGISTRY_SERVICE = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"]
TRAINER_SERVICE = trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"]


class Quota(enum.Enum):
    """The plan limit a routed call is admitted against, besides the rate limit."""

    # Counted by the gateway per tenant and day.
    PREDICTIONS = "predictions per day"
    # The trainer's figure for the month: no new job once it is used up.
    TRAINING_TIME = "training seconds per month"
    # The registry's figure: nothing more stored once the tenant is at the limit.
    STORED_BYTES = "stored bytes"


QUOTAS = {
    "/inference.GRPCInferenceService/ModelInfer": Quota.PREDICTIONS,
    # A stream is admitted (and counted) once, when it opens: per-message metering is not done yet.
    "/inference.GRPCInferenceService/ModelStreamInfer": Quota.PREDICTIONS,
    "/tensorflow.serving.PredictionService/Predict": Quota.PREDICTIONS,
    "/tensorflow.serving.PredictionService/Classify": Quota.PREDICTIONS,
    "/tensorflow.serving.PredictionService/Regress": Quota.PREDICTIONS,
    "/tensorflow.serving.PredictionService/MultiInference": Quota.PREDICTIONS,
    "/maas.trainer.v1.TrainerService/CreateTrainingJob": Quota.TRAINING_TIME,
    "/maas.registry.v1.RegistryService/CreateDataset": Quota.STORED_BYTES,
    "/maas.registry.v1.RegistryService/UploadArtifact": Quota.STORED_BYTES,
    "/maas.registry.v1.RegistryService/CreateModelVersion": Quota.STORED_BYTES,
}
# Standard inference APIs carry no scope option; these are the exceptions to `predict`.
_INFERENCE_SCOPES = {"RepositoryModelLoad": Scope.SCOPE_TRAIN, "RepositoryModelUnload": Scope.SCOPE_TRAIN}


@dataclass(frozen=True)
class Route:
    backend: str
    method: str
    client_streaming: bool
    server_streaming: bool
    scope: int
    quota: Quota | None = None


def _scope(method: MethodDescriptor, default: int | None) -> int:
    scope = method.GetOptions().Extensions[api_pb.required_scope]
    if scope == Scope.SCOPE_UNSPECIFIED:
        if default is None:
            raise ValueError(f"{method.full_name} has no maas.api.v1.required_scope option")
        scope = _INFERENCE_SCOPES.get(method.name, default)
    return scope


def is_internal(method: MethodDescriptor) -> bool:
    return method.GetOptions().Extensions[api_pb.internal]


def read_methods(service: ServiceDescriptor) -> list[str]:
    """Unary methods that need only the read scope (Get*, List*): they change nothing, so a retry is safe."""
    return [
        m.name
        for m in service.methods
        if _scope(m, None) == Scope.SCOPE_READ and not m.client_streaming and not m.server_streaming
    ]


def _routes(backend: str, service: ServiceDescriptor, default_scope: int | None = None) -> dict[str, Route]:
    """Every public method of a service; internal ones are for the platform's services only."""
    return {
        f"/{service.full_name}/{m.name}": Route(
            backend,
            f"/{service.full_name}/{m.name}",
            m.client_streaming,
            m.server_streaming,
            _scope(m, default_scope),
            QUOTAS.get(f"/{service.full_name}/{m.name}"),
        )
        for m in service.methods
        if not is_internal(m)
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
            "inference", f"/{service}/{method}", False, False, scope, QUOTAS.get(f"/{service}/{method}")
        )
        for service, methods in _TF_SERVING.items()
        for method, scope in methods.items()
    }
    return {
        **tf_serving,
        **_routes("registry", REGISTRY_SERVICE),
        **_routes("trainer", TRAINER_SERVICE),
        **_routes("inference", inference_pb.DESCRIPTOR.services_by_name["GRPCInferenceService"], Scope.SCOPE_PREDICT),
    }
