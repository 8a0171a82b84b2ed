"""From an uploaded artifact to a SavedModel directory: a tar or zip of a SavedModel, a `.keras`
file, or a tar or zip holding one of those. Archives are unpacked with limits (no links, no
paths outside the target, a cap on what they expand to); a Keras file is loaded in Keras safe
mode (no Lambda layers, no custom code) and exported as a SavedModel."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from services.common.archives import ArchiveTooLarge, UnsafeArchive, archive_kind, extract_archive

NOT_A_MODEL = "not a SavedModel or Keras file"
KERAS_MARKERS = {"config.json", "metadata.json"}


class InvalidArtifact(Exception):
    """The artifact is not a servable model; the message says why, for the user."""


def _extract(archive: Path, target: Path, kind: str) -> None:
    try:
        extract_archive(archive, target)
    except ArchiveTooLarge as error:
        raise InvalidArtifact(str(error)) from None
    except UnsafeArchive as error:
        raise InvalidArtifact(f"the archive member {error}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise InvalidArtifact(f"{NOT_A_MODEL} (a broken {kind} archive: {error})") from None


def is_keras_file(path: Path) -> bool:
    """A Keras v3 `.keras` file: a zip with the model's config and metadata at its root."""
    try:
        with zipfile.ZipFile(path) as zipped:
            return set(zipped.namelist()) >= KERAS_MARKERS
    except (zipfile.BadZipFile, OSError):
        return False


def kind_of(archive: Path) -> str:
    """`keras`, `tar` or `zip` by content (never by file name); InvalidArtifact otherwise."""
    if is_keras_file(archive):
        return "keras"
    kind = archive_kind(archive)
    if kind:
        return kind
    raise InvalidArtifact(f"{NOT_A_MODEL} (neither a tar nor a zip archive)")


def _find_model(root: Path) -> Path:
    """The SavedModel directory or `.keras` file in an unpacked archive: at its root, or alone
    in its only directory."""
    if (root / "saved_model.pb").is_file():
        return root
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return _find_model(entries[0])
    keras_files = [p for p in entries if p.is_file() and is_keras_file(p)]
    if len(keras_files) == 1 and len(entries) == 1:
        return keras_files[0]
    raise InvalidArtifact(f"{NOT_A_MODEL}: the archive has no saved_model.pb at its root and no single .keras file")


def export_keras(path: Path, target: Path) -> None:
    """Load a `.keras` file in safe mode and export it as a SavedModel with `serving_default`."""
    import keras
    import tensorflow as tf

    # Keras goes by the file name's extension; what this is was decided by its content.
    named = target.with_name(target.name + ".keras")
    named.unlink(missing_ok=True)
    named.symlink_to(path.resolve())
    try:
        # Keras's own annotations do not say a loaded model is a Model.
        model: Any = keras.saving.load_model(named, safe_mode=True, compile=False)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a file it refuses or cannot read
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InvalidArtifact(f"Keras refused the model in safe mode: {first[:300]}") from None
    finally:
        named.unlink(missing_ok=True)
    inputs = model.inputs
    if not inputs:
        raise InvalidArtifact("the Keras model has no inputs (only functional and built models can be served)")
    names = [tensor.name.split(":")[0] for tensor in inputs]
    specs = {name: tf.TensorSpec(t.shape, t.dtype, name=name) for name, t in zip(names, inputs)}
    output_names = list(getattr(model, "output_names", None) or [f"output_{i}" for i in range(len(model.outputs))])

    def serve(features):
        result = model([features[name] for name in names] if len(names) > 1 else features[names[0]], training=False)
        result = result if isinstance(result, list | tuple) else [result]
        return dict(zip(output_names, result))

    archive: Any = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[specs])
    archive.write_out(str(target), verbose=False)


def prepare(archive: Path, target: Path) -> str:
    """Unpack (or convert) `archive` into the SavedModel directory `target`; returns the
    uploaded format, `keras` or `tf_saved_model`. `target` must not exist."""
    staging = target.with_name(target.name + ".unpacked")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        kind = kind_of(archive)
        if kind == "keras":
            export_keras(archive, target)
            return "keras"
        staging.mkdir(parents=True)
        _extract(archive, staging, kind)
        found = _find_model(staging)
        if found.is_file():
            export_keras(found, target)
            return "keras"
        found.rename(target)
        return "tf_saved_model"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
