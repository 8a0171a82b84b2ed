"""TensorFlow Serving's gRPC API (`tensorflow.serving.PredictionService` and `ModelService`),
so `tensorflow-serving-api` clients work unchanged. `version` selects a version number,
`version_label` an alias; neither means the `production` alias."""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.metadata import tenant_of
from services.common.validation import check_id
from services.inference.codec import DATATYPES, TensorSpec, check_batch, check_tensor, datatype_of
from services.inference.predictor import Predictor
from services.inference.repository import LoadedModel, ModelKey

DEFAULT_SIGNATURE = "serving_default"
_TF_DTYPES = {name: tf.as_dtype(dtype).as_datatype_enum for name, (dtype, _) in DATATYPES.items()}


def _reference(model_spec) -> tuple[str, str]:
    if not model_spec.name:
        raise InvalidArgument("model_spec.name: required")
    model_id = check_id(model_spec.name, "model_spec.name")
    if model_spec.HasField("version"):
        return model_id, str(model_spec.version.value)
    return model_id, model_spec.version_label


def _check_signature(model_spec) -> None:
    if model_spec.signature_name not in ("", DEFAULT_SIGNATURE):
        raise FailedPrecondition(f"model_spec.signature_name: the model has only {DEFAULT_SIGNATURE!r}")


def _decode(inputs, specs: dict[str, TensorSpec]) -> dict[str, np.ndarray]:
    arrays = {}
    for name, proto in inputs.items():
        field = f"inputs[{name!r}]"
        spec = specs.get(name)
        if spec is None:
            raise InvalidArgument(f"{field}: the model has no input of that name; inputs: {sorted(specs)}")
        try:
            array = tf.make_ndarray(proto)
        except (TypeError, ValueError) as error:
            raise InvalidArgument(f"{field}: not a readable TensorProto ({error})") from None
        check_tensor(field, datatype_of(array.dtype) or str(array.dtype), array.shape, spec)
        arrays[name] = array
    check_batch(arrays, specs)
    return arrays


def _tensor_info(spec: TensorSpec) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=f"{DEFAULT_SIGNATURE}_{spec.name}:0", dtype=_TF_DTYPES[spec.datatype])
    for size in spec.shape:
        info.tensor_shape.dim.add(size=size)
    return info


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    async def Predict(self, request, context):
        tenant = tenant_of(context)
        model_id, ref = _reference(request.model_spec)
        _check_signature(request.model_spec)
        model, outputs = await self.predictor.predict(
            tenant, model_id, ref, lambda m: _decode(request.inputs, m.inputs), context.time_remaining()
        )
        unknown = sorted(set(request.output_filter) - set(model.outputs))
        if unknown:
            raise InvalidArgument(
                f"output_filter: the model has no outputs {unknown}; outputs: {sorted(model.outputs)}"
            )
        response = predict_pb2.PredictResponse()
        response.model_spec.name = model_id
        response.model_spec.version.value = model.key.version
        response.model_spec.signature_name = DEFAULT_SIGNATURE
        for name in request.output_filter or model.outputs:
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response

    async def GetModelMetadata(self, request, context):
        tenant = tenant_of(context)
        model_id, ref = _reference(request.model_spec)
        if list(request.metadata_field) != ["signature_def"]:
            raise InvalidArgument("metadata_field: only ['signature_def'] is supported")
        version = await self.predictor.repository.resolve(tenant, model_id, ref)
        inputs = {t.name: TensorSpec(t.name, t.datatype, tuple(t.shape)) for t in version.signature.inputs}
        outputs = {t.name: TensorSpec(t.name, t.datatype, tuple(t.shape)) for t in version.signature.outputs}
        signatures = get_model_metadata_pb2.SignatureDefMap()
        signature = signatures.signature_def[DEFAULT_SIGNATURE]
        signature.method_name = "tensorflow/serving/predict"
        for name, spec in inputs.items():
            signature.inputs[name].CopyFrom(_tensor_info(spec))
        for name, spec in outputs.items():
            signature.outputs[name].CopyFrom(_tensor_info(spec))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = model_id
        response.model_spec.version.value = version.version
        response.metadata["signature_def"].Pack(signatures)
        return response


class ModelStatusServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.repository = predictor.repository

    async def GetModelStatus(self, request, context):
        tenant = tenant_of(context)
        model_id, ref = _reference(request.model_spec)
        version = await self.repository.resolve(tenant, model_id, ref)
        loaded: LoadedModel | None = self.repository.get_loaded(ModelKey(tenant, model_id, version.version))
        state = get_model_status_pb2.ModelVersionStatus.State
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add(version=version.version)
        # Versions load on first use: a known version not in memory yet reports START.
        status.state = state.AVAILABLE if loaded is not None else state.START
        status.status.error_code = 0
        return response

    async def HandleReloadConfigRequest(self, request, context):
        raise NotFound("model config reloads do not apply: models come from the registry")


def register_prediction(servicer: PredictionServicer, server: grpc.aio.Server) -> None:
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)


def register_model_service(servicer: ModelStatusServicer, server: grpc.aio.Server) -> None:
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, server)
