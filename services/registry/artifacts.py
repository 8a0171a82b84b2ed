"""Artifact rows of every tenant (content-addressed bytes in a `BlobStore`) and their crash-safe clean-up."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import FailedPrecondition, NotFound
from services.common.timeutil import now, set_timestamp
from services.registry import tables as t
from services.registry.blobs import BlobStore


class ArtifactStore:
    """Which artifacts each tenant has, what they weigh, and when their bytes may go."""

    def __init__(self, engine: Engine, blobs: BlobStore) -> None:
        self.engine = engine
        self.blobs = blobs

    def register(self, conn: Connection, tenant: str, sha256: str, size: int) -> pb.Artifact:
        exists = conn.execute(
            sa.select(t.artifacts).where(t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256)
        ).first()
        if exists is None:
            conn.execute(
                t.artifacts.insert().values(
                    tenant=tenant, sha256=sha256, size_bytes=size, create_time=now(), pending_delete=False
                )
            )
            created = now()
        else:
            created = exists.create_time
            if exists.pending_delete:
                conn.execute(
                    t.artifacts.update()
                    .where(t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256)
                    .values(pending_delete=False)
                )
        artifact = pb.Artifact(name=f"artifacts/{sha256}", sha256=sha256, size_bytes=size)
        set_timestamp(artifact.create_time, created)
        return artifact

    def commit(self, tenant: str, sha256: str, size: int) -> pb.Artifact:
        with self.engine.begin() as conn:
            return self.register(conn, tenant, sha256, size)

    def get(self, tenant: str, sha256: str) -> pb.Artifact:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.artifacts).where(t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256)
            ).first()
        if row is None or row.pending_delete or not self.blobs.exists(tenant, sha256):
            raise NotFound(f"artifact {sha256!r} not found")
        artifact = pb.Artifact(name=f"artifacts/{sha256}", sha256=sha256, size_bytes=row.size_bytes)
        set_timestamp(artifact.create_time, row.create_time)
        return artifact

    def storage_usage(self, tenant: str) -> pb.StorageUsage:
        """What the tenant stores: its artifacts (datasets are artifacts too), less those being deleted."""
        with self.engine.connect() as conn:
            stored, count = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(t.artifacts.c.size_bytes), 0), sa.func.count()).where(
                    t.artifacts.c.tenant == tenant, sa.not_(t.artifacts.c.pending_delete)
                )
            ).one()
        # PostgreSQL sums a bigint column as numeric (a Decimal here).
        return pb.StorageUsage(stored_bytes=int(stored), artifact_count=count)

    def storage_by_tenant(self) -> dict[str, tuple[int, int]]:
        """Stored bytes and artifact count of every tenant that stores anything (for metrics)."""
        live = sa.not_(t.artifacts.c.pending_delete)
        query = (
            sa.select(t.artifacts.c.tenant, sa.func.sum(t.artifacts.c.size_bytes), sa.func.count())
            .where(live)
            .group_by(t.artifacts.c.tenant)
        )
        with self.engine.connect() as conn:
            return {tenant: (int(stored), count) for tenant, stored, count in conn.execute(query)}

    def delete(self, tenant: str, sha256: str) -> None:
        """Delete an artifact nothing refers to; one in use is FAILED_PRECONDITION."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(t.artifacts).where(t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256)
            ).first()
            if row is None or row.pending_delete:
                raise NotFound(f"artifact {sha256!r} not found")
            self.mark_unreferenced(conn, tenant, {sha256})
            flagged = conn.execute(
                sa.select(t.artifacts.c.pending_delete).where(
                    t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256
                )
            ).scalar()
            if not flagged:
                raise FailedPrecondition(f"artifact {sha256!r} is used by a model version or dataset")
        self.reclaim()

    @staticmethod
    def mark_unreferenced(conn: Connection, tenant: str, shas: set[str]) -> None:
        """Flag the artifacts no version, dataset or payload log uses any more, in the deleting transaction.

        The bytes go after the commit (`reclaim_artifacts`); a crash in between leaves the flag,
        and the next start finishes the job, so nothing deleted keeps its bytes.
        """
        for sha256 in shas:
            in_versions = conn.execute(
                sa.select(t.model_versions.c.id)
                .join(t.models, t.models.c.id == t.model_versions.c.model_pk)
                .where(t.models.c.tenant == tenant, t.model_versions.c.artifact_sha256 == sha256)
                .limit(1)
            ).first()
            in_datasets = conn.execute(
                sa.select(t.datasets.c.id).where(t.datasets.c.tenant == tenant, t.datasets.c.sha256 == sha256).limit(1)
            ).first()
            in_logs = conn.execute(
                sa.select(t.payload_logs.c.id)
                .where(t.payload_logs.c.tenant == tenant, t.payload_logs.c.artifact_sha256 == sha256)
                .limit(1)
            ).first()
            if in_versions is None and in_datasets is None and in_logs is None:
                conn.execute(
                    t.artifacts.update()
                    .where(t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256)
                    .values(pending_delete=True)
                )

    def reclaim(self) -> int:
        """Delete the bytes and rows of artifacts flagged for deletion."""
        with self.engine.connect() as conn:
            pending = conn.execute(
                sa.select(t.artifacts.c.tenant, t.artifacts.c.sha256).where(t.artifacts.c.pending_delete)
            ).all()
        for tenant, sha256 in pending:
            self.blobs.delete(tenant, sha256)
            with self.engine.begin() as conn:
                conn.execute(
                    t.artifacts.delete().where(
                        t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256, t.artifacts.c.pending_delete
                    )
                )
        return len(pending)

    def sweep_orphan_blobs(self) -> int:
        """Delete committed bytes no artifact row refers to (a crash between rename and insert)."""
        with self.engine.connect() as conn:
            known = {(r.tenant, r.sha256) for r in conn.execute(sa.select(t.artifacts.c.tenant, t.artifacts.c.sha256))}
        orphans = [blob for blob in self.blobs.all_blobs() if blob not in known]
        for tenant, sha256 in orphans:
            self.blobs.delete(tenant, sha256)
        return len(orphans)
