"""Image and text classifiers (imported only by job processes): their input pipelines, the
`image_classifier` and `text_classifier` templates, fine-tuning a registered one, the export
that takes what a client has (uint8 images of any size, raw strings), and what the per-class
report (class_report) shows of an example.

Images stream from the unpacked archive on disk through `tf.data` (decoded, resized and batched
on the fly; only file names are held in memory); texts are held as Python strings.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from maas.registry.v1 import registry_pb2 as rpb
from services.common.labelled import THUMBNAIL_SIDE, image_examples, text_examples
from services.trainer.class_report import MAX_SAMPLE_TEXT
from services.trainer.keras_types import export_archive

AUTOTUNE = tf.data.AUTOTUNE
# Inside the SavedModel tar: the Keras model, so that a later job can fine-tune the version.
KERAS_MEMBER = "model.keras"
IMAGE_DEFAULTS = {"image_size": 32, "filters": [32, 64], "dropout": 0.2, "augmentation": True}
TEXT_DEFAULTS = {
    "encoder": "transformer",
    "max_tokens": 20_000,
    "sequence_length": 64,
    "embedding_dim": 64,
    "units": 64,
    "heads": 2,
    "dropout": 0.1,
}


@dataclass
class Examples:
    """A split of a dataset: its examples (file paths or texts) and class indices."""

    inputs: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)


def image_split(root: Path, class_names: list[str]) -> Examples:
    examples, _ = image_examples(root)
    index = {name: i for i, name in enumerate(class_names)}
    kept = [(str(path), index[label]) for path, label in examples if label in index]
    return Examples([p for p, _ in kept], np.asarray([i for _, i in kept], dtype=np.int64))


def text_split(path: Path, jsonl: bool, text_column: str, label_column: str, class_names: list[str]) -> Examples:
    index = {name: i for i, name in enumerate(class_names)}
    texts, labels = [], []
    for _, text, label, reason in text_examples(path, jsonl, text_column, label_column):
        if not reason and label in index:
            texts.append(text)
            labels.append(index[label])
    return Examples(texts, np.asarray(labels, dtype=np.int64))


def hold_out(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    order = np.random.default_rng(seed).permutation(len(examples))
    held = max(1, round(len(examples) * fraction))

    def pick(rows: np.ndarray) -> Examples:
        return Examples([examples.inputs[i] for i in rows], examples.labels[rows])

    return pick(order[held:]), pick(order[:held])


def pipeline(
    examples: Examples, kind: str, batch_size: int, seed: int, shuffle: bool, image_size: int = 0, channels: int = 0
) -> tf.data.Dataset:
    """Batches of (pixel values as float32 0-255 at image_size, or strings; class index).
    Files that do not decode are skipped (the registry counted and named them on upload)."""
    data = tf.data.Dataset.from_tensor_slices((examples.inputs, examples.labels))
    if shuffle:
        data = data.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    if kind == "image":

        def load(path, label):
            image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
            return tf.image.resize(image, [image_size, image_size]), label

        data = data.map(load, num_parallel_calls=AUTOTUNE).ignore_errors()
    return data.batch(batch_size).prefetch(AUTOTUNE)


def build_image_classifier(params: dict[str, Any], classes: int, channels: int) -> keras.Model:
    p = {**IMAGE_DEFAULTS, **params}
    size = int(p["image_size"])
    inputs = keras.Input(shape=(None, None, channels), name="images")
    x = keras.layers.Resizing(size, size, name="resize")(inputs)
    x = keras.layers.Rescaling(1 / 255, name="rescale")(x)
    if p["augmentation"]:  # active in training only
        x = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(x)
        x = keras.layers.RandomRotation(0.04, fill_mode="constant")(x)
        x = keras.layers.RandomZoom(0.1, fill_mode="constant")(x)
    for filters in p["filters"]:
        for _ in range(2):
            x = keras.layers.Conv2D(int(filters), 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(float(p["dropout"]))(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="image_classifier")


@keras.saving.register_keras_serializable(package="maas")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus a learnt position embedding; token 0 (padding) is masked."""

    def __init__(self, sequence_length: int, vocabulary_size: int, embedding_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sequence_length, self.vocabulary_size, self.embedding_dim = (
            sequence_length,
            vocabulary_size,
            embedding_dim,
        )
        self.tokens = keras.layers.Embedding(vocabulary_size, embedding_dim)
        self.positions = keras.layers.Embedding(sequence_length, embedding_dim)

    def build(self, input_shape) -> None:
        self.tokens.build(input_shape)
        self.positions.build((self.sequence_length,))

    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        assert shape is not None  # None only from OpenVINO with an unknown shape; TensorFlow gives a tuple
        positions = keras.ops.arange(shape[-1])
        return self.tokens(inputs) + self.positions(positions)

    def compute_mask(self, inputs, mask=None):
        return keras.ops.not_equal(inputs, 0)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
        }


def build_text_classifier(params: dict[str, Any], classes: int, texts: tf.data.Dataset) -> keras.Model:
    """`texts` (batches of strings from the training split) adapts the vocabulary."""
    p = {**TEXT_DEFAULTS, **params}
    length, width, units = int(p["sequence_length"]), int(p["embedding_dim"]), int(p["units"])
    vectorize = keras.layers.TextVectorization(
        max_tokens=int(p["max_tokens"]), output_sequence_length=length, name="vectorize"
    )
    vectorize.adapt(texts)
    vocabulary = vectorize.vocabulary_size()
    inputs = keras.Input(shape=(), dtype="string", name="text")
    tokens = vectorize(inputs)
    if p["encoder"] == "transformer":
        x = TokenAndPositionEmbedding(length, vocabulary, width, name="embed")(tokens)
        attention = keras.layers.MultiHeadAttention(int(p["heads"]), max(1, width // int(p["heads"])))(x, x)
        x = keras.layers.LayerNormalization()(x + keras.layers.Dropout(float(p["dropout"]))(attention))
        feed = keras.layers.Dense(width)(keras.layers.Dense(units, activation="relu")(x))
        x = keras.layers.LayerNormalization()(x + keras.layers.Dropout(float(p["dropout"]))(feed))
        x = keras.layers.GlobalAveragePooling1D()(x)
    else:
        x = keras.layers.Embedding(vocabulary, width, mask_zero=True, name="embed")(tokens)
        recurrent = keras.layers.GRU if p["encoder"] == "gru" else keras.layers.LSTM
        x = keras.layers.Bidirectional(recurrent(units))(x)
    x = keras.layers.Dropout(float(p["dropout"]))(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="text_classifier")


def input_kind(model: keras.Model) -> str:
    return "text" if model.inputs[0].dtype == "string" else "image"


def image_settings(model: keras.Model) -> tuple[int, int]:
    """(training image side, channels) of an image classifier."""
    return int(model.get_layer("resize").height), int(model.inputs[0].shape[-1])


def with_new_head(model: keras.Model, classes: int) -> keras.Model:
    """The same network with a fresh output layer for `classes` classes."""
    features = model.get_layer("probabilities").input
    outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(features)
    return keras.Model(model.inputs, outputs, name=model.name)


def set_base_trainable(model: keras.Model, trainable: bool) -> None:
    """Freeze (or unfreeze) every layer but the output head."""
    for layer in model.layers:
        layer.trainable = trainable or layer.name == "probabilities"


def _matched_channels(images: tf.Tensor, channels: int) -> tf.Tensor:
    """Any client's channels to the model's: alpha dropped, grey to colour or colour to grey."""
    count = tf.shape(images)[-1]
    # typeshed's TensorFlow stubs leave Ellipsis out of a tensor's index types.
    images = tf.cond(count >= 3, lambda: images[..., :3], lambda: images[..., :1])  # pyright: ignore[reportArgumentType]
    if channels == 1:
        grey = tf.constant([0.2989, 0.5870, 0.1140])
        images = tf.cond(
            tf.shape(images)[-1] == 3,
            lambda: tf.reduce_sum(images * grey, axis=-1, keepdims=True),
            lambda: images,
        )
    else:
        images = tf.cond(tf.shape(images)[-1] == 1, lambda: tf.tile(images, [1, 1, 1, 3]), lambda: images)
    return tf.ensure_shape(images, [None, None, None, channels])


def export(model: keras.Model, class_names: list[str], directory: Path) -> rpb.Signature:
    """Write the SavedModel (and the Keras model beside it) and return its signature:
    images uint8 [N, H, W, C] of any size and channels, or text BYTES [N]; probabilities and the
    predicted class name (`label`)."""
    names = tf.constant(class_names)
    archive = export_archive()
    archive.track(model)
    if input_kind(model) == "image":
        _, channels = image_settings(model)

        def serve_images(images):
            probabilities = model(_matched_channels(tf.cast(images, tf.float32), channels), training=False)
            return {"probabilities": probabilities, "label": tf.gather(names, tf.argmax(probabilities, axis=1))}

        serve = serve_images

        spec = tf.TensorSpec([None, None, None, None], tf.uint8, name="images")
        inputs = [rpb.TensorSpec(name="images", datatype="UINT8", shape=[-1, -1, -1, -1])]
    else:

        def serve_text(text):
            probabilities = model(text, training=False)
            return {"probabilities": probabilities, "label": tf.gather(names, tf.argmax(probabilities, axis=1))}

        serve = serve_text

        spec = tf.TensorSpec([None], tf.string, name="text")
        inputs = [rpb.TensorSpec(name="text", datatype="BYTES", shape=[-1])]
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.write_out(str(directory), verbose=False)
    model.save(directory / KERAS_MEMBER)
    return rpb.Signature(
        method_name="serving_default",
        inputs=inputs,
        outputs=[
            rpb.TensorSpec(name="probabilities", datatype="FP32", shape=[-1, len(class_names)]),
            rpb.TensorSpec(name="label", datatype="BYTES", shape=[-1]),
        ],
    )


def _thumbnail(pixels: np.ndarray) -> bytes:
    image = np.clip(pixels, 0, 255).astype(np.uint8)
    picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    if picture.width < THUMBNAIL_SIDE:
        picture = picture.resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def sample_content(example: Any) -> dict[str, Any]:
    """What a report's sample shows of a validation example: its text, or a thumbnail of its image."""
    if example.dtype == tf.string:
        return {"text": example.numpy().decode("utf-8", "replace")[:MAX_SAMPLE_TEXT]}
    return {"thumbnail_png": _thumbnail(example.numpy())}


def base_template(version: rpb.ModelVersion) -> str:
    """The template a registered version was trained from (its lineage), or ''."""
    raw = version.lineage.hyperparameters.get("template", "")
    try:
        return json.loads(raw) if raw else ""
    except json.JSONDecodeError:
        return ""
