"""A classifier's report on its validation split, the one the console draws: per-class precision
and recall, the confusion matrix and a few samples with true and predicted labels. Shared by the
image and text classifier job and the tabular one, which differ only in how a sample is shown
(a thumbnail, a text, a row's feature values)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np

from maas.registry.v1 import registry_pb2 as rpb

REPORT_SAMPLES = 8
MAX_SAMPLE_TEXT = 300

# One validation example -> what a PredictionSample shows of it ({"text": ...} or {"thumbnail_png": ...}).
Describe = Callable[[Any], dict[str, Any]]


def per_class(matrix: np.ndarray, class_names: list[str]) -> rpb.ClassificationReport:
    """Precision, recall and support per class from a confusion matrix (row = true class, column =
    predicted class); a class never predicted (or never present) scores 0, not NaN."""
    classes = len(class_names)
    if matrix.shape != (classes, classes):
        raise ValueError(f"a {classes}x{classes} confusion matrix is needed, not {matrix.shape}")
    predicted_totals, true_totals = matrix.sum(axis=0), matrix.sum(axis=1)
    diagonal = np.diag(matrix)
    report = rpb.ClassificationReport(class_names=class_names)
    report.precision.extend(np.divide(diagonal, predicted_totals, out=np.zeros(classes), where=predicted_totals > 0))
    report.recall.extend(np.divide(diagonal, true_totals, out=np.zeros(classes), where=true_totals > 0))
    report.support.extend(true_totals.tolist())
    report.confusion_matrix.extend(matrix.ravel().tolist())
    return report


def classification_report(
    model: Callable[..., Any], validation: Iterable[tuple[Any, Any]], class_names: list[str], describe: Describe
) -> tuple[rpb.ClassificationReport, dict[str, float]]:
    """The report of `model` (class probabilities out) over `validation` batches of (inputs, class
    ids), the first REPORT_SAMPLES examples as its samples; and the loss (sparse categorical
    cross-entropy) and accuracy, from the same one pass."""
    classes = len(class_names)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    samples: list[rpb.PredictionSample] = []
    log_loss = 0.0
    # As Keras computes the loss: probabilities clipped to [epsilon, 1 - epsilon].
    epsilon = keras.config.epsilon()
    for inputs, labels in validation:
        probabilities = np.asarray(model(inputs, training=False))
        predicted = probabilities.argmax(axis=1)
        truth = np.asarray(labels).astype(np.int64)
        np.add.at(matrix, (truth, predicted), 1)
        chosen = np.clip(probabilities[np.arange(len(truth)), truth], epsilon, 1 - epsilon)
        log_loss -= float(np.log(chosen.astype(np.float64)).sum())
        for i in range(min(len(truth), REPORT_SAMPLES - len(samples))):
            samples.append(
                rpb.PredictionSample(
                    true_label=class_names[truth[i]],
                    predicted_label=class_names[predicted[i]],
                    confidence=float(probabilities[i, predicted[i]]),
                    **describe(inputs[i]),
                )
            )
    report = per_class(matrix, class_names)
    report.samples.extend(samples)
    total = max(1, int(matrix.sum()))
    return report, {"loss": log_loss / total, "accuracy": float(np.trace(matrix)) / total}


def feature_row(features: Any) -> dict[str, Any]:
    """A tabular example as a sample: its feature values, in column order, as text."""
    text = ", ".join(f"{float(v):g}" for v in np.asarray(features).ravel())
    return {"text": text if len(text) <= MAX_SAMPLE_TEXT else text[: MAX_SAMPLE_TEXT - 1] + "…"}
