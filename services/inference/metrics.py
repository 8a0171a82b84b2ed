"""Inference's domain metrics: per model and version, so versions can be compared on a dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.common.metrics import LATENCY_BUCKETS
from services.inference.statistics import VersionStatistics

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class BatchObserver:
    """The batcher's view of the metrics: one model version's batch size and queue time, as
    Prometheus histograms and as the version's Triton-style statistics."""

    batch_size: Histogram
    queue_seconds: Histogram
    statistics: VersionStatistics

    def batch(self, rows: int, waits: list[float]) -> None:
        self.batch_size.observe(rows)
        for wait in waits:
            self.queue_seconds.observe(wait)
        self.statistics.queued(waits)


class VersionMetrics:
    """The labelled children of one model version, looked up once instead of on every request."""

    def __init__(self, metrics: InferenceMetrics, labels: tuple[str, str, str]) -> None:
        self._requests = metrics.requests
        self._labels = labels
        self._by_code: dict[str, Counter] = {}
        self.latency = metrics.latency.labels(*labels)

    def requests(self, code: str) -> Counter:
        child = self._by_code.get(code)
        if child is None:
            child = self._by_code[code] = self._requests.labels(*self._labels, code)
        return child


class InferenceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["tenant", "model", "version"]
        self._versions: dict[tuple[str, str, str], VersionMetrics] = {}
        self.requests = Counter(
            "maas_inference_requests_total", "Inference requests by status code.", [*labels, "code"], registry=registry
        )
        self.latency = Histogram(
            "maas_inference_request_seconds",
            "Inference latency in the server.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "maas_inference_batch_size", "Rows per model call.", labels, buckets=BATCH_BUCKETS, registry=registry
        )
        self.queue_seconds = Histogram(
            "maas_inference_queue_seconds",
            "Time a request waited for its batch.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.load_seconds = Histogram(
            "maas_inference_model_load_seconds",
            "Time to fetch, load and warm a model version.",
            ["tenant", "model"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=registry,
        )
        self.loaded = Gauge("maas_inference_models_loaded", "Model versions in memory.", registry=registry)
        self.memory_bytes = Gauge(
            "maas_inference_model_memory_bytes", "Estimated memory of the loaded models.", registry=registry
        )
        self.runtime = Gauge(
            "maas_inference_model_runtime",
            "1 for the runtime each loaded model version runs on (savedmodel or lite).",
            [*labels, "runtime"],
            registry=registry,
        )
        self._runtimes: dict[tuple[str, str, str], str] = {}
        shadow_labels = [*labels, "shadow_version"]
        self.shadow_requests = Counter(
            "maas_inference_shadow_requests_total",
            "Mirrored requests run on an alias's shadow version, by status code (version: the primary's).",
            [*shadow_labels, "code"],
            registry=registry,
        )
        self.shadow_seconds = Histogram(
            "maas_inference_shadow_request_seconds",
            "Latency of the shadow version on mirrored requests (the caller never waits for it).",
            shadow_labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.shadow_rows = Counter(
            "maas_inference_shadow_rows_total",
            "Rows compared between primary and shadow.",
            shadow_labels,
            registry=registry,
        )
        self.shadow_disagreeing_rows = Counter(
            "maas_inference_shadow_disagreeing_rows_total",
            "Compared rows where the shadow's answer differs (another argmax, or beyond tolerance).",
            shadow_labels,
            registry=registry,
        )
        self.shadow_abs_difference = Histogram(
            "maas_inference_shadow_mean_abs_difference",
            "Mean absolute difference between the primary's and the shadow's first output, per request.",
            shadow_labels,
            buckets=(1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=registry,
        )
        self.shadow_dropped = Counter(
            "maas_inference_shadow_dropped_total",
            "Requests not mirrored because too many shadow requests were running.",
            ["tenant", "model", "shadow_version"],
            registry=registry,
        )
        self.feature_drift = Gauge(
            "maas_inference_feature_drift_psi",
            "Population stability index of a feature's sampled served values against the version's training data.",
            [*labels, "feature"],
            registry=registry,
        )
        self.feature_drift_ks = Gauge(
            "maas_inference_feature_drift_ks",
            "Kolmogorov-Smirnov statistic of a feature's sampled served values against the version's training data.",
            [*labels, "feature"],
            registry=registry,
        )
        self.prediction_class_share = Gauge(
            "maas_inference_prediction_class_share",
            "Share of rows predicted as a class: among sampled served rows (sample=served) or the version's "
            "training rows (sample=reference).",
            [*labels, "class", "sample"],
            registry=registry,
        )
        self.prediction_drift = Gauge(
            "maas_inference_prediction_drift_psi",
            "Population stability index of the sampled served rows' predicted classes against the training rows'.",
            labels,
            registry=registry,
        )
        self.payload_log_rows = Counter(
            "maas_inference_payload_log_rows_total",
            "Sampled requests written to payload logs (outcome written) or dropped when the registry refused them.",
            ["tenant", "model", "outcome"],
            registry=registry,
        )
        self.idle_unloads = Counter(
            "maas_inference_idle_unloads_total",
            "Model versions unloaded because nobody called them for MAAS_IDLE_UNLOAD_SECONDS.",
            ["tenant", "model"],
            registry=registry,
        )
        self.rollout_step = Gauge(
            "maas_inference_rollout_step",
            "The step (1, 2, ...) of the rollout an alias is in; 0 when it is in none.",
            ["tenant", "model", "alias"],
            registry=registry,
        )
        self.rollout_changes = Counter(
            "maas_inference_rollout_changes_total",
            "Alias changes this process's rollout controller made: advanced, promoted or rolled_back.",
            ["tenant", "model", "alias", "outcome"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "maas_inference_inflight_requests",
            "Inference requests being served (the autoscaling signal).",
            registry=registry,
        )

    def for_version(self, tenant: str, model: str, version: int) -> VersionMetrics:
        """The children of a resolved version (never a string a client sent: series stay bounded)."""
        key = (tenant, model, str(version))
        found = self._versions.get(key)
        if found is None:
            found = self._versions[key] = VersionMetrics(self, key)
        return found

    def set_runtime(self, tenant: str, model: str, version: int, runtime: str | None) -> None:
        """Record the runtime a version runs on; None once it is unloaded."""
        labels = (tenant, model, str(version))
        previous = self._runtimes.pop(labels, None)
        if previous is not None:
            self.runtime.remove(*labels, previous)
        if runtime is not None:
            self._runtimes[labels] = runtime
            self.runtime.labels(*labels, runtime).set(1)

    def batch_observer(self, tenant: str, model: str, version: int, statistics: VersionStatistics) -> BatchObserver:
        values = (tenant, model, str(version))
        return BatchObserver(self.batch_size.labels(*values), self.queue_seconds.labels(*values), statistics)
