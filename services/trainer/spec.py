"""Validation of job specs at the edge (no TensorFlow here): templates, hyperparameters and
the allowlist that a Keras model JSON must pass before anything deserialises it."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format

from maas.trainer.v1 import trainer_pb2 as pb
from services.common.errors import InvalidArgument
from services.common.validation import check_id, parse_dataset_name, parse_name

OPTIMIZERS = frozenset({"adam", "adamw", "sgd", "rmsprop"})
TASKS = frozenset({"classification", "regression"})
ACTIVATIONS = frozenset(
    {
        "relu",
        "sigmoid",
        "softmax",
        "tanh",
        "linear",
        "elu",
        "selu",
        "gelu",
        "swish",
        "silu",
        "softplus",
        "softsign",
        "exponential",
        "leaky_relu",
        "relu6",
        "hard_sigmoid",
        "mish",
        "log_softmax",
    }
)
# Template name -> parameter name -> check.
TEMPLATE_PARAMETERS: dict[str, dict[str, str]] = {
    "mlp": {"hidden_units": "units", "dropout": "fraction", "activation": "activation", "task": "task"},
    "linear": {},
    "logistic": {},
    "cnn": {
        "image_shape": "shape",
        "filters": "units",
        "kernel_size": "positive",
        "hidden_units": "units",
        "dropout": "fraction",
    },
    # Trains on image datasets: a model taking uint8 images of any size.
    "image_classifier": {
        "image_size": "image_size",
        "channels": "channels",
        "filters": "units",
        "dropout": "fraction",
        "augmentation": "bool",
    },
    # Trains on text datasets: a model taking raw strings.
    "text_classifier": {
        "encoder": "encoder",
        "max_tokens": "tokens",
        "sequence_length": "length",
        "embedding_dim": "width",
        "units": "width",
        "heads": "heads",
        "dropout": "fraction",
    },
}
# Templates that train on image or text datasets (not tabular ones), and the encoders of text.
CLASSIFIER_TEMPLATES = frozenset({"image_classifier", "text_classifier"})
TEXT_ENCODERS = ("transformer", "gru", "lstm")

# Keras classes a model JSON may name: built-in layers, initialisers, regularisers, constraints.
KERAS_CLASSES = frozenset(
    {
        "Sequential",
        "Functional",
        "InputLayer",
        "Dense",
        "Dropout",
        "Flatten",
        "Reshape",
        "Permute",
        "RepeatVector",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "PReLU",
        "ELU",
        "Softmax",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "SeparableConv2D",
        "DepthwiseConv2D",
        "Conv2DTranspose",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "AveragePooling1D",
        "AveragePooling2D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "UnitNormalization",
        "Normalization",
        "Rescaling",
        "Embedding",
        "LSTM",
        "GRU",
        "SimpleRNN",
        "Bidirectional",
        "Concatenate",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "Cropping1D",
        "Cropping2D",
        "UpSampling1D",
        "UpSampling2D",
        "GaussianNoise",
        "GaussianDropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "AlphaDropout",
        "GlorotUniform",
        "GlorotNormal",
        "HeNormal",
        "HeUniform",
        "LecunNormal",
        "LecunUniform",
        "Zeros",
        "Ones",
        "Constant",
        "RandomNormal",
        "RandomUniform",
        "TruncatedNormal",
        "Orthogonal",
        "Identity",
        "VarianceScaling",
        "L1",
        "L2",
        "L1L2",
        "OrthogonalRegularizer",
        "MaxNorm",
        "MinMaxNorm",
        "NonNeg",
        "UnitNorm",
        "DTypePolicy",
        "FloatDTypePolicy",
    }
)
KERAS_MODULES = frozenset(
    {
        None,
        "keras",
        "keras.layers",
        "keras.initializers",
        "keras.regularizers",
        "keras.constraints",
        "keras.models",
        "keras.src.models.functional",
        "keras.src.models.sequential",
    }
)
# Keys in a layer config whose string values name activations.
_ACTIVATION_KEYS = frozenset({"activation", "recurrent_activation"})
MAX_MODEL_JSON_BYTES = 1024 * 1024
# Processes (or pods) of one multi-worker job.
MAX_WORKERS = 64


def check_keras_model_json(text: str) -> dict[str, Any]:
    """Refuse anything but built-in classes; returns the parsed JSON. Names the offending entry."""
    if len(text.encode()) > MAX_MODEL_JSON_BYTES:
        raise InvalidArgument(f"keras_model_json: larger than {MAX_MODEL_JSON_BYTES} bytes")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgument(f"keras_model_json: not valid JSON ({error})") from None
    if not isinstance(config, dict) or config.get("class_name") not in ("Sequential", "Functional"):
        raise InvalidArgument("keras_model_json: the top level must be a Sequential or Functional model")
    _walk(config, "keras_model_json")
    return config


def _walk(node: Any, path: str) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, f"{path}[{i}]")
        return
    if not isinstance(node, dict):
        return
    for key in node:
        if not isinstance(key, str) or key.startswith("__"):
            raise InvalidArgument(f"{path}: key {key!r} is not allowed")
    if "class_name" in node:
        class_name = node["class_name"]
        if class_name not in KERAS_CLASSES:
            raise InvalidArgument(
                f"{path}: class {class_name!r} is not allowed (only built-in Keras layers, "
                "initializers and regularizers; no Lambda or custom objects)"
            )
        if node.get("module") not in KERAS_MODULES:
            raise InvalidArgument(f"{path}: module {node.get('module')!r} is not allowed")
        if node.get("registered_name") not in (None, class_name):
            raise InvalidArgument(f"{path}: registered_name {node.get('registered_name')!r} is not allowed")
    for key, value in node.items():
        if key in _ACTIVATION_KEYS and not (value is None or (isinstance(value, str) and value in ACTIVATIONS)):
            raise InvalidArgument(f"{path}.{key}: activation {value!r} is not allowed")
        if key == "function" or key == "custom_objects":
            raise InvalidArgument(f"{path}.{key}: functions and custom objects are not allowed")
        _walk(value, f"{path}.{key}")


_RANGES = {
    "image_size": " (an integer in 8..512)",
    "channels": " (1 or 3)",
    "bool": " (true or false)",
    "encoder": f" (one of {', '.join(TEXT_ENCODERS)})",
    "tokens": " (an integer in 16..200000)",
    "length": " (an integer in 4..2048)",
    "width": " (an integer in 4..1024)",
    "heads": " (an integer in 1..16)",
}


def _integer(value: Any, low: int, high: int) -> bool:
    return (
        isinstance(value, float | int)
        and not isinstance(value, bool)
        and float(value).is_integer()
        and low <= value <= high
    )


def _check_parameter(template: str, name: str, kind: str, value: Any) -> None:
    field = f"training_job.spec.template.parameters.{name}"
    ok = {
        "units": lambda v: (
            isinstance(v, list)
            and 0 < len(v) <= 16
            and all(isinstance(u, float | int) and float(u).is_integer() and 0 < u <= 65536 for u in v)
        ),
        "fraction": lambda v: isinstance(v, float | int) and 0 <= v < 1,
        "activation": lambda v: v in ACTIVATIONS,
        "task": lambda v: v in TASKS,
        "positive": lambda v: isinstance(v, float | int) and float(v).is_integer() and 0 < v <= 64,
        "image_size": lambda v: _integer(v, 8, 512),
        "channels": lambda v: v in (1, 3),
        "bool": lambda v: isinstance(v, bool),
        "encoder": lambda v: v in TEXT_ENCODERS,
        "tokens": lambda v: _integer(v, 16, 200_000),
        "length": lambda v: _integer(v, 4, 2048),
        "width": lambda v: _integer(v, 4, 1024),
        "heads": lambda v: _integer(v, 1, 16),
        "shape": lambda v: (
            isinstance(v, list)
            and len(v) in (2, 3)
            and all(isinstance(u, float | int) and float(u).is_integer() and u > 0 for u in v)
        ),
    }[kind]
    if not ok(value):
        raise InvalidArgument(
            f"{field}: {value!r} is not a valid value for the {template!r} template{_RANGES.get(kind, '')}"
        )


def template_parameters(template: pb.TemplateModel) -> dict[str, Any]:
    return json_format.MessageToDict(template.parameters)


def validate_spec(spec: pb.TrainingJobSpec) -> str:
    """Check a spec and fill in defaults in place; returns the target model id."""
    prefix = "training_job.spec"
    if not spec.dataset.dataset:
        raise InvalidArgument(f"{prefix}.dataset.dataset: required")
    parse_dataset_name(spec.dataset.dataset, f"{prefix}.dataset.dataset")
    if spec.HasField("validation_dataset"):
        parse_dataset_name(spec.validation_dataset.dataset, f"{prefix}.validation_dataset.dataset")
    if not (0 <= spec.validation_split < 1):
        raise InvalidArgument(f"{prefix}.validation_split: must be in [0, 1)")
    if not spec.validation_split and not spec.HasField("validation_dataset"):
        spec.validation_split = 0.2
    kind = spec.WhichOneof("model")
    if kind is None:
        raise InvalidArgument(f"{prefix}: a model is required (template, keras_model_json or base_model)")
    if kind == "template":
        allowed = TEMPLATE_PARAMETERS.get(spec.template.name)
        if allowed is None:
            raise InvalidArgument(
                f"{prefix}.template.name: {spec.template.name!r} is not a template; "
                f"choose one of {sorted(TEMPLATE_PARAMETERS)}"
            )
        for name, value in template_parameters(spec.template).items():
            if name not in allowed:
                raise InvalidArgument(
                    f"{prefix}.template.parameters.{name}: unknown parameter of the "
                    f"{spec.template.name!r} template; known: {sorted(allowed)}"
                )
            _check_parameter(spec.template.name, name, allowed[name], value)
    elif kind == "base_model":
        parse_name(
            spec.base_model.model_version, ("models", None, "versions", None), f"{prefix}.base_model.model_version"
        )
    else:
        check_keras_model_json(spec.keras_model_json)
    hp = spec.hyperparameters
    hp.optimizer = hp.optimizer or "adam"
    if hp.optimizer not in OPTIMIZERS:
        raise InvalidArgument(
            f"{prefix}.hyperparameters.optimizer: {hp.optimizer!r} is not one of {sorted(OPTIMIZERS)}"
        )
    hp.learning_rate = hp.learning_rate or 0.001
    hp.epochs = hp.epochs or 20
    hp.batch_size = hp.batch_size or 32
    checks = [
        (0 < hp.learning_rate <= 10, "learning_rate", "must be in (0, 10]"),
        (0 < hp.epochs <= 10_000, "epochs", "must be in 1..10000"),
        (0 < hp.batch_size <= 65_536, "batch_size", "must be in 1..65536"),
        (hp.early_stopping_patience >= 0, "early_stopping_patience", "must not be negative"),
    ]
    for ok, field, message in checks:
        if not ok:
            raise InvalidArgument(f"{prefix}.hyperparameters.{field}: {message}")
    if kind == "base_model" and not 0 <= spec.base_model.frozen_epochs < hp.epochs:
        raise InvalidArgument(
            f"{prefix}.base_model.frozen_epochs: must be in 0..{hp.epochs - 1} (fewer than the epochs)"
        )
    resources = spec.resources
    if not 0 <= resources.workers <= MAX_WORKERS or resources.cpu < 0 or resources.gpu < 0:
        raise InvalidArgument(f"{prefix}.resources: workers must be in 0..{MAX_WORKERS}, cpu and gpu not negative")
    if resources.workers > 1 and kind == "base_model":
        raise InvalidArgument(f"{prefix}.resources.workers: fine-tuning jobs train on one worker")
    if not spec.target_model:
        raise InvalidArgument(f"{prefix}.target_model: required (models/{{model}})")
    (model_id,) = parse_name(spec.target_model, ("models", None), f"{prefix}.target_model")
    return check_id(model_id, f"{prefix}.target_model")
