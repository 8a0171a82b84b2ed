import json

import pytest
from google.protobuf import struct_pb2

from maas.trainer.v1 import trainer_pb2 as pb
from services.common.errors import InvalidArgument
from services.trainer.spec import check_keras_model_json, validate_spec

# A Keras 3 `Sequential.to_json()` (trimmed of build_config): the shape real clients send.
SEQUENTIAL = {
    "module": "keras",
    "class_name": "Sequential",
    "registered_name": None,
    "config": {
        "name": "seq",
        "trainable": True,
        "layers": [
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "registered_name": None,
                "config": {"batch_shape": [None, 64], "dtype": "float32", "name": "input_layer"},
            },
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "registered_name": None,
                "config": {
                    "name": "dense",
                    "units": 10,
                    "activation": "softmax",
                    "kernel_initializer": {
                        "module": "keras.initializers",
                        "class_name": "GlorotUniform",
                        "config": {"seed": None},
                        "registered_name": None,
                    },
                    "kernel_regularizer": {
                        "module": "keras.regularizers",
                        "class_name": "L2",
                        "config": {"l2": 0.01},
                        "registered_name": None,
                    },
                    "dtype": {
                        "module": "keras",
                        "class_name": "DTypePolicy",
                        "config": {"name": "float32"},
                        "registered_name": None,
                    },
                },
            },
        ],
    },
}


def with_layer(layer: dict) -> str:
    config = json.loads(json.dumps(SEQUENTIAL))
    config["config"]["layers"].append(layer)
    return json.dumps(config)


def test_builtin_sequential_model_passes():
    assert check_keras_model_json(json.dumps(SEQUENTIAL))["class_name"] == "Sequential"


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            {"module": "keras.layers", "class_name": "Lambda", "config": {"function": "x"}},
            r"layers\[2\]: class 'Lambda' is not allowed",
        ),
        ({"module": "os", "class_name": "Dense", "config": {}}, r"layers\[2\]: module 'os' is not allowed"),
        (
            {"module": "keras.layers", "class_name": "Dense", "registered_name": "evil>Dense", "config": {}},
            "registered_name 'evil>Dense'",
        ),
        (
            {"module": "keras.layers", "class_name": "Dense", "config": {"activation": "keras.src.ops.exec"}},
            "activation 'keras.src.ops.exec' is not allowed",
        ),
        (
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {
                    "kernel_initializer": {
                        "module": "keras.config",
                        "class_name": "enable_unsafe_deserialization",
                        "config": {},
                    }
                },
            },
            r"layers\[2\].config.kernel_initializer: class 'enable_unsafe_deserialization'",
        ),
        ({"module": "keras.layers", "class_name": "Dense", "config": {"__lambda__": True}}, "key '__lambda__'"),
    ],
)
def test_anything_but_builtins_is_refused_naming_the_entry(layer, message):
    with pytest.raises(InvalidArgument, match=message):
        check_keras_model_json(with_layer(layer))


def test_top_level_must_be_a_model_and_json():
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        check_keras_model_json("{")
    with pytest.raises(InvalidArgument, match="Sequential or Functional"):
        check_keras_model_json(json.dumps({"class_name": "Dense", "config": {}}))


def spec(**changes) -> pb.TrainingJobSpec:
    params = struct_pb2.Struct()
    params.update({"hidden_units": [32]})
    value = pb.TrainingJobSpec(
        dataset=pb.DatasetInput(dataset="datasets/digits", label_column="label"),
        template=pb.TemplateModel(name="mlp", parameters=params),
        target_model="models/digits",
    )
    for key, new in changes.items():
        if key == "template_params":
            value.template.parameters.Clear()
            value.template.parameters.update(new)
        else:
            setattr(value, key, new) if not hasattr(new, "DESCRIPTOR") else getattr(value, key).CopyFrom(new)
    return value


def test_validate_spec_fills_defaults_and_returns_target():
    s = spec()
    assert validate_spec(s) == "digits"
    assert (s.hyperparameters.optimizer, s.hyperparameters.epochs, s.validation_split) == ("adam", 20, 0.2)


@pytest.mark.parametrize(
    ("s", "message"),
    [
        (spec(target_model="digits"), "target_model"),
        (spec(template=pb.TemplateModel(name="transformer")), "not a template"),
        (spec(template_params={"hidden_units": [0]}), r"parameters.hidden_units"),
        (spec(template_params={"depth": 3}), "unknown parameter"),
        (spec(dataset=pb.DatasetInput(dataset="../etc/passwd")), "dataset.dataset"),
        (spec(hyperparameters=pb.Hyperparameters(optimizer="lbfgs")), "optimizer"),
        (spec(hyperparameters=pb.Hyperparameters(epochs=-1)), "epochs"),
        (spec(validation_split=1.5), "validation_split"),
        (spec(resources=pb.Resources(workers=65)), r"workers must be in 0\.\.64"),
        (spec(resources=pb.Resources(workers=-1)), r"workers must be in 0\.\.64"),
    ],
)
def test_validate_spec_refuses_bad_specs_naming_the_field(s, message):
    with pytest.raises(InvalidArgument, match=message):
        validate_spec(s)


@pytest.mark.parametrize("workers", [0, 1, 2, 64])
def test_validate_spec_accepts_multi_worker_jobs_up_to_the_bound(workers):
    assert validate_spec(spec(resources=pb.Resources(workers=workers))) == "digits"


def classifier(name: str, params: dict) -> pb.TrainingJobSpec:
    value = spec(template=pb.TemplateModel(name=name))
    value.template.parameters.update(params)
    return value


def test_image_and_text_templates_and_fine_tuning_pass_with_their_parameters():
    assert validate_spec(classifier("image_classifier", {"image_size": 48, "channels": 3, "augmentation": False}))
    assert validate_spec(classifier("text_classifier", {"encoder": "lstm", "max_tokens": 5000, "heads": 4}))
    tuned = spec(base_model=pb.BaseModel(model_version="models/digits/versions/production", frozen_epochs=3))
    assert validate_spec(tuned) == "digits" and tuned.WhichOneof("model") == "base_model"


@pytest.mark.parametrize(
    ("s", "message"),
    [
        (classifier("image_classifier", {"image_size": 4}), r"image_size: 4\.0 .* \(an integer in 8\.\.512\)"),
        (classifier("image_classifier", {"channels": 2}), r"channels: .*\(1 or 3\)"),
        (classifier("image_classifier", {"augmentation": "yes"}), r"augmentation: .*\(true or false\)"),
        (classifier("image_classifier", {"encoder": "gru"}), "unknown parameter of the 'image_classifier'"),
        (classifier("text_classifier", {"encoder": "bert"}), r"encoder: .*one of transformer, gru, lstm"),
        (classifier("text_classifier", {"sequence_length": 1.5}), "sequence_length"),
        (classifier("text_classifier", {"heads": 0}), "heads"),
        (spec(base_model=pb.BaseModel(model_version="digits")), "base_model.model_version"),
        (
            spec(base_model=pb.BaseModel(model_version="models/d/versions/1", frozen_epochs=20)),
            r"frozen_epochs: must be in 0\.\.19",
        ),
        (
            spec(base_model=pb.BaseModel(model_version="models/d/versions/1"), resources=pb.Resources(workers=2)),
            "resources.workers: fine-tuning jobs train on one worker",
        ),
    ],
)
def test_classifier_and_fine_tuning_specs_are_checked_naming_the_field(s, message):
    with pytest.raises(InvalidArgument, match=message):
        validate_spec(s)
