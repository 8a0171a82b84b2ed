"""Drift measures shared by the trainer (which keeps each version's reference statistics) and
inference (which compares the inputs it serves with them): per-feature bins at the training
data's deciles, and the population stability index of served values over those bins."""

from __future__ import annotations

import numpy as np

from maas.registry.v1 import registry_pb2 as pb

QUANTILES = np.linspace(0.1, 0.9, 9)
# A bin with no rows on one side would make the index infinite; shares are floored at this.
EPSILON = 1e-4


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of `values` in each of the len(edges) + 1 bins (see FeatureStatistics)."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(1, len(values))


def reference_statistics(features: np.ndarray, input_name: str = "features", names=None) -> pb.ReferenceStatistics:
    """Deciles (distinct edges only) and bin shares of each column of a [rows, columns] array."""
    reference = pb.ReferenceStatistics(input=input_name, row_count=len(features))
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


def population_stability_index(feature: pb.FeatureStatistics, values: np.ndarray) -> float:
    """PSI of served `values` against the feature's reference bins: sum((p - q) * ln(p / q)).
    Below 0.1 is usually read as no shift, above 0.25 as a significant one."""
    expected = np.maximum(np.asarray(feature.bin_shares), EPSILON)
    actual = np.maximum(shares(values, np.asarray(feature.bin_edges)), EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
