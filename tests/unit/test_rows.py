"""A prediction is a row: the batch dimension of each prediction API's request."""

import pytest

from maas.inference.v2 import grpc_service_pb2 as kserve
from services.common.rows import prediction_rows


def test_kserve_rows_are_the_first_inputs_batch_dimension():
    request = kserve.ModelInferRequest(model_name="m")
    assert prediction_rows(request) == 1  # no input: still a call, one row
    request.inputs.add(name="x", datatype="FP32", shape=[359, 4])
    request.inputs.add(name="y", datatype="FP32", shape=[1])
    assert prediction_rows(request) == 359
    scalar = kserve.ModelInferRequest(inputs=[kserve.ModelInferRequest.InferInputTensor(name="x", shape=[])])
    assert prediction_rows(scalar) == 1
    empty = kserve.ModelInferRequest(inputs=[kserve.ModelInferRequest.InferInputTensor(name="x", shape=[0, 4])])
    assert prediction_rows(empty) == 1


def test_tf_serving_rows_are_the_batch_or_the_examples():
    apis = pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2
    from tensorflow_serving.apis import classification_pb2, inference_pb2, regression_pb2

    predict = apis.PredictRequest()
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in (12, 3)]
    predict.inputs["b"].CopyFrom(tensor_pb2.TensorProto(tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims)))
    predict.inputs["c"].CopyFrom(tensor_pb2.TensorProto())
    assert prediction_rows(predict) == 12  # the first input by name
    classify = classification_pb2.ClassificationRequest()
    classify.input.example_list.examples.add()
    classify.input.example_list.examples.add()
    assert prediction_rows(classify) == 2
    regress = regression_pb2.RegressionRequest()
    for _ in range(5):
        regress.input.example_list_with_context.examples.add()
    assert prediction_rows(regress) == 5
    assert prediction_rows(inference_pb2.MultiInferenceRequest()) == 1
