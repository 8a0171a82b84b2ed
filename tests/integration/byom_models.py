"""Small models of every kind a user might bring, built and exported here (no downloads): an
image CNN on uint8 pixels, a model with two named inputs, a text model with TextVectorization
inside, a model without a batch dimension, and the ones that must be refused."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

TEXTS = ["a great film", "a bad film", "great acting and a great plot", "bad plot", "boring and bad", "great fun"]


def cnn(path: Path):
    import keras

    keras.utils.set_random_seed(1)
    image = keras.Input(shape=(28, 28, 1), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1 / 255)(keras.ops.cast(image, "float32"))
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(image, keras.layers.Dense(10, activation="softmax", name="probabilities")(x))
    model.save(path)
    return model


def two_inputs(path: Path):
    import keras

    keras.utils.set_random_seed(2)
    age = keras.Input(shape=(3,), name="age")
    score = keras.Input(shape=(2,), name="score")
    merged = keras.layers.Concatenate()([age, score])
    model = keras.Model([age, score], keras.layers.Dense(1, name="risk")(merged))
    model.save(path)
    return model


def text(path: Path):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    vectorize = keras.layers.TextVectorization(max_tokens=32, output_sequence_length=6)
    vectorize.adapt(tf.constant(TEXTS))
    review = keras.Input(shape=(), dtype="string", name="review")
    x = keras.layers.Embedding(32, 4)(vectorize(review))
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(review, keras.layers.Dense(2, activation="softmax", name="sentiment")(x))
    model.save(path)
    return model


def tar_directory(directory: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=".")
    return archive


def export_savedmodel(model, directory: Path) -> Path:
    """A Keras model as a SavedModel directory (the TF Serving way of handing a model over)."""
    model.export(str(directory), format="tf_saved_model", verbose=False)
    return directory


def unbatched(directory: Path) -> Path:
    """A SavedModel whose input has no batch dimension: a fixed [3] vector in, its scaled sum out."""
    import tensorflow as tf

    class Scale(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32, name="vector")])
        def serve(self, vector):
            return {"total": tf.reduce_sum(vector) * 2.0}

    module = Scale()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    return directory


def reads_a_file(directory: Path, secret: Path) -> Path:
    """A SavedModel whose signature returns the bytes of a file on the server."""
    import tensorflow as tf

    class Thief(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"loot": tf.fill(tf.shape(x), tf.io.read_file(str(secret)))}

    module = Thief()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    return directory


def without_signature(directory: Path) -> Path:
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(directory), signatures={})
    return directory


def with_lambda(path: Path) -> Path:
    import keras

    x = keras.Input(shape=(2,), name="x")
    keras.Model(x, keras.layers.Lambda(lambda v: v * 2)(x)).save(path)
    return path


def images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 28, 28, 1), dtype=np.uint8)
