"""The KServe v2 (Open Inference Protocol) REST binding <-> its gRPC messages.

The REST and gRPC forms of the protocol differ in shape (`data` arrays of any nesting instead of
typed `contents`, parameters as plain JSON values), so inference paths get this small codec
instead of the generic transcoder.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from maas.inference.v2 import grpc_service_pb2 as pb
from services.common.datatypes import DATATYPES
from services.common.errors import InvalidArgument


def _set_parameters(target, parameters, where: str) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        raise InvalidArgument(f"{where}: parameters must be an object")
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


def _fill_contents(tensor_pb, datatype: str, shape: list[int], data, where: str) -> None:
    count = math.prod(shape)
    if datatype == "BYTES":
        values = list(np.asarray(data, dtype=object).ravel()) if data != [] else []
        if len(values) != count:
            raise InvalidArgument(f"{where}.data: {len(values)} values, but shape {shape} needs {count}")
        if not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"{where}.data: BYTES values are strings")
        tensor_pb.contents.bytes_contents.extend(v.encode() for v in values)
        return
    dtype, field = DATATYPES[datatype]
    try:
        array = np.asarray(data, dtype=dtype if datatype != "FP16" else np.float32).ravel()
    except (TypeError, ValueError):
        raise InvalidArgument(f"{where}.data: not an array of {datatype} values") from None
    if array.size != count:
        raise InvalidArgument(f"{where}.data: {array.size} values, but shape {shape} needs {count}")
    getattr(tensor_pb.contents, field).extend(array.tolist())


def infer_request(body, model_name: str, model_version: str) -> pb.ModelInferRequest:
    """A REST inference request (decoded JSON) as a ModelInferRequest."""
    if not isinstance(body, dict):
        raise InvalidArgument("body: an inference request is a JSON object")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgument("inputs: a non-empty list of tensors is required")
    request = pb.ModelInferRequest(model_name=model_name, model_version=model_version, id=str(body.get("id", "")))
    _set_parameters(request.parameters, body.get("parameters"), "parameters")
    for i, tensor in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InvalidArgument(f"{where}: a tensor is an object with a name")
        datatype = tensor.get("datatype")
        if datatype != "BYTES" and datatype not in DATATYPES:
            raise InvalidArgument(f"{where}.datatype: {datatype!r} is not one of {sorted([*DATATYPES, 'BYTES'])}")
        if "data" not in tensor:
            raise InvalidArgument(f"{where}.data: required")
        shape = _shape(tensor, where)
        tensor_pb = request.inputs.add(name=tensor["name"], datatype=datatype, shape=shape)
        _set_parameters(tensor_pb.parameters, tensor.get("parameters"), f"{where}.parameters")
        _fill_contents(tensor_pb, datatype, shape, tensor["data"], where)
    for i, output in enumerate(body.get("outputs") or []):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise InvalidArgument(f"outputs[{i}]: a requested output is an object with a name")
        requested = request.outputs.add(name=output["name"])
        _set_parameters(requested.parameters, output.get("parameters"), f"outputs[{i}].parameters")
    return request


def _raw_bytes_elements(raw: bytes) -> list[str]:
    """BYTES tensors travel raw as 4-byte little-endian lengths, each followed by its bytes."""
    values, offset = [], 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<I", raw, offset)
        values.append(raw[offset + 4 : offset + 4 + length].decode(errors="replace"))
        offset += 4 + length
    return values


def _output_data(output, raw: bytes | None) -> list:
    if output.datatype == "BYTES":
        if raw is not None:
            return _raw_bytes_elements(raw)
        return [v.decode(errors="replace") for v in output.contents.bytes_contents]
    dtype, field = DATATYPES[output.datatype]
    if raw is not None:
        return np.frombuffer(raw, dtype=dtype).tolist()
    return list(getattr(output.contents, field))


def infer_response(response: pb.ModelInferResponse) -> dict:
    raw = list(response.raw_output_contents)
    outputs = []
    for i, output in enumerate(response.outputs):
        item = {
            "name": output.name,
            "datatype": output.datatype,
            "shape": list(output.shape),
            "data": _output_data(output, raw[i] if raw else None),
        }
        if output.parameters:
            item["parameters"] = _parameters_json(output.parameters)
        outputs.append(item)
    body = {"model_name": response.model_name, "model_version": response.model_version, "outputs": outputs}
    if response.id:
        body["id"] = response.id
    if response.parameters:
        body["parameters"] = _parameters_json(response.parameters)
    return body


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
