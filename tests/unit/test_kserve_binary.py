"""Triton's binary tensor extension on the KServe v2 REST path: a JSON header of
`Inference-Header-Content-Length` bytes, then each tensor's raw bytes in order."""

import json

import numpy as np
import pytest

from maas.inference.v2 import grpc_service_pb2 as pb
from services.common.datatypes import encode_bytes_elements
from services.common.errors import InvalidArgument
from services.gateway.rest import kserve


def _body(header: dict, binary: bytes) -> tuple[bytes, str]:
    encoded = json.dumps(header).encode()
    return encoded + binary, str(len(encoded))


def test_binary_and_json_inputs_become_raw_contents_together():
    image = np.arange(6, dtype=np.uint8).reshape(1, 6)
    header = {
        "inputs": [
            {"name": "image", "datatype": "UINT8", "shape": [1, 6], "parameters": {"binary_data_size": 6}},
            {"name": "review", "datatype": "BYTES", "shape": [1], "data": ["great"]},
        ],
        "outputs": [{"name": "p", "parameters": {"binary_data": True}}, {"name": "q"}],
    }
    body, length = _body(header, image.tobytes())
    request, binary = kserve.infer_request(*kserve.split_binary(body, length), "m", "")
    assert list(request.raw_input_contents) == [image.tobytes(), encode_bytes_elements(np.array([b"great"]))]
    assert "binary_data_size" not in request.inputs[0].parameters
    assert binary == (False, {"p": True})


def test_an_empty_binary_input_in_a_body_without_binary_data_is_raw_contents():
    # binary_data_size 0 with no binary part: an empty tensor, sent raw (it was an AttributeError, a 500).
    header = {
        "inputs": [
            {"name": "empty", "datatype": "FP32", "shape": [0, 3], "parameters": {"binary_data_size": 0}},
            {"name": "n", "datatype": "INT64", "shape": [1], "data": [7]},
        ]
    }
    request, _ = kserve.infer_request(header, b"", "m", "")
    assert list(request.raw_input_contents) == [b"", np.array([7], dtype=np.int64).tobytes()]
    assert not request.inputs[1].contents.int64_contents


def test_outputs_asked_in_binary_come_after_the_json_header():
    response = pb.ModelInferResponse(model_name="m", model_version="1")
    response.outputs.add(name="p", datatype="FP32", shape=[1, 2])
    response.outputs.add(name="label", datatype="BYTES", shape=[1])
    values = np.array([[0.25, 0.75]], np.float32)
    response.raw_output_contents.extend([values.tobytes(), encode_bytes_elements(np.array([b"cat"], dtype=object))])
    header, binary = kserve.infer_response(response, (True, {"label": False}))
    parsed = json.loads(header)
    assert parsed["outputs"][0]["parameters"] == {"binary_data_size": 8} and "data" not in parsed["outputs"][0]
    assert parsed["outputs"][1]["data"] == ["cat"]
    assert np.frombuffer(binary, np.float32).tolist() == [0.25, 0.75]


@pytest.mark.parametrize(
    ("header", "binary", "length", "message"),
    [
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 8}}]},
         b"\x00" * 4, None, "past the end"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]}, b"\x00" * 4, None, "no input"),
        ({"inputs": []}, b"", "999", "not a length within the body"),
        ({"inputs": []}, b"", "³", "not a length within the body"),  # a digit to isdigit, not to int()
    ],
)  # fmt: skip
def test_inconsistent_binary_bodies_are_invalid_argument(header, binary, length, message):
    body, real_length = _body(header, binary)
    with pytest.raises(InvalidArgument, match=message):
        kserve.infer_request(*kserve.split_binary(body, length or real_length), "m", "")
