"""TensorFlow Serving's gRPC API (`tensorflow.serving.PredictionService` and `ModelService`),
so `tensorflow-serving-api` clients work unchanged. `version` selects a version number,
`version_label` an alias; neither means the `production` alias."""

# tensorflow-serving-api ships its generated modules without type stubs: their message classes
# exist only at run time, so the checker cannot see them.
# pyright: reportAttributeAccessIssue=false

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from maas.registry.v1 import registry_pb2 as rpb
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.metadata import tenant_of
from services.common.validation import check_id
from services.inference import examples
from services.inference.codec import TensorSpec, check_batch, check_finite, check_tensor, datatype_of
from services.inference.predictor import Call, Predictor
from services.inference.routing import routing_key_of
from services.inference.signature import ModelSignature

# The *_grpc modules do not load the files of their service descriptors, which reflection answers from.
SERVICE_FILES = (prediction_service_pb2.DESCRIPTOR, model_service_pb2.DESCRIPTOR)

_TF_DTYPES = {
    "BOOL": tf.bool,
    "UINT8": tf.uint8,
    "UINT16": tf.uint16,
    "UINT32": tf.uint32,
    "UINT64": tf.uint64,
    "INT8": tf.int8,
    "INT16": tf.int16,
    "INT32": tf.int32,
    "INT64": tf.int64,
    "FP16": tf.float16,
    "FP32": tf.float32,
    "FP64": tf.float64,
    "BYTES": tf.string,
}


def _reference(model_spec) -> tuple[str, str]:
    if not model_spec.name:
        raise InvalidArgument("model_spec.name: required")
    model_id = check_id(model_spec.name, "model_spec.name")
    if model_spec.HasField("version"):
        return model_id, str(model_spec.version.value)
    return model_id, model_spec.version_label


def _check_signature(model_spec, signature: ModelSignature) -> None:
    if model_spec.signature_name not in ("", signature.key):
        raise FailedPrecondition(f"model_spec.signature_name: the model has only {signature.key!r}")


def _decode(inputs, signature: ModelSignature) -> dict[str, np.ndarray]:
    specs = signature.inputs
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
    check_batch(arrays, specs, signature.batched)
    if not signature.accepts_non_finite:
        check_finite(arrays)
    return arrays


def _tensor_info(key: str, spec: TensorSpec) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=f"{key}_{spec.name}:0", dtype=_TF_DTYPES[spec.datatype].as_datatype_enum)
    for size in spec.shape:
        info.tensor_shape.dim.add(size=size)
    return info


# Per example method: its single request, its field in a MultiInference result, how results fill.
_EXAMPLE_METHODS = {
    examples.CLASSIFY: (
        classification_pb2.ClassificationRequest,
        "classification_result",
        examples.fill_classifications,
    ),
    examples.REGRESS: (regression_pb2.RegressionRequest, "regression_result", examples.fill_regressions),
}


def _fill_spec(target, model_id: str, call: Call) -> None:
    target.name = model_id
    target.version.value = call.model.key.version
    target.signature_name = call.model.signature.key


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    async def Predict(self, request, context):
        model_id, ref = _reference(request.model_spec)
        call = await self.predictor.call(
            tenant_of(context), model_id, ref, context.time_remaining(), routing_key_of(context.invocation_metadata())
        )
        async with call:
            _check_signature(request.model_spec, call.model.signature)
            outputs = await call.infer(_decode(request.inputs, call.model.signature))
        unknown = sorted(set(request.output_filter) - set(call.model.outputs))
        if unknown:
            raise InvalidArgument(
                f"output_filter: the model has no outputs {unknown}; outputs: {sorted(call.model.outputs)}"
            )
        response = predict_pb2.PredictResponse()
        _fill_spec(response.model_spec, model_id, call)
        for name in request.output_filter or call.model.outputs:
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response

    async def _on_examples(self, request, context, method: str) -> tuple[str, Call, np.ndarray]:
        """Run a Classify/Regress request's examples; returns the model id, the call and its outputs."""
        model_id, ref = _reference(request.model_spec)
        kind = request.input.WhichOneof("kind")
        if kind is None:
            raise InvalidArgument("input: example_list or example_list_with_context is required")
        listed = getattr(request.input, kind)
        rows = list(listed.examples)
        if kind == "example_list_with_context":
            # The context's features apply to every example (the examples' own win).
            merged = []
            for example in rows:
                combined = type(listed.context)()
                combined.CopyFrom(listed.context)
                combined.MergeFrom(example)
                merged.append(combined)
            rows = merged
        call = await self.predictor.call(
            tenant_of(context), model_id, ref, context.time_remaining(), routing_key_of(context.invocation_metadata())
        )
        async with call:
            _check_signature(request.model_spec, call.model.signature)
            pick = examples.scores_output if method == examples.CLASSIFY else examples.value_output
            output = pick(call.model.signature)
            outputs = await call.infer(examples.examples_inputs(rows, call.model.signature, method))
        return model_id, call, outputs[output]

    async def _answer_examples(self, request, context, method: str, response, result) -> None:
        """Run a Classify/Regress request into `response` (its model spec) and `result`."""
        model_id, call, values = await self._on_examples(request, context, method)
        _fill_spec(response.model_spec, model_id, call)
        _EXAMPLE_METHODS[method][2](result, values)

    async def Classify(self, request, context):
        response = classification_pb2.ClassificationResponse()
        await self._answer_examples(request, context, examples.CLASSIFY, response, response.result)
        return response

    async def Regress(self, request, context):
        response = regression_pb2.RegressionResponse()
        await self._answer_examples(request, context, examples.REGRESS, response, response.result)
        return response

    async def MultiInference(self, request, context):
        if not request.tasks:
            raise InvalidArgument("tasks: at least one task is required")
        response = inference_pb2.MultiInferenceResponse()
        for i, task in enumerate(request.tasks):
            if task.method_name not in _EXAMPLE_METHODS:
                raise InvalidArgument(
                    f"tasks[{i}].method_name: {task.method_name!r}; one of {sorted(_EXAMPLE_METHODS)}"
                )
            request_class, field, _ = _EXAMPLE_METHODS[task.method_name]
            single = request_class(model_spec=task.model_spec, input=request.input)
            result = response.results.add()
            await self._answer_examples(single, context, task.method_name, result, getattr(result, field))
        return response

    async def GetModelMetadata(self, request, context):
        model_id, ref = _reference(request.model_spec)
        if list(request.metadata_field) != ["signature_def"]:
            raise InvalidArgument("metadata_field: only ['signature_def'] is supported")
        number, signature, _ = await self.predictor.signature(tenant_of(context), model_id, ref)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        definition = signatures.signature_def[signature.key]
        definition.method_name = "tensorflow/serving/predict"
        for name, spec in signature.inputs.items():
            definition.inputs[name].CopyFrom(_tensor_info(signature.key, spec))
        for name, spec in signature.outputs.items():
            definition.outputs[name].CopyFrom(_tensor_info(signature.key, spec))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = model_id
        response.model_spec.version.value = number
        response.metadata["signature_def"].Pack(signatures)
        return response


class ModelStatusServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    async def GetModelStatus(self, request, context):
        tenant = tenant_of(context)
        model_id, ref = _reference(request.model_spec)
        version = await self.predictor.version(tenant, model_id, ref)
        loaded = self.predictor.loaded_version(tenant, model_id, version.version)
        state = get_model_status_pb2.ModelVersionStatus.State
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add(version=version.version)
        if version.state == rpb.ModelVersion.State.STATE_FAILED:
            # A version that failed validation never serves: END, with why.
            status.state = state.END
            status.status.error_code = grpc.StatusCode.FAILED_PRECONDITION.value[0]
            status.status.error_message = version.state_reason
            return response
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
