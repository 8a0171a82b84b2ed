"""Aliases of every tenant's models: movable names (`production`, `staging`) for a version or a
weighted split between versions, with an optional shadow; every change is kept in the alias's
history (the event log) and can be rolled back to."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from services.common.timeutil import now, set_timestamp
from services.common.validation import check_id, decode_page_token, encode_page_token
from services.registry import tables as t
from services.registry.alias_state import AliasState
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
        alias = pb.Alias(name=f"models/{model_id}/aliases/{row.alias}", revision=row.revision)
        AliasState.from_row(
            row.version, row.targets, row.shadow, row.reason, row.rollout, row.payload_log_percent
        ).fill(alias)
        set_timestamp(alias.update_time, row.update_time)
        return alias

    def set_alias(self, tenant: str, model_id: str, alias: str, message: pb.Alias, expected_revision: int = 0):
        check_id(alias, "alias.name")
        if alias.isdigit():
            raise InvalidArgument("alias.name: an alias cannot be a number")
        if expected_revision < 0:
            raise InvalidArgument("expected_revision: must not be negative")
        state = AliasState.from_message(message)
        with self.engine.begin() as conn:
            model_row = self._models.model_row(conn, tenant, model_id, lock=True)
            return self._write(conn, tenant, model_id, model_row, alias, state, expected_revision)

    def _write(self, conn: Connection, tenant, model_id, model_row, alias, state: AliasState, expected_revision=0):
        """Set the alias to `state` in the caller's transaction (the model row is locked)."""
        where = (t.aliases.c.model_pk == model_row.id, t.aliases.c.alias == alias)
        if expected_revision:
            current = conn.execute(sa.select(t.aliases.c.revision).where(*where)).scalar()
            if current != expected_revision:
                raise Aborted(
                    f"alias {alias!r} of model {model_id!r} is at revision {current or 'none'}, "
                    f"not {expected_revision}; read it again"
                )
        found = {
            row.version: (row.state, row.state_reason)
            for row in conn.execute(
                sa.select(t.model_versions.c.version, t.model_versions.c.state, t.model_versions.c.state_reason).where(
                    t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version.in_(sorted(state.versions))
                )
            )
        }
        for version in sorted(state.versions):
            if version not in found:
                raise NotFound(f"version {version} of model {model_id!r} not found")
            version_state, reason = found[version]
            if version_state == State.STATE_FAILED:
                raise FailedPrecondition(
                    f"version {version} of model {model_id!r} failed validation ({reason}); it cannot take traffic"
                )
            if version_state == State.STATE_ARCHIVED:
                raise FailedPrecondition(f"version {version} of model {model_id!r} is archived; unarchive it first")
        revision = self.events.record(
            conn, tenant, Kind.KIND_ALIAS_SET, model_id, version=state.primary, alias=alias, alias_state=state
        )
        values = {**state.columns(), "revision": revision, "update_time": now()}
        if not conn.execute(t.aliases.update().where(*where).values(**values)).rowcount:
            conn.execute(t.aliases.insert().values(model_pk=model_row.id, alias=alias, **values))
        return self._alias_message(model_id, conn.execute(sa.select(t.aliases).where(*where)).one())

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

    # ---------------------------------------------------------------- history
    @staticmethod
    def _history_query(tenant: str, model_id: str, alias: str):
        return sa.select(t.events).where(
            t.events.c.tenant == tenant,
            t.events.c.model_id == model_id,
            t.events.c.alias == alias,
            t.events.c.kind.in_([Kind.KIND_ALIAS_SET, Kind.KIND_ALIAS_DELETED]),
        )

    @staticmethod
    def _revision_message(model_id: str, row) -> pb.AliasRevision:
        deleted = row.kind == Kind.KIND_ALIAS_DELETED
        alias = pb.Alias(name=f"models/{model_id}/aliases/{row.alias}", revision=row.revision)
        if not deleted:
            AliasState.from_event(row.version, row.alias_state).fill(alias)
        set_timestamp(alias.update_time, row.event_time)
        return pb.AliasRevision(alias=alias, deleted=deleted)

    def list_revisions(self, tenant: str, model_id: str, alias: str, page_size: int, page_token: str):
        """The alias's history, newest first; a deleted and re-created alias keeps its past."""
        cursor = decode_page_token(page_token)
        query = self._history_query(tenant, model_id, alias).order_by(t.events.c.revision.desc())
        if cursor:
            query = query.where(t.events.c.revision < int(cursor[0]))
        with self.engine.connect() as conn:
            self._models.model_row(conn, tenant, model_id)
            rows = conn.execute(query.limit(page_size + 1)).all()
        if not rows and not cursor:
            raise NotFound(f"alias {alias!r} of model {model_id!r} not found")
        next_token = encode_page_token([rows[page_size - 1].revision]) if len(rows) > page_size else ""
        return [self._revision_message(model_id, r) for r in rows[:page_size]], next_token

    def rollback(self, tenant: str, model_id: str, alias: str, revision: int, reason: str) -> pb.Alias:
        """Set the alias to what one of its earlier revisions set (a new revision)."""
        if revision <= 0:
            raise InvalidArgument("revision: must be a positive revision of the alias's history")
        with self.engine.begin() as conn:
            model_row = self._models.model_row(conn, tenant, model_id, lock=True)
            row = conn.execute(
                self._history_query(tenant, model_id, alias).where(t.events.c.revision == revision)
            ).first()
            if row is None:
                raise NotFound(f"revision {revision} is not in the history of alias {alias!r} of model {model_id!r}")
            if row.kind == Kind.KIND_ALIAS_DELETED:
                raise FailedPrecondition(f"revision {revision} deleted alias {alias!r}; roll back to one that set it")
            restored = AliasState.from_event(row.version, row.alias_state)
            note = f"rollback to revision {revision}" + (f": {reason}" if reason else "")
            # A rollout is not restored: the controller would move the alias again at once.
            state = AliasState(
                restored.targets, restored.shadow, note[:1000], payload_log_percent=restored.payload_log_percent
            )
            return self._write(conn, tenant, model_id, model_row, alias, state)
