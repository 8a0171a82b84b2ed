"""A job's tabular data: fetching a dataset's record, loading its CSV or NPZ artifact as float
arrays, holding out the validation split, and checking the labels."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np

from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2 as pb
from services.common.errors import InvalidArgument
from services.common.tabular import csv_header, load_csv_numeric
from services.trainer.failures import JobFailure
from services.trainer.registry_client import RegistryClient


def fetch_dataset(client: RegistryClient, spec_input: pb.DatasetInput, role: str) -> rpb.Dataset:
    try:
        return client.dataset(spec_input.dataset)
    except grpc.RpcError as error:
        raise JobFailure(f"{role} dataset {spec_input.dataset!r}: {error.details()}") from None


def load_table(client: RegistryClient, spec_input: pb.DatasetInput, workdir: Path, role: str):
    """Features and labels of a dataset as float arrays, and its lineage record."""
    dataset = fetch_dataset(client, spec_input, role)
    if dataset.kind == rpb.DatasetKind.DATASET_KIND_IMAGE:
        raise JobFailure(f"{role} dataset {dataset.name} holds images: train it with the image_classifier template")
    if dataset.kind == rpb.DatasetKind.DATASET_KIND_TEXT:
        raise JobFailure(f"{role} dataset {dataset.name} holds texts: train it with the text_classifier template")
    path = workdir / f"{role}-{dataset.sha256}"
    client.download(dataset.artifact, dataset.sha256, path)
    if dataset.format == rpb.DatasetFormat.DATASET_FORMAT_NPZ:
        with np.load(path, allow_pickle=False) as archive:
            for array in (spec_input.features_array, spec_input.labels_array):
                if array not in archive.files:
                    raise JobFailure(f"{role} dataset: array {array!r} not found; it has {archive.files}")
            features = archive[spec_input.features_array].astype("float32")
            labels = archive[spec_input.labels_array]
        return features.reshape(len(features), -1), labels.astype("float64"), dataset
    header = csv_header(path)
    label = spec_input.label_column
    if not label:
        raise JobFailure(f"{role} dataset: label_column is required for CSV datasets")
    if label not in header:
        raise JobFailure(f"{role} dataset: label column {label!r} not found; the dataset has columns {header}")
    feature_columns = list(spec_input.feature_columns) or [c for c in header if c != label]
    try:
        columns = load_csv_numeric(path, [*feature_columns, label])
    except InvalidArgument as error:
        raise JobFailure(f"{role} dataset: {error.message}") from None
    features = np.stack([columns[c] for c in feature_columns], axis=1).astype("float32")
    if np.isnan(features).any():
        raise JobFailure(f"{role} dataset: feature columns have empty cells; fill or drop them first")
    return features, columns[label], dataset


def training_and_validation(client: RegistryClient, spec: pb.TrainingJobSpec, workdir: Path):
    """(x, y, x_val, y_val, dataset): the validation dataset, or a split held out of the training one."""
    x, y, dataset = load_table(client, spec.dataset, workdir, "training")
    if spec.HasField("validation_dataset"):
        x_val, y_val, _ = load_table(client, spec.validation_dataset, workdir, "validation")
    else:
        order = np.random.default_rng(spec.hyperparameters.seed).permutation(len(x))
        held = max(1, round(len(x) * spec.validation_split))
        if held >= len(x):
            raise JobFailure(f"the dataset has {len(x)} rows: too few to hold out a validation split")
        x, y, x_val, y_val = x[order[held:]], y[order[held:]], x[order[:held]], y[order[:held]]
    if x.shape[1] != x_val.shape[1]:
        raise JobFailure(f"validation data has {x_val.shape[1]} features, training data {x.shape[1]}")
    return x, y, x_val, y_val, dataset


def typed_labels(y: np.ndarray, y_val: np.ndarray, classification: bool):
    """(y, y_val, classes): class ids and their count for classification, floats (0 classes) otherwise."""
    if not classification:
        return y.astype("float32"), y_val.astype("float32"), 0
    if np.isnan(y).any() or (y != np.round(y)).any() or (y < 0).any():
        raise JobFailure("labels must be non-negative integers (class ids) for classification")
    return y.astype("int64"), y_val.astype("int64"), int(max(y.max(), y_val.max())) + 1
