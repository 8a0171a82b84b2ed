"""What runs a loaded model's calls: TensorFlow's SavedModel signature, or that signature
converted to LiteRT (TensorFlow Lite), which computes the same graph with a fraction of the
per-call overhead: about 6 us against 400 us for the digits MLP here. Small models on CPU spend
most of a call in TensorFlow's Python wrapper, so this is where batch-1 throughput goes.

A converted model is used only when it agrees with the SavedModel on a probe batch; models that
do not convert (ops LiteRT lacks, string tensors) and GPU pods keep the SavedModel."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

Tensors = dict[str, np.ndarray]

# A converted model must match the SavedModel this closely on the probe batch (float32 sums in
# another order differ by a few ulps; a wrong conversion differs by far more).
RTOL = 1e-4
ATOL = 1e-5


class ModelRuntime(Protocol):
    name: str

    def __call__(self, inputs: Tensors) -> Tensors: ...


class SavedModelRuntime:
    """The SavedModel's signature function, called through TensorFlow."""

    name = "savedmodel"

    def __init__(self, saved_model, signature: str) -> None:
        # The signature function needs its SavedModel object (the variables) kept alive.
        self._saved_model = saved_model
        self._function = saved_model.signatures[signature]

    def __call__(self, inputs: Tensors) -> Tensors:
        import tensorflow as tf

        result = self._function(**{name: tf.constant(value) for name, value in inputs.items()})
        return {name: tensor.numpy() for name, tensor in result.items()}


class LiteRuntime:
    """A LiteRT interpreter of the converted signature. An interpreter is not thread-safe, and
    the batcher makes one call at a time per model anyway, so calls take a lock."""

    name = "lite"

    def __init__(self, flatbuffer: bytes, signature: str, threads: int | None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_content=flatbuffer, num_threads=threads)
        self._runner = self._interpreter.get_signature_runner(signature)
        self._lock = threading.Lock()

    def __call__(self, inputs: Tensors) -> Tensors:
        # The runner resizes its tensors to each batch and returns copies of the outputs.
        with self._lock:
            return self._runner(**inputs)


class LiteUnavailable(Exception):
    """The model cannot run on LiteRT; the message says why."""


def convert_to_lite(directory: Path, signature: str, threads: int | None) -> LiteRuntime:
    """Convert one signature of a SavedModel with LiteRT's built-in ops only (no TensorFlow ops
    inside the interpreter, which would bring the overhead back); raises LiteUnavailable."""
    try:
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_saved_model(str(directory), signature_keys=[signature])
        flatbuffer = converter.convert()
    except Exception as error:  # the converter raises many kinds; all mean "not convertible"
        missing = sorted(set(re.findall(r"'(tf\.\w+)' op is neither", str(error))))
        if missing:
            raise LiteUnavailable(f"ops LiteRT lacks: {', '.join(missing)}") from error
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise LiteUnavailable(f"conversion failed: {first_line[:300]}") from error
    try:
        return LiteRuntime(flatbuffer, signature, threads)
    except ImportError as error:
        raise LiteUnavailable("the ai-edge-litert package is not installed") from error
    except (RuntimeError, ValueError) as error:
        raise LiteUnavailable(f"the interpreter refused the converted model: {error}") from error


def disagreement(reference: Tensors, candidate: Tensors) -> str | None:
    """Why `candidate`'s outputs are not `reference`'s (names, shapes, dtypes or values), or None."""
    if set(reference) != set(candidate):
        return f"outputs {sorted(candidate)} instead of {sorted(reference)}"
    for name, expected in reference.items():
        got = candidate[name]
        if got.shape != expected.shape or got.dtype != expected.dtype:
            return f"output {name!r} is {got.dtype}{list(got.shape)} instead of {expected.dtype}{list(expected.shape)}"
        if not np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
            return f"output {name!r} differs by up to {worst:.3g}"
    return None
