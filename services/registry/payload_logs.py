"""Payload logs of every tenant's models: each a Parquet file of sampled requests and responses
of one version on one day, uploaded by inference as an artifact and recorded here, so that the
tenant (and only it) lists, downloads and deletes them."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import InvalidArgument, NotFound
from services.common.timeutil import now, set_timestamp
from services.common.validation import decode_page_token, encode_page_token
from services.registry import tables as t
from services.registry.artifacts import ArtifactStore
from services.registry.catalogue import ModelCatalogue


def _check_day(day: str, field: str) -> str:
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        raise InvalidArgument(f"{field}: {day!r} is not a day (YYYY-MM-DD)") from None
    return day


class PayloadLogs:
    def __init__(self, engine: Engine, models: ModelCatalogue, artifacts: ArtifactStore) -> None:
        self.engine = engine
        self._models = models
        self._artifacts = artifacts

    @staticmethod
    def _message(row) -> pb.PayloadLog:
        log = pb.PayloadLog(
            name=f"models/{row.model_id}/payloadLogs/{row.id}",
            version=row.version,
            day=row.day,
            row_count=row.row_count,
            artifact=f"artifacts/{row.artifact_sha256}",
            size_bytes=row.size_bytes,
        )
        set_timestamp(log.create_time, row.create_time)
        return log

    def create(self, tenant: str, model_id: str, log: pb.PayloadLog) -> pb.PayloadLog:
        if log.version <= 0 or log.row_count <= 0:
            raise InvalidArgument("payload_log: version and row_count must be positive")
        day = _check_day(log.day, "payload_log.day")
        sha256 = log.artifact.removeprefix("artifacts/")
        with self.engine.begin() as conn:
            self._models.model_row(conn, tenant, model_id)
            artifact = conn.execute(
                sa.select(t.artifacts).where(
                    t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256, ~t.artifacts.c.pending_delete
                )
            ).first()
            if artifact is None:
                raise NotFound(f"payload_log.artifact: {log.artifact!r} not found; upload it first")
            values = {
                # Sorts by creation: newest first is descending id.
                "id": f"{time.time_ns():019d}{uuid.uuid4().hex[:13]}",
                "tenant": tenant,
                "model_id": model_id,
                "version": log.version,
                "day": day,
                "artifact_sha256": sha256,
                "row_count": log.row_count,
                "size_bytes": artifact.size_bytes,
                "create_time": now(),
            }
            conn.execute(t.payload_logs.insert().values(**values))
        return self._message(type("Row", (), values))

    def _where(self, tenant: str, model_id: str, version: int, day: str) -> list:
        where = [t.payload_logs.c.tenant == tenant, t.payload_logs.c.model_id == model_id]
        if version < 0:
            raise InvalidArgument("version: must not be negative")
        if version:
            where.append(t.payload_logs.c.version == version)
        if day:
            where.append(t.payload_logs.c.day == _check_day(day, "day"))
        return where

    def list(self, tenant: str, model_id: str, version: int, day: str, page_size: int, page_token: str):
        """Newest first; another tenant's model is NOT_FOUND, as everywhere."""
        where = self._where(tenant, model_id, version, day)
        cursor = decode_page_token(page_token)
        query = sa.select(t.payload_logs).where(*where)
        if cursor:
            query = query.where(t.payload_logs.c.id < cursor[0])
        with self.engine.connect() as conn:
            self._models.model_row(conn, tenant, model_id)
            rows = conn.execute(query.order_by(t.payload_logs.c.id.desc()).limit(page_size + 1)).all()
        next_token = encode_page_token([rows[page_size - 1].id]) if len(rows) > page_size else ""
        return [self._message(r) for r in rows[:page_size]], next_token

    def delete(self, tenant: str, model_id: str, version: int, day: str) -> int:
        """Delete the matching logs; their files go with them when nothing else uses the bytes."""
        where = self._where(tenant, model_id, version, day)
        with self.engine.begin() as conn:
            self._models.model_row(conn, tenant, model_id, lock=True)
            shas = set(conn.execute(sa.select(t.payload_logs.c.artifact_sha256).where(*where)).scalars())
            deleted = conn.execute(t.payload_logs.delete().where(*where)).rowcount
            self._artifacts.mark_unreferenced(conn, tenant, shas)
        self._artifacts.reclaim()
        return deleted
