"""Open Inference Protocol tensors <-> numpy, with validation that names the offending field."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.common.datatypes import DATATYPES, decode_bytes_elements, encode_bytes_elements
from services.common.errors import InvalidArgument


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 for variable dimensions


def check_tensor(field: str, datatype: str, shape: tuple[int, ...], spec: TensorSpec) -> None:
    """The datatype and shape of an input must match the signature (-1 matches any size)."""
    if datatype != spec.datatype:
        raise InvalidArgument(f"{field}: datatype {datatype!r} given, the model expects {spec.datatype}")
    if len(shape) != len(spec.shape) or any(s != e and e != -1 for s, e in zip(shape, spec.shape)):
        raise InvalidArgument(f"{field}: shape {list(shape)} does not match the model's {list(spec.shape)}")
    if any(d < 0 for d in shape):
        raise InvalidArgument(f"{field}: shape {list(shape)} has a negative dimension")


def datatype_of(dtype: np.dtype) -> str | None:
    """The protocol's datatype name of a numpy dtype, if it has one (strings and bytes are BYTES)."""
    if dtype.kind in "OSU":
        return "BYTES"
    for name, (candidate, _) in DATATYPES.items():
        if candidate == dtype:
            return name
    return None


def check_batch(arrays: dict[str, np.ndarray], specs: dict[str, TensorSpec], batched: bool = True) -> None:
    """Every input given and, for a model with a batch dimension, all with the same batch size."""
    missing = sorted(set(specs) - set(arrays))
    if missing:
        raise InvalidArgument(f"inputs: missing {missing}")
    batches = {array.shape[0] for array in arrays.values() if array.ndim}
    if batched and len(batches) > 1:
        raise InvalidArgument(f"inputs: batch sizes differ ({sorted(batches)})")


def _from_raw(data: bytes, spec: TensorSpec, shape: tuple[int, ...], index: int) -> np.ndarray:
    count = math.prod(shape)
    field = f"raw_input_contents[{index}]"
    if spec.datatype == "BYTES":
        return decode_bytes_elements(data, count, field).reshape(shape)
    dtype = DATATYPES[spec.datatype][0]
    if len(data) != count * dtype.itemsize:
        raise InvalidArgument(
            f"{field}: {len(data)} bytes, but shape {list(shape)} of {spec.datatype} needs {count * dtype.itemsize}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _from_contents(tensor, spec: TensorSpec, shape: tuple[int, ...], field: str) -> np.ndarray:
    dtype, contents_field = DATATYPES[spec.datatype]
    values = getattr(tensor.contents, contents_field)
    count = math.prod(shape)
    if len(values) != count:
        raise InvalidArgument(
            f"{field}: {len(values)} values in contents.{contents_field}, but shape {list(shape)} needs {count}"
        )
    if spec.datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    return np.asarray(values, dtype=dtype).reshape(shape)


def check_finite(arrays: dict[str, np.ndarray]) -> None:
    """Floating-point inputs hold no NaN or infinity: the first one found is named by input, row
    (the batch index) and column (the index within the row, flattened)."""
    for name, array in arrays.items():
        if array.dtype.kind != "f" or np.isfinite(array).all():
            continue
        index = np.unravel_index(int(np.argmin(np.isfinite(array))), array.shape)
        row = index[0] if array.ndim > 1 else 0
        column = int(np.ravel_multi_index(index[1:], array.shape[1:])) if array.ndim > 1 else int(index[0])
        raise InvalidArgument(
            f"input {name!r}: {array[index]} at row {row}, column {column}; this model refuses NaN and infinite "
            "values (register the version with accepts_non_finite to allow them)"
        )


def decode_inputs(
    request, specs: dict[str, TensorSpec], batched: bool = True, finite: bool = True
) -> dict[str, np.ndarray]:
    """Decode and check a ModelInferRequest's inputs against the model's signature (and, when
    `finite`, refuse NaN and infinities)."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidArgument(
            f"raw_input_contents: {len(raw)} entries for {len(request.inputs)} inputs; send one per input"
        )
    arrays: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(request.inputs):
        field = f"inputs[{i}] ({tensor.name!r})"
        spec = specs.get(tensor.name)
        if spec is None:
            raise InvalidArgument(f"{field}: the model has no input of that name; inputs: {sorted(specs)}")
        if tensor.name in arrays:
            raise InvalidArgument(f"{field}: input given twice")
        shape = tuple(tensor.shape)
        check_tensor(field, tensor.datatype, shape, spec)
        arrays[tensor.name] = _from_raw(raw[i], spec, shape, i) if raw else _from_contents(tensor, spec, shape, field)
    check_batch(arrays, specs, batched)
    if finite:
        check_finite(arrays)
    return arrays


def raw_bytes(array: np.ndarray, datatype: str) -> bytes:
    """A tensor's raw little-endian contents (length-prefixed elements for BYTES)."""
    if datatype == "BYTES":
        return encode_bytes_elements(array)
    return np.ascontiguousarray(array, dtype=DATATYPES[datatype][0]).tobytes()


def encode_outputs(response, outputs: dict[str, np.ndarray], specs: dict[str, TensorSpec], requested: list[str]):
    """Fill a ModelInferResponse with raw outputs (the Triton fast path)."""
    for i, name in enumerate(requested):
        if name not in specs:
            raise InvalidArgument(
                f"outputs[{i}] ({name!r}): the model has no output of that name; outputs: {sorted(specs)}"
            )
    for name in requested or list(specs):
        array = outputs[name]
        response.outputs.add(name=name, datatype=specs[name].datatype, shape=array.shape)
        response.raw_output_contents.append(raw_bytes(array, specs[name].datatype))
