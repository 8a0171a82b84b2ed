"""Checks on the classification report a version may carry (the trainer writes it; any caller of
CreateModelVersion could), so that what the console draws is consistent and small."""

from __future__ import annotations

from maas.registry.v1 import registry_pb2 as pb
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
