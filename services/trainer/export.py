"""A trained Keras model as the registry stores it: a SavedModel with a serving signature in a
reproducible tar, and the class scores its drift reference starts from."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from services.trainer.keras_types import export_archive

# The predicted classes' reference shares come from at most this many training rows, evenly spaced.
REFERENCE_PREDICTION_ROWS = 10_000


def reference_scores(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The trained model's class scores on (a spread of) its training rows: what the share of
    each predicted class looked like before serving."""
    rows = x[:: max(1, len(x) // REFERENCE_PREDICTION_ROWS)]
    # keras leaves `verbose` unannotated: pyright reads its "auto" default as str.
    return np.asarray(model.predict(rows, batch_size=1024, verbose=0))  # pyright: ignore[reportArgumentType]


def export_saved_model(model, features: int, output_name: str, workdir: Path) -> bytes:
    """Export a SavedModel with a `serving_default` signature and return it as a tar archive."""
    export_dir = workdir / "saved_model"
    archive = export_archive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda features: {output_name: model(features, training=False)},
        input_signature=[tf.TensorSpec([None, features], tf.float32, name="features")],
    )
    archive.write_out(str(export_dir), verbose=False)
    return tar_directory(export_dir)


def tar_directory(export_dir: Path) -> bytes:
    """A reproducible tar of a directory (same files, same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(export_dir.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(export_dir)))
            info.mtime = 0  # same model, same bytes: reproducible archives dedupe in the registry
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_file():
                with path.open("rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
    return buffer.getvalue()
