"""Drift measures on distributions whose answer is known: the Kolmogorov-Smirnov statistic at the
reference's decile edges against the normal distribution's own values, the population stability
index, the predicted classes' shares, and the monitor that turns sampled requests into gauges and
a report."""

import asyncio
from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from services.common.drift import (
    MAX_CLASSES,
    QUANTILES,
    kolmogorov_smirnov,
    population_stability_index,
    reference_statistics,
    stability_index,
)
from services.inference.drift import MIN_ROWS, DriftMonitor
from services.inference.memory import ModelKey
from services.inference.metrics import InferenceMetrics

RNG = np.random.default_rng(7)
TRAINING = RNG.normal(size=(50_000, 1))
REFERENCE = reference_statistics(TRAINING).features[0]


def decile_ks(served: NormalDist) -> float:
    """The statistic's true value at the standard normal's deciles, for served values ~ `served`."""
    standard = NormalDist()
    return max(abs(served.cdf(standard.inv_cdf(q)) - q) for q in QUANTILES)


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        (NormalDist(0, 1), 0.0),
        # A shift by d: the statistic over every value is 2 Phi(d / 2) - 1 (0.1974, 0.3829), at the
        # deciles next to -d / 2 nearly the same.
        (NormalDist(0.5, 1), 0.1974),
        (NormalDist(-1.0, 1), 0.3828),
        (NormalDist(0, 2), 0.1608),  # twice the spread: at the first and last deciles
    ],
)
def test_ks_matches_the_normal_distributions_value_at_the_deciles(served, expected):
    assert decile_ks(served) == pytest.approx(expected, abs=1e-3)
    values = np.array(served.samples(20_000, seed=3))
    # Sampling error of both sides: about 1 / sqrt(20,000) = 0.007 each.
    assert kolmogorov_smirnov(REFERENCE, values) == pytest.approx(expected, abs=0.025)


def test_ks_is_at_most_the_statistic_over_every_value():
    values = RNG.normal(0.3, 1.2, size=5000)
    both = np.sort(np.concatenate([TRAINING[:, 0], values]))
    full = np.max(
        np.abs(
            np.searchsorted(np.sort(TRAINING[:, 0]), both, side="left") / len(TRAINING)
            - np.searchsorted(np.sort(values), both, side="left") / len(values)
        )
    )
    binned = kolmogorov_smirnov(REFERENCE, values)
    assert 0.5 * full < binned <= full + 1e-9


def test_ks_of_a_constant_feature_is_zero_and_of_values_outside_the_range_is_large():
    constant = reference_statistics(np.ones((100, 1))).features[0]
    assert kolmogorov_smirnov(constant, np.ones(50)) == 0.0
    assert kolmogorov_smirnov(REFERENCE, np.full(100, 10.0)) == pytest.approx(0.9, abs=0.01)


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift():
    assert population_stability_index(REFERENCE, RNG.normal(size=5000)) < 0.02
    assert population_stability_index(REFERENCE, RNG.normal(1.5, 1, size=5000)) > 1.0


def one_hot(classes: list[int], count: int) -> np.ndarray:
    return np.eye(count, dtype=np.float32)[classes]


def test_reference_keeps_the_predicted_classes_shares():
    scores = one_hot([0] * 70 + [1] * 20 + [2] * 10, 3)
    reference = reference_statistics(TRAINING[:100], scores=scores, output_name="probabilities")
    assert reference.prediction_output == "probabilities"
    assert list(reference.prediction_shares) == pytest.approx([0.7, 0.2, 0.1])
    # No classes, or too many to keep a series each: no prediction shares.
    assert not reference_statistics(TRAINING[:100], scores=scores[:, :1]).prediction_shares
    many = one_hot(list(range(MAX_CLASSES + 1)), MAX_CLASSES + 1)
    assert not reference_statistics(TRAINING[: MAX_CLASSES + 1], scores=many).prediction_shares


def test_stability_index_of_class_shares():
    assert stability_index(np.array([0.7, 0.2, 0.1]), np.array([0.7, 0.2, 0.1])) == 0.0
    # (0.6 ln 7) twice; the middle class does not move.
    assert stability_index(np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.2, 0.7])) == pytest.approx(1.2 * np.log(7))


def monitored(count: int = 3):
    registry = CollectorRegistry()
    features = RNG.normal(size=(1000, 2))
    scores = one_hot([0] * 500 + [1] * 300 + [2] * 200, count)
    reference = reference_statistics(features, scores=scores, output_name="probabilities")
    model = SimpleNamespace(key=ModelKey("acme", "m", 4), reference=reference)
    return registry, DriftMonitor(InferenceMetrics(registry), 100, 3600, 500), model


def sample(registry: CollectorRegistry, name: str, **labels) -> float | None:
    return registry.get_sample_value(name, {"tenant": "acme", "model": "m", "version": "4", **labels})


def test_monitor_scores_features_and_predicted_classes_and_forgets_them():
    registry, monitor, model = monitored()

    async def serve() -> dict:
        for _ in range(MIN_ROWS // 10):
            rows = RNG.normal(size=(10, 2)) + np.array([0.0, 2.0])  # the second feature shifted
            # Every row predicted as class 2, which the training rows were 20 % of.
            monitor.observe(model, {"features": rows}, {"probabilities": one_hot([2] * 10, 3)})
        # Outputs that are not the reference's classes add rows but no classes.
        monitor.observe(model, {"features": RNG.normal(size=(10, 2))}, {"probabilities": np.zeros((10, 5))})
        reports = monitor.measure()
        await monitor.close()
        return reports

    report = asyncio.run(serve())[model.key]
    assert report.row_count == MIN_ROWS + 10
    calm, shifted = report.features
    assert calm.ks < 0.2 and shifted.ks > 0.5, report  # 2 Phi(1) - 1 = 0.68 on 100 of the 110 rows
    assert calm.psi < shifted.psi
    assert list(report.prediction_shares) == [0.0, 0.0, 1.0]
    assert report.prediction_psi == pytest.approx(stability_index(np.array([0.5, 0.3, 0.2]), np.array([0, 0, 1.0])))
    assert sample(registry, "maas_inference_feature_drift_ks", feature="features[1]") == shifted.ks
    assert sample(registry, "maas_inference_prediction_class_share", **{"class": "2", "sample": "served"}) == 1.0
    assert sample(registry, "maas_inference_prediction_class_share", **{"class": "2", "sample": "reference"}) == 0.2
    assert sample(registry, "maas_inference_prediction_drift_psi") == report.prediction_psi
    monitor.forget(model.key)
    assert sample(registry, "maas_inference_feature_drift_ks", feature="features[1]") is None
    assert sample(registry, "maas_inference_prediction_class_share", **{"class": "2", "sample": "served"}) is None
    assert sample(registry, "maas_inference_prediction_drift_psi") is None


def test_monitor_waits_for_enough_rows():
    _, monitor, model = monitored()

    async def serve() -> dict:
        monitor.observe(model, {"features": RNG.normal(size=(MIN_ROWS - 1, 2))}, {})
        reports = monitor.measure()
        await monitor.close()
        return reports

    assert asyncio.run(serve()) == {}


def test_monitor_scores_a_window_again_only_after_new_rows():
    _, monitor, model = monitored()

    async def serve() -> list:
        rows = {"features": RNG.normal(size=(MIN_ROWS, 2))}
        monitor.observe(model, rows, {})
        rounds = [monitor.measure(), monitor.measure()]
        monitor.observe(model, rows, {})
        rounds.append(monitor.measure())
        await monitor.close()
        return [len(reports) for reports in rounds]

    assert asyncio.run(serve()) == [1, 0, 1]
