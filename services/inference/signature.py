"""A model's serving signature, derived from the SavedModel itself (never typed by a user):
input and output names, datatypes and shapes, and whether the first dimension is a batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maas.registry.v1 import registry_pb2 as rpb
from services.common.datatypes import DATATYPES
from services.inference.codec import TensorSpec

DEFAULT_SIGNATURE = "serving_default"
# TensorFlow dtype names -> the protocol's datatypes.
_TF_TO_DATATYPE = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "string": "BYTES",
}


class SignatureError(Exception):
    """The model's signature cannot be served; the message says why."""


@dataclass(frozen=True)
class ModelSignature:
    key: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    # The version's input policy, set by whoever registered it (never derived from the model).
    accepts_non_finite: bool = False

    @property
    def batched(self) -> bool:
        """Whether every input and output has a variable first dimension: the batch. Models
        without one are called one request at a time."""
        tensors = [*self.inputs.values(), *self.outputs.values()]
        return all(t.shape and t.shape[0] == -1 for t in tensors)

    def to_proto(self) -> rpb.Signature:
        return rpb.Signature(
            method_name=self.key,
            inputs=[rpb.TensorSpec(name=t.name, datatype=t.datatype, shape=t.shape) for t in self.inputs.values()],
            outputs=[rpb.TensorSpec(name=t.name, datatype=t.datatype, shape=t.shape) for t in self.outputs.values()],
            accepts_non_finite=self.accepts_non_finite,
        )

    @classmethod
    def from_proto(cls, signature: rpb.Signature) -> ModelSignature:
        def specs(tensors) -> dict[str, TensorSpec]:
            return {t.name: TensorSpec(t.name, t.datatype, tuple(t.shape)) for t in tensors}

        return cls(
            signature.method_name or DEFAULT_SIGNATURE,
            specs(signature.inputs),
            specs(signature.outputs),
            signature.accepts_non_finite,
        )

    def differences(self, other: ModelSignature) -> str | None:
        """How `other` (what the registry says) differs from this one (what the model has), or None."""
        if (self.inputs, self.outputs) == (other.inputs, other.outputs):
            return None

        def describe(s: ModelSignature) -> str:
            return ", ".join(f"{t.name} {t.datatype}{list(t.shape)}" for t in [*s.inputs.values(), *s.outputs.values()])

        return f"the model's signature is {describe(self)}, not {describe(other)} as registered"

    def probe_inputs(self, batch_rows: int, seed: int | None = None) -> dict[str, np.ndarray]:
        """Inputs a model call accepts: zeros (empty strings), or seeded random values for
        comparing runtimes. Variable dimensions take `batch_rows` for the batch, 1 elsewhere."""
        rng = np.random.default_rng(seed)
        inputs = {}
        for name, spec in self.inputs.items():
            shape = [batch_rows if i == 0 and d == -1 and self.batched else max(d, 1) for i, d in enumerate(spec.shape)]
            dtype = DATATYPES[spec.datatype][0]
            if spec.datatype == "BYTES":
                array = np.empty(shape, dtype=object)
                array.fill(b"" if seed is None else b"probe")
            elif seed is None:
                array = np.zeros(shape, dtype)
            elif dtype.kind == "f":
                array = rng.standard_normal(shape).astype(dtype)
            else:
                array = rng.integers(0, 2 if dtype.kind == "b" else 10, shape).astype(dtype)
            inputs[name] = array
        return inputs


def _spec(name: str, tensor_spec) -> TensorSpec:
    datatype = _TF_TO_DATATYPE.get(tensor_spec.dtype.name)
    if datatype is None:
        raise SignatureError(f"tensor {name!r} has dtype {tensor_spec.dtype.name}, which cannot be served")
    if tensor_spec.shape.rank is None:
        raise SignatureError(f"tensor {name!r} has no known rank")
    return TensorSpec(name, datatype, tuple(-1 if d is None else int(d) for d in tensor_spec.shape.as_list()))


def choose_signature(signatures) -> str:
    """`serving_default`, or the only signature there is."""
    keys = sorted(signatures.keys())
    if DEFAULT_SIGNATURE in keys:
        return DEFAULT_SIGNATURE
    if len(keys) == 1:
        return keys[0]
    if not keys:
        raise SignatureError("no serving signature: export the model with a `serving_default` signature")
    raise SignatureError(f"no `serving_default` signature among {keys}: which one to serve is ambiguous")


def derive(saved_model) -> ModelSignature:
    """The serving signature of a loaded SavedModel (`tf.saved_model.load`)."""
    key = choose_signature(saved_model.signatures)
    function = saved_model.signatures[key]
    args, kwargs = function.structured_input_signature
    if args:
        raise SignatureError(f"signature {key!r} takes positional inputs; serving needs named ones")
    inputs = {name: _spec(name, spec) for name, spec in sorted(kwargs.items())}
    outputs = function.structured_outputs
    if not isinstance(outputs, dict) or not outputs:
        raise SignatureError(f"signature {key!r} must return a dict of named outputs")
    if not inputs:
        raise SignatureError(f"signature {key!r} takes no inputs")
    return ModelSignature(key, inputs, {name: _spec(name, spec) for name, spec in sorted(outputs.items())})
