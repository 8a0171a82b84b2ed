"""services.registry.artifacts.ArtifactStore over a real database (SQLite and PostgreSQL) and a
filesystem blob store: what each tenant stores (the storage quota's figure and the stored-bytes
metrics), deletion of what nothing uses, and the crash-safe clean-up at start-up."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.common import db
from services.common.errors import NotFound
from services.registry import tables as t
from services.registry.artifacts import ArtifactStore
from services.registry.blobs import FilesystemBlobStore
from services.registry.metrics import StorageCollector


@pytest.fixture
def artifacts(database_url, tmp_path) -> Iterator[ArtifactStore]:
    engine = db.create_engine(database_url)
    db.migrate(engine, "registry", Path(t.__file__).parent / "migrations")
    yield ArtifactStore(engine, FilesystemBlobStore(tmp_path / "blobs"))
    engine.dispose()


def stored(artifacts: ArtifactStore, tenant: str, data: bytes) -> str:
    """Upload `data` the way the registry does: bytes first, then the row."""
    writer = artifacts.blobs.writer(tenant, limit=1 << 20)
    writer.write(data)
    sha256 = writer.finish()
    writer.commit(sha256)
    artifacts.commit(tenant, sha256, len(data))
    return sha256


def test_each_tenant_stores_its_own_bytes_once_per_content(artifacts):
    sha = stored(artifacts, "acme", b"model bytes")
    assert stored(artifacts, "acme", b"model bytes") == sha  # the same content: one artifact
    stored(artifacts, "acme", b"dataset")
    stored(artifacts, "globex", b"model bytes")
    usage = artifacts.storage_usage("acme")
    assert (usage.stored_bytes, usage.artifact_count) == (len(b"model bytes") + len(b"dataset"), 2)
    assert artifacts.storage_usage("initech").stored_bytes == 0
    assert artifacts.storage_by_tenant() == {"acme": (18, 2), "globex": (11, 1)}
    assert artifacts.get("globex", sha).size_bytes == 11


def test_the_stored_bytes_metrics_read_the_same_figures(artifacts):
    stored(artifacts, "acme", b"12345")
    metrics = CollectorRegistry()
    metrics.register(StorageCollector(artifacts))
    assert metrics.get_sample_value("maas_registry_stored_bytes", {"tenant": "acme"}) == 5
    assert metrics.get_sample_value("maas_registry_artifacts", {"tenant": "acme"}) == 1
    stored(artifacts, "acme", b"678")
    assert metrics.get_sample_value("maas_registry_stored_bytes", {"tenant": "acme"}) == 8


def test_deleting_an_unused_artifact_removes_its_row_and_bytes(artifacts):
    sha = stored(artifacts, "acme", b"gone soon")
    artifacts.delete("acme", sha)
    assert not artifacts.blobs.exists("acme", sha)
    with pytest.raises(NotFound):
        artifacts.get("acme", sha)
    with pytest.raises(NotFound):
        artifacts.delete("acme", sha)
    assert artifacts.storage_usage("acme").artifact_count == 0


def test_a_delete_interrupted_after_its_commit_is_finished_by_reclaim(artifacts):
    sha = stored(artifacts, "acme", b"flagged")
    with artifacts.engine.begin() as conn:  # the deleting transaction, then a crash before the bytes go
        ArtifactStore.mark_unreferenced(conn, "acme", {sha})
    assert artifacts.storage_usage("acme").stored_bytes == 0  # no longer counted against the plan
    with pytest.raises(NotFound):
        artifacts.get("acme", sha)
    assert artifacts.blobs.exists("acme", sha)
    assert artifacts.reclaim() == 1
    assert not artifacts.blobs.exists("acme", sha) and artifacts.storage_by_tenant() == {}


def test_bytes_without_a_row_are_swept_and_rows_bytes_are_kept(artifacts):
    kept = stored(artifacts, "acme", b"kept")
    writer = artifacts.blobs.writer("acme", limit=1 << 20)
    writer.write(b"orphan")
    orphan = writer.finish()
    writer.commit(orphan)  # a crash between the rename and the row's insert
    assert orphan == hashlib.sha256(b"orphan").hexdigest()
    assert artifacts.sweep_orphan_blobs() == 1
    assert not artifacts.blobs.exists("acme", orphan)
    assert artifacts.blobs.exists("acme", kept)
