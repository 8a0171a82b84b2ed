"""Drift measures shared by the trainer (which keeps each version's reference statistics) and
inference (which compares what it serves with them): per-feature bins at the training data's
deciles, the population stability index and the Kolmogorov-Smirnov statistic of served values
over those bins, and the share of rows predicted as each class."""

from __future__ import annotations

import numpy as np

from maas.registry.v1 import registry_pb2 as pb

QUANTILES = np.linspace(0.1, 0.9, 9)
# A bin with no rows on one side would make the index infinite; shares are floored at this.
EPSILON = 1e-4
# Prediction shares are kept (and exported, one series per class) for at most this many classes.
MAX_CLASSES = 100


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of `values` in each of the len(edges) + 1 bins (see FeatureStatistics)."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(1, len(values))


def class_shares(classes: np.ndarray, count: int) -> np.ndarray:
    """The share of each class index in 0..count-1 among `classes`."""
    return np.bincount(classes, minlength=count)[:count] / max(1, len(classes))


def reference_statistics(
    features: np.ndarray,
    input_name: str = "features",
    names=None,
    scores: np.ndarray | None = None,
    output_name: str = "",
) -> pb.ReferenceStatistics:
    """Deciles (distinct edges only) and bin shares of each column of a [rows, columns] array;
    with the model's class `scores` ([rows, classes]) on those rows, the predicted classes' shares."""
    reference = pb.ReferenceStatistics(input=input_name, row_count=len(features))
    if scores is not None and scores.ndim == 2 and 1 < scores.shape[1] <= MAX_CLASSES and len(scores):
        reference.prediction_output = output_name
        reference.prediction_shares.extend(class_shares(scores.argmax(axis=1), scores.shape[1]).tolist())
    for i in range(features.shape[1]):
        column = features[:, i].astype(np.float64)
        edges = np.unique(np.quantile(column, QUANTILES)) if len(column) else np.array([])
        reference.features.add(
            name=names[i] if names else f"{input_name}[{i}]",
            bin_edges=edges.tolist(),
            bin_shares=shares(column, edges).tolist(),
            mean=float(column.mean()) if len(column) else 0.0,
            stddev=float(column.std()) if len(column) else 0.0,
        )
    return reference


def stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of the shares `actual` against `expected` (same bins): sum((p - q) * ln(p / q)).
    Below 0.1 is usually read as no shift, above 0.25 as a significant one."""
    expected, actual = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def population_stability_index(feature: pb.FeatureStatistics, values: np.ndarray) -> float:
    """PSI of served `values` against the feature's reference bins."""
    return stability_index(np.asarray(feature.bin_shares), shares(values, np.asarray(feature.bin_edges)))


def kolmogorov_smirnov(feature: pb.FeatureStatistics, values: np.ndarray) -> float:
    """The Kolmogorov-Smirnov statistic of served `values` against the training data, evaluated
    where the reference knows its distribution: the largest |F_served(e) - F_training(e)| over the
    bin edges e (F(e) the share below e). With decile edges it is the exact two-sample statistic
    restricted to those nine points, so it reads a little below the one over every value."""
    edges = np.asarray(feature.bin_edges)
    if not len(edges):
        return 0.0
    expected = np.cumsum(feature.bin_shares)[: len(edges)]
    actual = np.cumsum(shares(values, edges))[: len(edges)]
    return float(np.max(np.abs(actual - expected)))
