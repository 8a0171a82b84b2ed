"""The registry's own metrics: what each tenant stores, read from the database at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.registry.artifacts import ArtifactStore


class StorageCollector(Collector):
    """`maas_registry_stored_bytes` and `maas_registry_artifacts` per tenant (one grouped query a
    scrape: the figures the storage quota is checked against, so a dashboard shows who nears theirs)."""

    def __init__(self, artifacts: ArtifactStore) -> None:
        self._artifacts = artifacts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stored = GaugeMetricFamily(
            "maas_registry_stored_bytes", "Bytes a tenant stores (artifacts and datasets).", labels=["tenant"]
        )
        count = GaugeMetricFamily("maas_registry_artifacts", "Artifacts a tenant stores.", labels=["tenant"])
        for tenant, (size, artifacts) in sorted(self._artifacts.storage_by_tenant().items()):
            stored.add_metric([tenant], size)
            count.add_metric([tenant], artifacts)
        yield stored
        yield count
