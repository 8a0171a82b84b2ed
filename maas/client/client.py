"""`MaasClient`: one authenticated channel to the gateway and the calls of the user's journey."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
from google.protobuf import struct_pb2

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2, admin_pb2_grpc
from maas.inference.v2 import grpc_service_pb2 as infer_pb
from maas.inference.v2 import grpc_service_pb2_grpc as infer_grpc
from maas.registry.v1 import registry_pb2, registry_pb2_grpc
from maas.trainer.v1 import trainer_pb2, trainer_pb2_grpc

CHUNK_BYTES = 1024 * 1024
# Calls that change nothing are retried when the gateway is briefly unavailable.
_SAFE_RETRY = {
    "grpc.service_config": (
        '{"methodConfig": [{"name": [{"service": "maas.registry.v1.RegistryService", "method": "GetModelVersion"},'
        ' {"service": "maas.trainer.v1.TrainerService", "method": "GetTrainingJob"}],'
        ' "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.2s", "maxBackoff": "2s",'
        ' "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}'
    )
}


class MaasError(Exception):
    """A call failed: `code` is the gRPC status, the message is the service's explanation."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except grpc.RpcError as error:
        raise MaasError(error.code(), error.details() or "") from None


class MaasClient:
    """Talks to the gateway with an API key. Use as a context manager or call `close()`."""

    def __init__(self, endpoint: str, api_key: str, timeout: float = 60.0) -> None:
        self.endpoint = endpoint
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout
        options = [
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.enable_retries", 1),
            *_SAFE_RETRY.items(),
        ]
        self._channel = grpc.insecure_channel(endpoint, options=options)
        self.admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self.trainer = trainer_pb2_grpc.TrainerServiceStub(self._channel)
        self.inference = infer_grpc.GRPCInferenceServiceStub(self._channel)

    def __enter__(self) -> MaasClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _kw(self, timeout: float | None = None) -> dict:
        return {"metadata": self._metadata, "timeout": timeout or self._timeout}

    # admin
    def create_tenant(self, tenant_id: str, display_name: str = "", plan: str = "") -> admin_pb2.Tenant:
        request = admin_pb2.CreateTenantRequest(
            tenant_id=tenant_id, tenant=admin_pb2.Tenant(display_name=display_name, plan=plan)
        )
        return _call(self.admin.CreateTenant, request, **self._kw())

    def create_api_key(
        self, tenant_id: str, display_name: str = "", scopes: tuple[str, ...] = ()
    ) -> admin_pb2.CreateApiKeyResponse:
        """Returns the key record and its secret (shown only once)."""
        key = admin_pb2.ApiKey(
            display_name=display_name, scopes=[api_pb.Scope.Value(f"SCOPE_{s.upper()}") for s in scopes]
        )
        return _call(
            self.admin.CreateApiKey,
            admin_pb2.CreateApiKeyRequest(parent=f"tenants/{tenant_id}", api_key=key),
            **self._kw(),
        )

    # datasets
    def upload_dataset(
        self,
        dataset_id: str,
        data: bytes | Path,
        fmt: str = "csv",
        description: str = "",
        progress: Callable[[int, int], None] | None = None,
    ) -> registry_pb2.Dataset:
        """Stream a CSV or NPZ file in chunks; `progress(sent, total)` is called after each chunk."""
        payload = data.read_bytes() if isinstance(data, Path) else data
        header = registry_pb2.CreateDatasetRequest.Header(
            dataset_id=dataset_id,
            description=description,
            sha256=hashlib.sha256(payload).hexdigest(),
            format=registry_pb2.DatasetFormat.Value(f"DATASET_FORMAT_{fmt.upper()}"),
        )

        def messages() -> Iterator[registry_pb2.CreateDatasetRequest]:
            yield registry_pb2.CreateDatasetRequest(header=header)
            for offset in range(0, len(payload), CHUNK_BYTES):
                chunk = payload[offset : offset + CHUNK_BYTES]
                yield registry_pb2.CreateDatasetRequest(chunk=chunk)
                if progress:
                    progress(offset + len(chunk), len(payload))

        return _call(self.registry.CreateDataset, messages(), **self._kw(600))

    # training
    def create_training_job(
        self,
        *,
        dataset: str,
        label_column: str,
        target_model: str,
        template: str = "mlp",
        parameters: dict | None = None,
        epochs: int = 20,
        batch_size: int = 32,
        learning_rate: float = 0.001,
        validation_split: float = 0.2,
        seed: int = 0,
        request_id: str = "",
    ) -> trainer_pb2.TrainingJob:
        params = struct_pb2.Struct()
        params.update(parameters or {})
        spec = trainer_pb2.TrainingJobSpec(
            dataset=trainer_pb2.DatasetInput(dataset=dataset, label_column=label_column),
            validation_split=validation_split,
            template=trainer_pb2.TemplateModel(name=template, parameters=params),
            hyperparameters=trainer_pb2.Hyperparameters(
                epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed
            ),
            target_model=f"models/{target_model}",
        )
        request = trainer_pb2.CreateTrainingJobRequest(
            training_job=trainer_pb2.TrainingJob(spec=spec), request_id=request_id
        )
        return _call(self.trainer.CreateTrainingJob, request, **self._kw())

    def get_training_job(self, name: str) -> trainer_pb2.TrainingJob:
        return _call(self.trainer.GetTrainingJob, trainer_pb2.GetTrainingJobRequest(name=name), **self._kw())

    def watch_training_job(
        self, name: str, after_sequence: int = 0, timeout: float = 3600
    ) -> Iterator[trainer_pb2.TrainingJobEvent]:
        """Yields the job's events until it ends; resumes from `after_sequence`."""
        stream = self.trainer.WatchTrainingJob(
            trainer_pb2.WatchTrainingJobRequest(name=name, after_sequence=after_sequence), **self._kw(timeout)
        )
        try:
            yield from stream
        except grpc.RpcError as error:
            raise MaasError(error.code(), error.details() or "") from None

    # models
    def get_model_version(self, name: str) -> registry_pb2.ModelVersion:
        return _call(self.registry.GetModelVersion, registry_pb2.GetModelVersionRequest(name=name), **self._kw())

    def set_alias(self, model: str, alias: str, version: int) -> registry_pb2.Alias:
        request = registry_pb2.SetAliasRequest(
            alias=registry_pb2.Alias(name=f"models/{model}/aliases/{alias}", version=version)
        )
        return _call(self.registry.SetAlias, request, **self._kw())

    # predictions
    def predict(
        self,
        model: str,
        features: np.ndarray,
        version: str = "",
        input_name: str = "features",
    ) -> dict[str, np.ndarray]:
        """Run inference on a float32 batch; returns the outputs by name as numpy arrays."""
        array = np.ascontiguousarray(features, dtype=np.float32)
        request = infer_pb.ModelInferRequest(model_name=model, model_version=version)
        request.inputs.add(name=input_name, datatype="FP32", shape=array.shape)
        request.raw_input_contents.append(array.tobytes())
        response = _call(self.inference.ModelInfer, request, **self._kw())
        dtypes = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32}
        return {
            out.name: np.frombuffer(raw, dtype=dtypes[out.datatype]).reshape(tuple(out.shape))
            for out, raw in zip(response.outputs, response.raw_output_contents)
        }
