import numpy as np
import pytest

from maas.inference.v2 import grpc_service_pb2 as pb
from services.common.errors import InvalidArgument
from services.inference.codec import TensorSpec, decode_inputs, encode_outputs

SPECS = {"features": TensorSpec("features", "FP32", (-1, 4))}


def request(shape, data=None, datatype="FP32", name="features", raw=True):
    req = pb.ModelInferRequest(model_name="m")
    tensor = req.inputs.add(name=name, datatype=datatype, shape=shape)
    values = np.arange(int(np.prod(shape)), dtype=np.float32) if data is None else data
    if raw:
        req.raw_input_contents.append(np.asarray(values, np.float32).tobytes())
    else:
        tensor.contents.fp32_contents.extend(np.asarray(values, np.float32).ravel().tolist())
    return req


def test_decodes_raw_and_typed_contents_identically():
    raw = decode_inputs(request([2, 4]), SPECS)["features"]
    typed = decode_inputs(request([2, 4], raw=False), SPECS)["features"]
    np.testing.assert_array_equal(raw, typed)
    assert raw.shape == (2, 4) and raw.dtype == np.float32


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (request([2, 4], datatype="FP64"), "datatype 'FP64' given, the model expects FP32"),
        (request([2, 5]), r"shape \[2, 5\] does not match"),
        (request([2, 4], data=np.zeros(7)), r"raw_input_contents\[0\]: 28 bytes, but shape \[2, 4\] of FP32 needs 32"),
        (request([2, 4], data=np.zeros(7), raw=False), "7 values in contents.fp32_contents"),
        (request([2, 4], name="pixels"), "no input of that name"),
    ],
)
def test_bad_inputs_are_invalid_argument_naming_the_field(req, message):
    with pytest.raises(InvalidArgument, match=message):
        decode_inputs(req, SPECS)


def test_missing_and_duplicate_inputs():
    specs = {**SPECS, "mask": TensorSpec("mask", "FP32", (-1, 4))}
    with pytest.raises(InvalidArgument, match=r"missing \['mask'\]"):
        decode_inputs(request([1, 4]), specs)
    twice = request([1, 4])
    twice.inputs.add(name="features", datatype="FP32", shape=[1, 4])
    twice.raw_input_contents.append(np.zeros(4, np.float32).tobytes())
    with pytest.raises(InvalidArgument, match="given twice"):
        decode_inputs(twice, SPECS)


def test_encode_outputs_raw_and_filters_requested():
    specs = {"p": TensorSpec("p", "FP32", (-1, 2)), "q": TensorSpec("q", "FP32", (-1, 1))}
    outputs = {"p": np.array([[0.25, 0.75]], np.float32), "q": np.array([[1.0]], np.float32)}
    response = pb.ModelInferResponse()
    encode_outputs(response, outputs, specs, ["p"])
    assert [o.name for o in response.outputs] == ["p"]
    np.testing.assert_array_equal(np.frombuffer(response.raw_output_contents[0], np.float32), [0.25, 0.75])
    with pytest.raises(InvalidArgument, match="no output of that name"):
        encode_outputs(pb.ModelInferResponse(), outputs, specs, ["nope"])


TEXT = {"review": TensorSpec("review", "BYTES", (-1,))}


def test_bytes_tensors_travel_length_prefixed_raw_or_as_bytes_contents():
    from services.common.datatypes import encode_bytes_elements

    values = np.array([b"good", b"", "caf\u00e9".encode()], dtype=object)
    raw = pb.ModelInferRequest(model_name="m")
    raw.inputs.add(name="review", datatype="BYTES", shape=[3])
    raw.raw_input_contents.append(encode_bytes_elements(values))
    assert raw.raw_input_contents[0][:8] == b"\x04\x00\x00\x00good"
    typed = pb.ModelInferRequest(model_name="m")
    typed.inputs.add(name="review", datatype="BYTES", shape=[3]).contents.bytes_contents.extend(values.tolist())
    for message in (raw, typed):
        decoded = decode_inputs(message, TEXT)["review"]
        assert decoded.dtype == object and decoded.tolist() == values.tolist()
    response = pb.ModelInferResponse()
    encode_outputs(response, {"review": values}, TEXT, [])
    assert response.raw_output_contents[0] == raw.raw_input_contents[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x05\x00\x00\x00abc", "past the end"),
        (b"\x01\x00\x00\x00a\x01\x00", "fewer than the 2"),
        (b"\x01\x00\x00\x00a\x01\x00\x00\x00bzz", "left over"),
    ],
)
def test_malformed_bytes_tensors_are_invalid_argument(data, message):
    req = pb.ModelInferRequest(model_name="m")
    req.inputs.add(name="review", datatype="BYTES", shape=[2])
    req.raw_input_contents.append(data)
    with pytest.raises(InvalidArgument, match=message):
        decode_inputs(req, TEXT)


def test_a_model_without_a_batch_dimension_takes_inputs_of_different_leading_sizes():
    specs = {"a": TensorSpec("a", "FP32", (3,)), "b": TensorSpec("b", "FP32", (2,))}
    req = pb.ModelInferRequest(model_name="m")
    for name, size in (("a", 3), ("b", 2)):
        req.inputs.add(name=name, datatype="FP32", shape=[size]).contents.fp32_contents.extend([1.0] * size)
    with pytest.raises(InvalidArgument, match="batch sizes differ"):
        decode_inputs(req, specs)
    assert decode_inputs(req, specs, batched=False)["a"].shape == (3,)
