"""Typed doors to the Keras calls the trainer makes whose own types pyright cannot follow:
`keras.models.load_model` (inferred as any saveable object) and `keras.export.ExportArchive`
(the backend's archive class, picked at import; only TensorFlow's writes a SavedModel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import keras


class ExportArchive(Protocol):
    """What the trainer uses of TensorFlow's `keras.export.ExportArchive`."""

    def track(self, resource: Any) -> Any: ...

    def add_endpoint(self, name: str, fn: Callable[..., Any], input_signature: Any = None, **kwargs: Any) -> Any: ...

    def write_out(self, filepath: str, options: Any = None, verbose: bool = True) -> None: ...


def export_archive() -> ExportArchive:
    """A new `keras.export.ExportArchive`: under the TensorFlow backend the trainer runs on, the
    class that writes SavedModels."""
    return cast(ExportArchive, keras.export.ExportArchive())


def load_model(path: Path) -> keras.Model:
    """`keras.models.load_model` of a `.keras` file the trainer saved: always a `keras.Model`."""
    model = keras.models.load_model(path)
    assert isinstance(model, keras.Model), f"{path.name} holds a {type(model).__name__}, not a Keras model"
    return model
