"""Drift: a sampled share of the rows each version serves is kept (the latest `window_rows`) and,
on a schedule, every feature is compared with the version's reference statistics (its training
data's bins) by the population stability index; the scores are gauges per version and feature."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque

import numpy as np

from services.common.drift import population_stability_index
from services.inference.loaded import LoadedModel
from services.inference.memory import ModelKey
from services.inference.metrics import InferenceMetrics

MIN_ROWS = 100  # fewer sampled rows say little about a distribution


class DriftMonitor:
    def __init__(self, metrics: InferenceMetrics, sample_percent: float, interval: float, window_rows: int) -> None:
        self._metrics = metrics
        self._share = sample_percent / 100
        self._interval = interval
        self._window_rows = window_rows
        self._windows: dict[ModelKey, tuple[LoadedModel, deque]] = {}
        self._task: asyncio.Task | None = None

    def observe(self, model: LoadedModel, inputs: dict[str, np.ndarray]) -> None:
        """Keep this request's rows if it is one of the sampled share (a version with reference
        statistics only; inputs that are not its [rows, features] matrix are skipped)."""
        reference = model.reference
        if reference is None or random.random() >= self._share:
            return
        rows = inputs.get(reference.input)
        if rows is None or rows.ndim != 2 or rows.shape[1] != len(reference.features):
            return
        found = self._windows.get(model.key)
        if found is None or found[0] is not model:
            found = self._windows[model.key] = (model, deque(maxlen=self._window_rows))
        found[1].extend(rows.astype(np.float64))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="drift")

    def forget(self, key: ModelKey) -> None:
        """A version was unloaded: its window and its series go."""
        found = self._windows.pop(key, None)
        if found is not None:
            for feature in found[0].reference.features:
                labels = (key.tenant, key.model, str(key.version), feature.name)
                with contextlib.suppress(KeyError):  # never scored
                    self._metrics.feature_drift.remove(*labels)

    def measure(self) -> None:
        """Score every window with enough rows (the schedule's work; also callable directly)."""
        for key, (model, window) in list(self._windows.items()):
            if len(window) < MIN_ROWS:
                continue
            values = np.stack(window)
            for i, feature in enumerate(model.reference.features):
                score = population_stability_index(feature, values[:, i])
                self._metrics.feature_drift.labels(key.tenant, key.model, str(key.version), feature.name).set(score)

    async def _run(self) -> None:
        while self._windows:
            await asyncio.sleep(self._interval)
            self.measure()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
