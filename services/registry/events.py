"""The registry's event log: every alias and version change, in revision order (backs the watch)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from maas.registry.v1 import registry_pb2 as pb
from services.common.timeutil import now, set_timestamp
from services.registry import tables as t
from services.registry.alias_state import AliasState


class EventLog:
    """Appends events inside the changing transaction and reads them back after a revision."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def record(
        conn: Connection,
        tenant: str,
        kind: int,
        model_id: str,
        version: int = 0,
        alias: str = "",
        alias_state: AliasState | None = None,
    ) -> int:
        """Append an event in the caller's transaction; returns its revision."""
        return conn.execute(
            t.events.insert()
            .values(
                tenant=tenant,
                kind=kind,
                model_id=model_id,
                version=version,
                alias=alias,
                event_time=now(),
                alias_state=alias_state.event_state() if alias_state is not None else None,
            )
            .returning(t.events.c.revision)
        ).scalar_one()

    def after(self, tenant: str, model_id: str, after_revision: int, limit: int = 500) -> list[pb.RegistryEvent]:
        query = (
            sa.select(t.events)
            .where(t.events.c.tenant == tenant, t.events.c.revision > after_revision)
            .order_by(t.events.c.revision)
            .limit(limit)
        )
        if model_id:
            query = query.where(t.events.c.model_id == model_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        result = []
        for row in rows:
            event = pb.RegistryEvent(
                revision=row.revision,
                kind=row.kind,
                model=f"models/{row.model_id}",
                version=row.version,
                alias=row.alias,
            )
            set_timestamp(event.event_time, row.event_time)
            if row.kind == pb.RegistryEvent.Kind.KIND_ALIAS_SET:
                AliasState.from_event(row.version, row.alias_state).fill(event)
            result.append(event)
        return result

    def latest_revision(self, tenant: str) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.max(t.events.c.revision)).where(t.events.c.tenant == tenant)
            return conn.execute(query).scalar() or 0
