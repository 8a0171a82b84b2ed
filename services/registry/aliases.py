"""Aliases of every tenant's models: movable names (`production`, `staging`) for version numbers."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.timeutil import now, set_timestamp
from services.common.validation import check_id
from services.registry import tables as t
from services.registry.catalogue import Kind, ModelCatalogue, State
from services.registry.events import EventLog


class AliasCatalogue:
    """Sets, reads and deletes aliases; every change is recorded in the event log in its
    transaction (inference follows the moves). A FAILED version cannot take an alias."""

    def __init__(self, engine: Engine, models: ModelCatalogue, events: EventLog) -> None:
        self.engine = engine
        self._models = models
        self.events = events

    @staticmethod
    def _alias_message(model_id: str, row) -> pb.Alias:
        alias = pb.Alias(name=f"models/{model_id}/aliases/{row.alias}", version=row.version, revision=row.revision)
        set_timestamp(alias.update_time, row.update_time)
        return alias

    def set_alias(self, tenant: str, model_id: str, alias: str, version: int) -> pb.Alias:
        check_id(alias, "alias.name")
        if alias.isdigit():
            raise InvalidArgument("alias.name: an alias cannot be a number")
        if version <= 0:
            raise InvalidArgument("alias.version: must be a positive version number")
        with self.engine.begin() as conn:
            model_row = self._models.model_row(conn, tenant, model_id, lock=True)
            target = conn.execute(
                sa.select(t.model_versions.c.state, t.model_versions.c.state_reason).where(
                    t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == version
                )
            ).first()
            if target is None:
                raise NotFound(f"version {version} of model {model_id!r} not found")
            if target.state == State.STATE_FAILED:
                raise FailedPrecondition(
                    f"version {version} of model {model_id!r} failed validation ({target.state_reason}); "
                    "it cannot take traffic"
                )
            revision = self.events.record(conn, tenant, Kind.KIND_ALIAS_SET, model_id, version=version, alias=alias)
            values = {"version": version, "revision": revision, "update_time": now()}
            updated = conn.execute(
                t.aliases.update()
                .where(t.aliases.c.model_pk == model_row.id, t.aliases.c.alias == alias)
                .values(**values)
            ).rowcount
            if not updated:
                conn.execute(t.aliases.insert().values(model_pk=model_row.id, alias=alias, **values))
            row = conn.execute(
                sa.select(t.aliases).where(t.aliases.c.model_pk == model_row.id, t.aliases.c.alias == alias)
            ).one()
            return self._alias_message(model_id, row)

    def get_alias(self, tenant: str, model_id: str, alias: str) -> pb.Alias:
        with self.engine.connect() as conn:
            model_row = self._models.model_row(conn, tenant, model_id)
            row = conn.execute(
                sa.select(t.aliases).where(t.aliases.c.model_pk == model_row.id, t.aliases.c.alias == alias)
            ).first()
            if row is None:
                raise NotFound(f"alias {alias!r} of model {model_id!r} not found")
            return self._alias_message(model_id, row)

    def list_aliases(self, tenant: str, model_id: str) -> list[pb.Alias]:
        with self.engine.connect() as conn:
            model_row = self._models.model_row(conn, tenant, model_id)
            rows = conn.execute(
                sa.select(t.aliases).where(t.aliases.c.model_pk == model_row.id).order_by(t.aliases.c.alias)
            ).all()
            return [self._alias_message(model_id, r) for r in rows]

    def delete_alias(self, tenant: str, model_id: str, alias: str) -> None:
        with self.engine.begin() as conn:
            model_row = self._models.model_row(conn, tenant, model_id, lock=True)
            deleted = conn.execute(
                t.aliases.delete().where(t.aliases.c.model_pk == model_row.id, t.aliases.c.alias == alias)
            ).rowcount
            if not deleted:
                raise NotFound(f"alias {alias!r} of model {model_id!r} not found")
            self.events.record(conn, tenant, Kind.KIND_ALIAS_DELETED, model_id, alias=alias)
