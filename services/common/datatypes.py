"""The Open Inference Protocol's tensor datatypes: numpy dtype (little-endian, as raw contents
travel) and the typed `contents` field that carries each one, and the length-prefixed raw form
of BYTES tensors."""

from __future__ import annotations

import struct

import numpy as np

from services.common.errors import InvalidArgument

DATATYPES: dict[str, tuple[np.dtype, str]] = {
    "BOOL": (np.dtype(np.bool_), "bool_contents"),
    "UINT8": (np.dtype("<u1"), "uint_contents"),
    "UINT16": (np.dtype("<u2"), "uint_contents"),
    "UINT32": (np.dtype("<u4"), "uint_contents"),
    "UINT64": (np.dtype("<u8"), "uint64_contents"),
    "INT8": (np.dtype("<i1"), "int_contents"),
    "INT16": (np.dtype("<i2"), "int_contents"),
    "INT32": (np.dtype("<i4"), "int_contents"),
    "INT64": (np.dtype("<i8"), "int64_contents"),
    "FP16": (np.dtype("<f2"), "fp32_contents"),
    "FP32": (np.dtype("<f4"), "fp32_contents"),
    "FP64": (np.dtype("<f8"), "fp64_contents"),
    # Strings: numpy object arrays of `bytes`.
    "BYTES": (np.dtype(object), "bytes_contents"),
}
_LENGTH = struct.Struct("<I")


def encode_bytes_elements(array: np.ndarray) -> bytes:
    """A BYTES tensor in the protocol's raw form: each element as a 4-byte little-endian length
    followed by its bytes, in row-major order."""
    parts = []
    for value in array.ravel():
        data = value.encode() if isinstance(value, str) else bytes(value)
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_bytes_elements(raw: bytes, count: int, field: str) -> np.ndarray:
    """The `count` elements of a raw BYTES tensor as an object array; malformed input is INVALID_ARGUMENT."""
    values = np.empty(count, dtype=object)
    offset = 0
    view = memoryview(raw)
    for i in range(count):
        if offset + 4 > len(raw):
            raise InvalidArgument(
                f"{field}: {len(raw)} bytes hold fewer than the {count} length-prefixed elements needed"
            )
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InvalidArgument(f"{field}: element {i} claims {length} bytes, past the end of the tensor")
        values[i] = bytes(view[offset : offset + length])
        offset += length
    if offset != len(raw):
        raise InvalidArgument(f"{field}: {len(raw) - offset} bytes left over after {count} elements")
    return values
