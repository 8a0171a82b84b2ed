"""Checks on the reports a version carries: its classification report (the trainer writes it; any
caller of CreateModelVersion could), its reference statistics and the drift reports inference sends
of them, so that what the console draws and inference compares is consistent and small."""

from __future__ import annotations

from maas.registry.v1 import registry_pb2 as pb
from services.common.drift import MAX_CLASSES as MAX_DRIFT_CLASSES
from services.common.errors import InvalidArgument

MAX_CLASSES = 1000
MAX_SAMPLES = 32
MAX_THUMBNAIL_BYTES = 64 << 10
MAX_SAMPLE_TEXT = 1000


def check_classification_report(report: pb.ClassificationReport) -> None:
    field = "model_version.classification_report"
    classes = len(report.class_names)
    if classes > MAX_CLASSES:
        raise InvalidArgument(f"{field}.class_names: at most {MAX_CLASSES} classes")
    for name, values in (("precision", report.precision), ("recall", report.recall), ("support", report.support)):
        if len(values) not in (0, classes):
            raise InvalidArgument(f"{field}.{name}: {len(values)} values for {classes} classes")
    if len(report.confusion_matrix) not in (0, classes * classes):
        raise InvalidArgument(f"{field}.confusion_matrix: needs {classes}x{classes} counts, row by row")
    if any(count < 0 for count in (*report.confusion_matrix, *report.support)):
        raise InvalidArgument(f"{field}: counts must not be negative")
    if len(report.samples) > MAX_SAMPLES:
        raise InvalidArgument(f"{field}.samples: at most {MAX_SAMPLES}")
    for i, sample in enumerate(report.samples):
        if len(sample.thumbnail_png) > MAX_THUMBNAIL_BYTES or len(sample.text) > MAX_SAMPLE_TEXT:
            raise InvalidArgument(
                f"{field}.samples[{i}]: thumbnails up to {MAX_THUMBNAIL_BYTES} bytes, texts up to "
                f"{MAX_SAMPLE_TEXT} characters"
            )


# Reference statistics: features binned, and the prediction shares of at most the classes inference
# measures drift over.
MAX_FEATURES, MAX_EDGES = 10_000, 100


def check_reference_statistics(reference: pb.ReferenceStatistics) -> None:
    """Bins inference can compare with: ascending edges and one share more, summing to 1."""
    field = "model_version.reference_statistics"
    if len(reference.features) > MAX_FEATURES:
        raise InvalidArgument(f"{field}.features: at most {MAX_FEATURES}")
    for i, feature in enumerate(reference.features):
        edges, shares = list(feature.bin_edges), list(feature.bin_shares)
        if len(edges) > MAX_EDGES or edges != sorted(edges):
            raise InvalidArgument(f"{field}.features[{i}].bin_edges: at most {MAX_EDGES}, ascending")
        if len(shares) != len(edges) + 1 or min(shares) < 0 or abs(sum(shares) - 1) > 1e-6:
            raise InvalidArgument(f"{field}.features[{i}].bin_shares: len(bin_edges) + 1 shares summing to 1")
    predicted = list(reference.prediction_shares)
    if predicted and (len(predicted) > MAX_DRIFT_CLASSES or min(predicted) < 0 or abs(sum(predicted) - 1) > 1e-6):
        raise InvalidArgument(f"{field}.prediction_shares: at most {MAX_DRIFT_CLASSES} shares summing to 1")
    if bool(predicted) != bool(reference.prediction_output):
        raise InvalidArgument(f"{field}.prediction_output: required with prediction_shares, and only with them")


def check_drift(drift: pb.DriftReport, reference: pb.ReferenceStatistics) -> None:
    """A report of the version's own reference: one score per feature, one share per class."""
    if [f.name for f in drift.features] != [f.name for f in reference.features]:
        raise InvalidArgument("drift.features: one per reference feature, in order")
    if drift.prediction_shares and len(drift.prediction_shares) != len(reference.prediction_shares):
        raise InvalidArgument("drift.prediction_shares: one per class of the reference")
