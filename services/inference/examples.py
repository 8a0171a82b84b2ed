"""TensorFlow Serving's Classify and Regress on models that were not exported with its
classification or regression signatures: `tf.train.Example` features become the model's named
inputs, and the model's outputs are read as class scores or as a regressed value, when the
signature fits. What does not fit is UNIMPLEMENTED, with what would."""

from __future__ import annotations

import math

import numpy as np

from services.common.datatypes import DATATYPES
from services.common.errors import InvalidArgument, Unimplemented
from services.inference.codec import TensorSpec
from services.inference.signature import ModelSignature

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def _feature_values(feature, name: str, index: int) -> list:
    kind = feature.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument(f"input.examples[{index}].features[{name!r}]: empty feature")
    return list(getattr(feature, kind).value)


def examples_inputs(examples: list, signature: ModelSignature, method: str) -> dict[str, np.ndarray]:
    """One batch of model inputs from Examples: feature `name` feeds input `name`."""
    if not signature.batched:
        raise Unimplemented(f"{method} needs a model with a batch dimension; serve this one with Predict")
    if not examples:
        raise InvalidArgument("input: at least one example is required")
    arrays = {}
    for name, spec in signature.inputs.items():
        row_shape = spec.shape[1:]
        if any(d < 0 for d in row_shape):
            raise Unimplemented(
                f"{method} needs inputs of fixed shape; input {name!r} is {list(spec.shape)}: use Predict"
            )
        rows = []
        for i, example in enumerate(examples):
            feature = example.features.feature.get(name)
            if feature is None:
                raise InvalidArgument(
                    f"input.examples[{i}]: feature {name!r} missing; the model takes {sorted(signature.inputs)}"
                )
            values = _feature_values(feature, name, i)
            if len(values) != math.prod(row_shape):
                raise InvalidArgument(
                    f"input.examples[{i}].features[{name!r}]: {len(values)} values; the input takes {list(row_shape)}"
                )
            rows.append(values)
        dtype = DATATYPES[spec.datatype][0]
        try:
            array = np.array(rows, dtype=dtype) if spec.datatype != "BYTES" else np.array(rows, dtype=object)
        except (TypeError, ValueError):
            raise InvalidArgument(f"input: feature {name!r} does not fit the model's {spec.datatype}") from None
        arrays[name] = array.reshape((len(examples), *row_shape))
    return arrays


def _float_outputs(signature: ModelSignature) -> list[TensorSpec]:
    return [s for s in signature.outputs.values() if s.datatype in ("FP16", "FP32", "FP64")]


def scores_output(signature: ModelSignature) -> str:
    """The output read as class scores: the model's one float output of shape [batch, classes]."""
    found = [s for s in _float_outputs(signature) if len(s.shape) == 2 and s.shape[1] > 0]
    if len(signature.outputs) != 1 or len(found) != 1:
        raise Unimplemented(
            f"Classify needs a model with one float output of shape [batch, classes]; this one has "
            f"{_describe(signature)}: use Predict"
        )
    return found[0].name


def value_output(signature: ModelSignature) -> str:
    """The output read as the regressed value: one float output of shape [batch] or [batch, 1]."""
    found = [s for s in _float_outputs(signature) if s.shape[1:] in ((), (1,))]
    if len(signature.outputs) != 1 or len(found) != 1:
        raise Unimplemented(
            f"Regress needs a model with one float output of shape [batch] or [batch, 1]; this one has "
            f"{_describe(signature)}: use Predict"
        )
    return found[0].name


def _describe(signature: ModelSignature) -> str:
    return ", ".join(f"{s.name} {s.datatype}{list(s.shape)}" for s in signature.outputs.values())


def fill_classifications(result, scores: np.ndarray) -> None:
    """ClassificationResult: per example, every class index with its score."""
    for row in scores:
        classifications = result.classifications.add()
        for index, score in enumerate(row):
            classifications.classes.add(label=str(index), score=float(score))


def fill_regressions(result, values: np.ndarray) -> None:
    for value in values.reshape(len(values), -1)[:, 0]:
        result.regressions.add(value=float(value))
