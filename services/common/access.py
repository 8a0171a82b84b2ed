"""Who may call a method, from the contract: the scope an API key needs (the
`maas.api.v1.required_scope` method option), whether the method is internal (the platform's own
services only) and which plan limit admits it. Every service and the gateway read this one table."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2
from maas.inference.v2 import grpc_service_pb2 as inference_pb
from maas.registry.v1 import registry_pb2
from maas.trainer.v1 import trainer_pb2

Scope = api_pb.Scope
REGISTRY_SERVICE = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"]
TRAINER_SERVICE = trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"]
INFERENCE_SERVICE = inference_pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]


class Quota(enum.Enum):
    """The plan limit a call is admitted against, besides the rate limit."""

    # Counted per tenant and day, out of leases from the gateway.
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

# TensorFlow Serving's services, by name: their descriptors come with tensorflow-serving-api,
# which imports TensorFlow, and only inference does. All their methods are unary.
TF_SERVING = {
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


@dataclass(frozen=True)
class Access:
    """What a caller needs for one method (`/package.Service/Method`)."""

    service: str
    method: str
    client_streaming: bool
    server_streaming: bool
    scope: int
    internal: bool = False
    quota: Quota | None = None

    @property
    def name(self) -> str:
        return f"/{self.service}/{self.method}"


def _scope(method: MethodDescriptor, default: int | None) -> int:
    scope = method.GetOptions().Extensions[api_pb.required_scope]  # pyright: ignore[reportArgumentType]
    if scope == Scope.SCOPE_UNSPECIFIED:
        if default is None:
            raise ValueError(f"{method.full_name} has no maas.api.v1.required_scope option")
        scope = _INFERENCE_SCOPES.get(method.name, default)
    return scope


def is_internal(method: MethodDescriptor) -> bool:
    return method.GetOptions().Extensions[api_pb.internal]  # pyright: ignore[reportArgumentType]


def read_methods(service: ServiceDescriptor) -> list[str]:
    """Unary methods that need only the read scope (Get*, List*): they change nothing, so a retry is safe."""
    return [
        m.name
        for m in service.methods
        if _scope(m, None) == Scope.SCOPE_READ and not m.client_streaming and not m.server_streaming
    ]


def service_access(service: ServiceDescriptor, default_scope: int | None = None) -> dict[str, Access]:
    return {
        f"/{service.full_name}/{m.name}": Access(
            service.full_name,
            m.name,
            m.client_streaming,
            m.server_streaming,
            _scope(m, default_scope),
            is_internal(m),
            QUOTAS.get(f"/{service.full_name}/{m.name}"),
        )
        for m in service.methods
    }


def tf_serving_access() -> dict[str, Access]:
    return {
        f"/{service}/{method}": Access(service, method, False, False, scope, False, QUOTAS.get(f"/{service}/{method}"))
        for service, methods in TF_SERVING.items()
        for method, scope in methods.items()
    }


# Every method a service serves to callers it authenticates, by backend.
BACKENDS: dict[str, dict[str, Access]] = {
    "registry": service_access(REGISTRY_SERVICE),
    "trainer": service_access(TRAINER_SERVICE),
    "inference": {**tf_serving_access(), **service_access(INFERENCE_SERVICE, Scope.SCOPE_PREDICT)},
}
METHODS: dict[str, Access] = {name: access for methods in BACKENDS.values() for name, access in methods.items()}

# What a service may do for a tenant (the tenant it names in `x-maas-tenant`), beside reading
# the gateway's credentials and leasing quota, which every service does: the scopes it may use
# on a peer's public methods, and the internal methods it may call.
PEER_GRANTS: dict[str, dict[str, tuple[frozenset[int], frozenset[str]]]] = {
    # Job processes read datasets, write checkpoints and register the trained version.
    "trainer": {
        REGISTRY_SERVICE.full_name: (frozenset({Scope.SCOPE_READ, Scope.SCOPE_TRAIN}), frozenset()),
    },
    # Inference reads versions, aliases and artifacts, watches events, reports validation and drift,
    # moves an alias as a rollout plan says, and stores sampled payloads.
    "inference": {
        REGISTRY_SERVICE.full_name: (
            frozenset({Scope.SCOPE_READ, Scope.SCOPE_TRAIN}),
            frozenset({"ReportModelVersionValidation", "ReportModelVersionDrift", "CreatePayloadLog"}),
        ),
    },
    # The gateway asks the owners for the figures GetUsage reports.
    "gateway": {
        REGISTRY_SERVICE.full_name: (frozenset(), frozenset({"GetStorageUsage"})),
        TRAINER_SERVICE.full_name: (frozenset(), frozenset({"GetTrainingUsage"})),
    },
}


def peer_may(identity: str, access: Access) -> bool:
    """Whether the platform service `identity` may call `access` acting for a tenant."""
    scopes, internal = PEER_GRANTS.get(identity, {}).get(access.service, (frozenset(), frozenset()))
    return access.method in internal if access.internal else access.scope in scopes
