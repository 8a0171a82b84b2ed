"""Model runtimes: a SavedModel converted to LiteRT computes what TensorFlow computes, models that do
not convert say why, and a loaded model adopts only a runtime that agrees with its own."""

import asyncio
import io
import tarfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from maas.registry.v1 import registry_pb2 as rpb
from services.common.archives import extract_tar
from services.inference.config import InferenceSettings
from services.inference.loaded import LoadedModel
from services.inference.memory import ModelKey
from services.inference.metrics import InferenceMetrics
from services.inference.runtimes import disagreement
from services.inference.signature import ModelSignature
from services.inference.statistics import VersionStatistics

FEATURES = 4


def _saved_model(tmp_path, build):
    """A SavedModel directory whose `serving_default` maps `features` [None, 4] to `build(features)`."""
    import tensorflow as tf

    module = tf.Module()
    module.serve = tf.function(
        lambda features: {"y": build(features)},
        input_signature=[tf.TensorSpec([None, FEATURES], tf.float32, name="features")],
    )
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.serve})
    return tmp_path / "model"


@pytest.mark.slow
def test_a_converted_keras_model_computes_what_tensorflow_computes(tmp_path):
    import keras
    import tensorflow as tf

    from services.inference.runtimes import SavedModelRuntime, convert_to_lite
    from services.trainer.export import export_saved_model

    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(FEATURES,), name="features")
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    with tarfile.open(fileobj=io.BytesIO(export_saved_model(model, FEATURES, "probabilities", tmp_path))) as tar:
        extract_tar(tar, tmp_path / "extracted")
    reference = SavedModelRuntime(tf.saved_model.load(str(tmp_path / "extracted")), "serving_default")
    lite = convert_to_lite(tmp_path / "extracted", "serving_default", threads=1)
    assert lite.name == "lite"
    rng = np.random.default_rng(0)
    for rows in (1, 7, 64, 2):  # the interpreter resizes to every batch
        x = {"features": rng.normal(size=(rows, FEATURES)).astype(np.float32)}
        got = lite(x)
        assert disagreement(reference(x), got) is None
        np.testing.assert_allclose(got["probabilities"], model(x["features"]).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_model_with_ops_litert_lacks_names_them(tmp_path):
    import tensorflow as tf

    from services.inference.runtimes import LiteUnavailable, convert_to_lite

    directory = _saved_model(tmp_path, lambda x: tf.math.igamma(x + 2.0, x + 1.0))
    with pytest.raises(LiteUnavailable, match=r"ops LiteRT lacks: tf\.Igamma"):
        convert_to_lite(directory, "serving_default", threads=1)


def test_disagreement_names_what_differs():
    a = {"y": np.array([[0.5, 0.25]], np.float32)}
    assert disagreement(a, {"y": a["y"] + 1e-7}) is None
    assert disagreement(a, {"z": a["y"]}) == "outputs ['z'] instead of ['y']"
    assert "float32[1, 1]" in disagreement(a, {"y": a["y"][:, :1]})
    assert "float64" in disagreement(a, {"y": a["y"].astype(np.float64)})
    assert disagreement(a, {"y": a["y"] * 2}) == "output 'y' differs by up to 0.5"


class _Scaling:
    """A runtime that multiplies its input (or fails): stands in for TensorFlow and LiteRT, which
    these tests do not need."""

    def __init__(self, factor: float = 2.0, fail: bool = False, name: str = "candidate") -> None:
        self.factor = factor
        self.fail = fail
        self.name = name

    def __call__(self, inputs):
        if self.fail:
            raise RuntimeError("cannot run")
        return {"y": inputs["features"] * self.factor}


def _loaded_model(executor) -> LoadedModel:
    version = rpb.ModelVersion(
        name="models/m/versions/1",
        signature=rpb.Signature(
            inputs=[rpb.TensorSpec(name="features", datatype="FP32", shape=[-1, FEATURES])],
            outputs=[rpb.TensorSpec(name="y", datatype="FP32", shape=[-1, FEATURES])],
        ),
    )
    observer = InferenceMetrics(CollectorRegistry()).batch_observer("t", "m", 1, VersionStatistics())
    settings = InferenceSettings(batching=False)
    signature = ModelSignature.from_proto(version.signature)
    return LoadedModel(
        ModelKey("t", "m", 1), version, signature, _Scaling(name="double"), None, settings, executor, observer
    )


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (_Scaling(), None),
        (_Scaling(factor=3.0), "output 'y' differs by up to"),
        (_Scaling(fail=True), "the converted model failed on the probe batch: cannot run"),
    ],
)
def test_a_loaded_model_adopts_only_a_runtime_that_agrees(candidate, reason):
    async def scenario():
        with ThreadPoolExecutor(2) as executor:
            model = _loaded_model(executor)
            await model.warm_up()
            why = await model.adopt(candidate)
            answer = await model.infer({"features": np.ones((1, FEATURES), np.float32)}, None)
            return model, why, answer

    model, why, answer = asyncio.run(scenario())
    if reason is None:
        assert why is None and model.runtime is candidate
    else:
        assert why.startswith(reason) and model.runtime.name == "double"
    np.testing.assert_array_equal(answer["y"], np.full((1, FEATURES), 2.0, np.float32))


def test_probe_inputs_are_random_and_typed_per_signature():
    with ThreadPoolExecutor(1) as executor:
        model = _loaded_model(executor)
    zeros, probe = model.probe_inputs(), model.probe_inputs(seed=0)
    assert zeros["features"].shape == probe["features"].shape == (1, FEATURES)
    assert probe["features"].dtype == np.float32 and not np.all(probe["features"] == 0)
    assert not np.any(zeros["features"])
