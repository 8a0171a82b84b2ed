"""Built-in model templates and the Keras model JSON path (imported only by job processes)."""

from __future__ import annotations

from typing import Any

import keras

from services.trainer.spec import check_keras_model_json

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


def build_model(
    template: str | None,
    params: dict[str, Any],
    model_json: str,
    features: int,
    classes: int,
    normalizer: keras.layers.Layer,
) -> keras.Model:
    """A model taking raw features: normalisation is its first layer, so callers send raw data.

    `classes` is 0 for regression; otherwise the output is a softmax over `classes`.
    """
    inputs = keras.Input(shape=(features,), name="features")
    x = normalizer(inputs)
    if template is None:
        check_keras_model_json(model_json)  # again, right before deserialising: defence in depth
        body = keras.models.model_from_json(model_json)
        return keras.Model(inputs, body(x), name="custom")
    if template == "cnn":
        shape = [int(v) for v in params.get("image_shape", [])]
        if not shape:
            side = round(features**0.5)
            shape = [side, side]
        if len(shape) == 2:
            shape.append(1)
        x = keras.layers.Reshape(tuple(shape))(x)
        x = keras.layers.Conv2D(
            int(params.get("filters", [16])[0]), int(params.get("kernel_size", 3)), padding="same", activation="relu"
        )(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Flatten()(x)
    if template in ("mlp", "cnn"):
        for units in params.get("hidden_units", [64]):
            x = keras.layers.Dense(int(units), activation=params.get("activation", "relu"))(x)
            if params.get("dropout"):
                x = keras.layers.Dropout(float(params["dropout"]))(x)
    if classes:
        outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(x)
    else:
        outputs = keras.layers.Dense(1, name="predictions")(x)
    return keras.Model(inputs, outputs, name=template)


def is_classification(template: str | None, params: dict[str, Any]) -> bool:
    if template == "linear":
        return False
    if template == "logistic" or template == "cnn":
        return True
    return params.get("task", "classification") == "classification"
