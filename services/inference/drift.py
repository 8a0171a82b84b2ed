"""Drift: a sampled share of the rows each version serves is kept (the latest `window_rows`, with
the class the model predicted for each when its reference knows the training rows' classes) and,
on a schedule, every feature is compared with the version's reference statistics (its training
data's bins) by the population stability index and the Kolmogorov-Smirnov statistic, and the
predicted classes' shares with the training rows'. The scores are gauges per version (and feature
or class), and each version's latest scores go to the registry as its drift report, which the API
and the console read."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import structlog

from maas.registry.v1 import registry_pb2 as rpb
from services.common.drift import class_shares, kolmogorov_smirnov, population_stability_index, stability_index
from services.common.errors import DomainError
from services.inference.loaded import LoadedModel
from services.inference.memory import ModelKey
from services.inference.metrics import InferenceMetrics

MIN_ROWS = 100  # fewer sampled rows say little about a distribution

log = structlog.get_logger("maas.inference.drift")

# (key, report): where each scored version's report goes (the registry).
DriftReporter = Callable[[ModelKey, rpb.DriftReport], Awaitable[None]]


@dataclass
class _Window:
    model: LoadedModel
    # The model's reference statistics (a window exists only for a model that has them).
    reference: rpb.ReferenceStatistics
    rows: deque
    # The predicted class of each sampled row (its own window: a request whose outputs do not fit
    # the reference's classes adds rows but no classes).
    classes: deque
    # Whether rows came since the last scoring (a window that did not change is not scored again).
    fresh: bool = True


class DriftMonitor:
    def __init__(
        self,
        metrics: InferenceMetrics,
        sample_percent: float,
        interval: float,
        window_rows: int,
        reporter: DriftReporter | None = None,
    ) -> None:
        self._metrics = metrics
        self._share = sample_percent / 100
        self._interval = interval
        self._window_rows = window_rows
        self._reporter = reporter
        self._windows: dict[ModelKey, _Window] = {}
        self._task: asyncio.Task | None = None

    def observe(self, model: LoadedModel, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
        """Keep this request's rows, and the classes predicted for them, if it is one of the
        sampled share (a version with reference statistics only; inputs that are not its
        [rows, features] matrix are skipped)."""
        reference = model.reference
        if reference is None or random.random() >= self._share:
            return
        rows = inputs.get(reference.input)
        if rows is None or rows.ndim != 2 or rows.shape[1] != len(reference.features):
            return
        window = self._windows.get(model.key)
        if window is None or window.model is not model:
            window = self._windows[model.key] = _Window(
                model, reference, deque(maxlen=self._window_rows), deque(maxlen=self._window_rows)
            )
        window.rows.extend(rows.astype(np.float64))
        window.fresh = True
        scores = outputs.get(reference.prediction_output) if reference.prediction_shares else None
        if scores is not None and scores.shape == (len(rows), len(reference.prediction_shares)):
            window.classes.extend(scores.argmax(axis=1).tolist())
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="drift")

    def forget(self, key: ModelKey) -> None:
        """A version was unloaded: its window and its series go."""
        window = self._windows.pop(key, None)
        if window is None:
            return
        labels = (key.tenant, key.model, str(key.version))
        reference = window.reference
        with contextlib.suppress(KeyError):  # never scored
            self._metrics.prediction_drift.remove(*labels)
        for feature in reference.features:
            for gauge in (self._metrics.feature_drift, self._metrics.feature_drift_ks):
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels, feature.name)
        for i in range(len(reference.prediction_shares)):
            for sample in ("served", "reference"):
                with contextlib.suppress(KeyError):
                    self._metrics.prediction_class_share.remove(*labels, str(i), sample)

    def measure(self) -> dict[ModelKey, rpb.DriftReport]:
        """Score every window with enough rows and new ones since it was last scored (the
        schedule's work; also callable directly)."""
        reports = {}
        for key, window in list(self._windows.items()):
            if len(window.rows) < MIN_ROWS or not window.fresh:
                continue
            window.fresh = False
            reports[key] = report = self._score(key, window)
            report.time.GetCurrentTime()
        return reports

    def _score(self, key: ModelKey, window: _Window) -> rpb.DriftReport:
        metrics, reference = self._metrics, window.reference
        labels = (key.tenant, key.model, str(key.version))
        values = np.stack(window.rows)
        report = rpb.DriftReport(row_count=len(values))
        for i, feature in enumerate(reference.features):
            psi = population_stability_index(feature, values[:, i])
            ks = kolmogorov_smirnov(feature, values[:, i])
            metrics.feature_drift.labels(*labels, feature.name).set(psi)
            metrics.feature_drift_ks.labels(*labels, feature.name).set(ks)
            report.features.add(name=feature.name, psi=psi, ks=ks)
        if len(window.classes) >= MIN_ROWS:
            expected = np.asarray(reference.prediction_shares)
            served = class_shares(np.fromiter(window.classes, dtype=np.int64), len(expected))
            report.prediction_shares.extend(served.tolist())
            report.prediction_psi = stability_index(expected, served)
            metrics.prediction_drift.labels(*labels).set(report.prediction_psi)
            for i, (share, trained) in enumerate(zip(served, expected, strict=True)):
                metrics.prediction_class_share.labels(*labels, str(i), "served").set(share)
                metrics.prediction_class_share.labels(*labels, str(i), "reference").set(trained)
        return report

    async def _run(self) -> None:
        while self._windows:
            await asyncio.sleep(self._interval)
            reports = self.measure()
            if self._reporter is None:
                continue
            for key, report in reports.items():
                try:
                    await self._reporter(key, report)
                except DomainError as error:  # the next round reports again
                    log.warning("a drift report was not stored", model=key.model, version=key.version, error=str(error))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
