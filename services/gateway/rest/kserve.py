"""The KServe v2 (Open Inference Protocol) REST binding <-> its gRPC messages.

The REST and gRPC forms of the protocol differ in shape (`data` arrays of any nesting instead of
typed `contents`, parameters as plain JSON values), so inference paths get this small codec
instead of the generic transcoder.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from google.protobuf import json_format

from maas.inference.v2 import grpc_service_pb2 as pb
from services.common.datatypes import DATATYPES, decode_bytes_elements, encode_bytes_elements
from services.common.errors import InvalidArgument
from services.common.validation import is_number
from services.gateway.rest.transcoding import decode_json


def _object(value, where: str) -> dict:
    """An optional JSON object member, copied ({} when absent)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: an object is required")
    return dict(value)


def _set_parameters(target, parameters: dict, where: str) -> None:
    """`parameters` (an object `_object` has checked) into a protobuf parameter map."""
    for key, value in parameters.items():
        # bool before int: True is an int in Python.
        if isinstance(value, bool):
            target[key].bool_param = value
        elif isinstance(value, int):
            target[key].int64_param = value
        elif isinstance(value, float):
            target[key].double_param = value
        elif isinstance(value, str):
            target[key].string_param = value
        else:
            raise InvalidArgument(f"{where}.{key}: a parameter is a boolean, number or string")


def _parameters_json(parameters) -> dict:
    return {key: getattr(value, value.WhichOneof("parameter_choice")) for key, value in parameters.items()}


def _shape(tensor: dict, where: str) -> list[int]:
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise InvalidArgument(f"{where}.shape: a list of integers is required")
    if any(d < 0 for d in shape):
        raise InvalidArgument(f"{where}.shape: {shape} has a negative dimension")
    return shape


def _json_array(datatype: str, shape: list[int], data, where: str) -> np.ndarray:
    """A tensor's JSON `data` (nested or flat, row-major) as a flat array of its datatype; BYTES
    values are JSON strings (UTF-8)."""
    count = math.prod(shape)
    if datatype == "BYTES":
        values = list(np.asarray(data, dtype=object).ravel()) if data != [] else []
        if not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"{where}.data: BYTES values are strings")
        array = np.empty(len(values), dtype=object)
        array[:] = [v.encode() for v in values]
    else:
        try:
            array = np.asarray(data, dtype=DATATYPES[datatype][0]).ravel()
        except (TypeError, ValueError, OverflowError):
            raise InvalidArgument(f"{where}.data: not an array of {datatype} values") from None
    if array.size != count:
        raise InvalidArgument(f"{where}.data: {array.size} values, but shape {shape} needs {count}")
    return array


def _raw(datatype: str, array: np.ndarray) -> bytes:
    if datatype == "BYTES":
        return encode_bytes_elements(array)
    return np.ascontiguousarray(array, dtype=DATATYPES[datatype][0]).tobytes()


def split_binary(body: bytes, header_length: str | None) -> tuple[dict, bytes]:
    """The JSON header and the binary tensor data of an inference request body."""
    if header_length is None:
        return json_object(body, required=True), b""
    if not is_number(header_length) or int(header_length) > len(body):
        raise InvalidArgument(f"Inference-Header-Content-Length: {header_length!r} is not a length within the body")
    length = int(header_length)
    return json_object(body[:length], required=True), body[length:]


def json_object(body: bytes, required: bool = False) -> dict:
    """A request body's JSON object ({} for an empty optional body)."""
    if not body.strip():
        if required:
            raise InvalidArgument("body: an inference request is a JSON object")
        return {}
    value = decode_json(body)
    if not isinstance(value, dict):
        raise InvalidArgument("body: a JSON object is required")
    return value


def _binary_size(tensor: dict, where: str) -> int | None:
    size = (tensor.get("parameters") or {}).get("binary_data_size")
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument(f"{where}.parameters.binary_data_size: a byte count is required")
    return size


def infer_request(body: dict, binary: bytes, model_name: str, model_version: str):
    """A REST inference request (its JSON header and binary data) as a ModelInferRequest, and
    which outputs to answer in binary: (default for all, {name: choice})."""
    try:
        return _infer_request(body, binary, model_name, model_version)
    except (ValueError, TypeError, OverflowError, UnicodeError) as error:
        # What protobuf refuses to hold (an int past int64, a string with lone surrogates) came from the
        # client's JSON; the checks above name the common cases.
        raise InvalidArgument(f"body: a value the inference request cannot hold ({error})") from None


def _infer_request(body: dict, binary: bytes, model_name: str, model_version: str):
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgument("inputs: a non-empty list of tensors is required")
    request = pb.ModelInferRequest(model_name=model_name, model_version=model_version, id=str(body.get("id", "")))
    parameters = _object(body.get("parameters"), "parameters")
    binary_default = bool(parameters.pop("binary_data_output", False))
    _set_parameters(request.parameters, parameters, "parameters")
    contents: list[tuple[str, bytes | np.ndarray]] = []
    offset = 0
    for i, tensor in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InvalidArgument(f"{where}: a tensor is an object with a name")
        datatype = tensor.get("datatype")
        if not isinstance(datatype, str) or datatype not in DATATYPES:
            raise InvalidArgument(f"{where}.datatype: {datatype!r} is not one of {sorted(DATATYPES)}")
        shape = _shape(tensor, where)
        tensor_pb = request.inputs.add(name=tensor["name"], datatype=datatype, shape=shape)
        tensor_parameters = _object(tensor.get("parameters"), f"{where}.parameters")
        size = _binary_size(tensor, where)
        tensor_parameters.pop("binary_data_size", None)
        _set_parameters(tensor_pb.parameters, tensor_parameters, f"{where}.parameters")
        if size is not None:
            if offset + size > len(binary):
                raise InvalidArgument(f"{where}.parameters.binary_data_size: {size} bytes past the end of the body")
            contents.append((datatype, binary[offset : offset + size]))
            offset += size
        elif "data" in tensor:
            contents.append((datatype, _json_array(datatype, shape, tensor["data"], where)))
        else:
            raise InvalidArgument(f"{where}.data: required (or parameters.binary_data_size)")
    if offset != len(binary):
        raise InvalidArgument(f"body: {len(binary) - offset} bytes of binary data no input claims")
    if any(isinstance(c, bytes) for _, c in contents):
        # The protocol has raw contents for all inputs or for none: JSON ones go raw too. An input of
        # binary_data_size 0 is binary all the same, even in a body with no binary part.
        request.raw_input_contents.extend(c if isinstance(c, bytes) else _raw(d, c) for d, c in contents)
    else:
        for tensor_pb, (datatype, array) in zip(request.inputs, contents):
            assert isinstance(array, np.ndarray)
            values = array.tolist() if datatype != "FP16" else array.astype(np.float32).tolist()
            getattr(tensor_pb.contents, DATATYPES[datatype][1]).extend(values)
    choices = {}
    outputs = body.get("outputs") or []
    if not isinstance(outputs, list):
        raise InvalidArgument("outputs: a list of requested outputs is required")
    for i, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise InvalidArgument(f"outputs[{i}]: a requested output is an object with a name")
        output_parameters = _object(output.get("parameters"), f"outputs[{i}].parameters")
        if "binary_data" in output_parameters:
            choices[output["name"]] = bool(output_parameters.pop("binary_data"))
        requested = request.outputs.add(name=output["name"])
        _set_parameters(requested.parameters, output_parameters, f"outputs[{i}].parameters")
    return request, (binary_default, choices)


def _output_data(output, raw: bytes | None) -> list:
    if output.datatype == "BYTES":
        if raw is not None:
            values = decode_bytes_elements(raw, math.prod(output.shape), f"output {output.name!r}")
        else:
            values = output.contents.bytes_contents
        return [v.decode(errors="replace") for v in values]
    dtype, field = DATATYPES[output.datatype]
    if raw is not None:
        return np.frombuffer(raw, dtype=dtype).tolist()
    return list(getattr(output.contents, field))


def infer_response(response: pb.ModelInferResponse, binary_outputs=(False, {})) -> tuple[bytes, bytes]:
    """The REST answer: its JSON header and the binary data of the outputs asked for in binary."""
    raw = list(response.raw_output_contents)
    default, choices = binary_outputs
    outputs, binary = [], []
    for i, output in enumerate(response.outputs):
        item = {"name": output.name, "datatype": output.datatype, "shape": list(output.shape)}
        parameters = _parameters_json(output.parameters) if output.parameters else {}
        data = raw[i] if raw else None
        if choices.get(output.name, default):
            if data is None:
                data = _raw(output.datatype, np.asarray(_output_data(output, None), dtype=object))
            parameters["binary_data_size"] = len(data)
            binary.append(data)
        else:
            item["data"] = _output_data(output, data)
        if parameters:
            item["parameters"] = parameters
        outputs.append(item)
    body = {"model_name": response.model_name, "model_version": response.model_version, "outputs": outputs}
    if response.id:
        body["id"] = response.id
    if response.parameters:
        body["parameters"] = _parameters_json(response.parameters)
    return json.dumps(body).encode(), b"".join(binary)


def _numbers(value: Any) -> Any:
    """Protobuf's JSON writes 64-bit integers as strings; Triton's answers have numbers."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, str) and is_number(value.removeprefix("-")):
        return int(value)
    return value


def model_config(response: pb.ModelConfigResponse) -> dict:
    """The configuration as Triton's REST answers it: field names as in the proto, enums by name."""
    return _numbers(json_format.MessageToDict(response.config, preserving_proto_field_name=True))


def statistics(response: pb.ModelStatisticsResponse) -> dict:
    return _numbers(
        json_format.MessageToDict(response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    )


def _tensor_metadata(tensors) -> list[dict]:
    return [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in tensors]


def model_metadata(response: pb.ModelMetadataResponse) -> dict:
    return {
        "name": response.name,
        "versions": list(response.versions),
        "platform": response.platform,
        "inputs": _tensor_metadata(response.inputs),
        "outputs": _tensor_metadata(response.outputs),
    }


def server_metadata(response: pb.ServerMetadataResponse) -> dict:
    return {"name": response.name, "version": response.version, "extensions": list(response.extensions)}


def repository_index(response: pb.RepositoryIndexResponse) -> list[dict]:
    return [{"name": m.name, "version": m.version, "state": m.state, "reason": m.reason} for m in response.models]
