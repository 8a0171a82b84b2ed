"""The model catalogue of every tenant: models, their numbered versions and the aliases pointing at them."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from google.protobuf import json_format
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.common.timeutil import now, set_timestamp
from services.common.validation import (
    check_id,
    decode_page_token,
    encode_page_token,
    is_number,
    parse_filter,
    parse_order,
)
from services.registry import tables as t
from services.registry.alias_state import AliasState
from services.registry.artifacts import ArtifactStore
from services.registry.events import EventLog
from services.registry.reports import check_classification_report, check_drift, check_reference_statistics

Kind = pb.RegistryEvent.Kind
State = pb.ModelVersion.State


def _etag() -> str:
    return uuid.uuid4().hex


class ModelCatalogue:
    """Models, versions and aliases; every change is recorded in the event log in its transaction."""

    def __init__(self, engine: Engine, artifacts: ArtifactStore, events: EventLog) -> None:
        self.engine = engine
        self.artifacts = artifacts
        self.events = events

    def model_row(self, conn: Connection, tenant: str, model_id: str, *, lock: bool = False):
        query = sa.select(t.models).where(t.models.c.tenant == tenant, t.models.c.model_id == model_id)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"model {model_id!r} not found")
        return row

    @staticmethod
    def _model_message(row) -> pb.Model:
        model = pb.Model(
            name=f"models/{row.model_id}",
            description=row.description,
            labels=row.labels,
            task_type=row.task_type,
            latest_version=row.latest_version,
            etag=row.etag,
        )
        set_timestamp(model.create_time, row.create_time)
        set_timestamp(model.update_time, row.update_time)
        return model

    def _insert_model(self, conn: Connection, tenant: str, model_id: str, model: pb.Model | None) -> None:
        current = now()
        conn.execute(
            t.models.insert().values(
                tenant=tenant,
                model_id=model_id,
                description=model.description if model else "",
                labels=dict(model.labels) if model else {},
                task_type=model.task_type if model else 0,
                latest_version=0,
                etag=_etag(),
                create_time=current,
                update_time=current,
            )
        )

    def create_model(self, tenant: str, model_id: str, model: pb.Model) -> pb.Model:
        check_id(model_id, "model_id")
        try:
            with self.engine.begin() as conn:
                self._insert_model(conn, tenant, model_id, model)
        except IntegrityError:
            raise AlreadyExists(f"model {model_id!r} already exists") from None
        return self.get_model(tenant, model_id)

    def get_model(self, tenant: str, model_id: str) -> pb.Model:
        with self.engine.connect() as conn:
            return self._model_message(self.model_row(conn, tenant, model_id))

    def list_models(self, tenant: str, page_size: int, page_token: str, filter_text: str, order_by: str = ""):
        terms = parse_filter(filter_text, ("labels.",))
        descending = parse_order(order_by, "name")
        cursor = decode_page_token(page_token)
        column = t.models.c.model_id
        query = sa.select(t.models).where(t.models.c.tenant == tenant).order_by(column.desc() if descending else column)
        if cursor:
            query = query.where(column < str(cursor[0]) if descending else column > str(cursor[0]))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all() if terms else conn.execute(query.limit(page_size + 1)).all()
        if terms:
            wanted = {key.removeprefix("labels."): value for key, value in terms}
            rows = [r for r in rows if all(r.labels.get(k) == v for k, v in wanted.items())][: page_size + 1]
        next_token = encode_page_token([rows[page_size - 1].model_id]) if len(rows) > page_size else ""
        return [self._model_message(r) for r in rows[:page_size]], next_token

    def update_model(self, tenant: str, model_id: str, model: pb.Model, paths: list[str]) -> pb.Model:
        """Update the fields in `paths` (all updatable ones when empty); a stale etag is ABORTED."""
        paths = paths or ["description", "labels", "task_type"]
        with self.engine.begin() as conn:
            row = self.model_row(conn, tenant, model_id, lock=True)
            if model.etag and model.etag != row.etag:
                raise Aborted(f"model {model_id!r} changed since etag {model.etag!r} was read; read it again")
            values = {path: getattr(model, path) for path in paths}
            if "labels" in values:
                values["labels"] = dict(model.labels)
            conn.execute(
                t.models.update().where(t.models.c.id == row.id).values(**values, etag=_etag(), update_time=now())
            )
        return self.get_model(tenant, model_id)

    def delete_model(self, tenant: str, model_id: str, etag: str) -> None:
        with self.engine.begin() as conn:
            row = self.model_row(conn, tenant, model_id, lock=True)
            if etag and etag != row.etag:
                raise Aborted(f"model {model_id!r} changed since etag {etag!r} was read; read it again")
            shas = set(
                conn.execute(
                    sa.select(t.model_versions.c.artifact_sha256).where(t.model_versions.c.model_pk == row.id)
                ).scalars()
            )
            # The model's payload logs go with it.
            logs = (t.payload_logs.c.tenant == tenant, t.payload_logs.c.model_id == model_id)
            shas |= set(conn.execute(sa.select(t.payload_logs.c.artifact_sha256).where(*logs)).scalars())
            conn.execute(t.payload_logs.delete().where(*logs))
            conn.execute(t.model_versions.delete().where(t.model_versions.c.model_pk == row.id))
            conn.execute(t.aliases.delete().where(t.aliases.c.model_pk == row.id))
            conn.execute(t.models.delete().where(t.models.c.id == row.id))
            self.events.record(conn, tenant, Kind.KIND_MODEL_DELETED, model_id)
            self.artifacts.mark_unreferenced(conn, tenant, shas)
        self.artifacts.reclaim()

    # --------------------------------------------------------------- versions
    @staticmethod
    def _aliases_by_version(conn: Connection, model_row) -> dict[int, list[str]]:
        """All of a model's aliases in one query (lists would otherwise ask once per version)."""
        aliases: dict[int, list[str]] = {}
        rows = conn.execute(
            sa.select(t.aliases.c.alias, t.aliases.c.version, t.aliases.c.targets, t.aliases.c.shadow)
            .where(t.aliases.c.model_pk == model_row.id)
            .order_by(t.aliases.c.alias)
        )
        for row in rows:
            for number in AliasState.from_row(row.version, row.targets, row.shadow, "").versions:
                aliases.setdefault(number, []).append(row.alias)
        return aliases

    def _version_message(self, conn: Connection, model_row, row, aliases=None) -> pb.ModelVersion:
        if aliases is None:
            aliases = self._aliases_by_version(conn, model_row)
        version = pb.ModelVersion(
            name=f"models/{model_row.model_id}/versions/{row.version}",
            version=row.version,
            artifact=f"artifacts/{row.artifact_sha256}",
            artifact_size_bytes=row.artifact_size,
            format=row.format,
            metrics=row.metrics,
            state=row.state,
            state_reason=row.state_reason,
            description=row.description,
        )
        json_format.ParseDict(row.signature, version.signature)
        json_format.ParseDict(row.lineage, version.lineage)
        if row.classification_report:
            json_format.ParseDict(row.classification_report, version.classification_report)
        if row.reference_statistics:
            json_format.ParseDict(row.reference_statistics, version.reference_statistics)
        if row.drift:
            json_format.ParseDict(row.drift, version.drift)
        set_timestamp(version.create_time, row.create_time)
        version.aliases.extend(aliases.get(row.version, []))
        return version

    def create_version(self, tenant: str, model_id: str, version: pb.ModelVersion, request_id: str) -> pb.ModelVersion:
        check_id(model_id, "parent")
        check_classification_report(version.classification_report)
        check_reference_statistics(version.reference_statistics)
        sha256 = version.artifact.removeprefix("artifacts/")
        with self.engine.begin() as conn:
            artifact = conn.execute(
                sa.select(t.artifacts).where(
                    t.artifacts.c.tenant == tenant, t.artifacts.c.sha256 == sha256, ~t.artifacts.c.pending_delete
                )
            ).first()
            if artifact is None:
                raise NotFound(f"model_version.artifact: {version.artifact!r} not found; upload it first")
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    model_row = conn.execute(
                        sa.select(t.models).where(t.models.c.tenant == tenant, t.models.c.model_id == model_id)
                    ).first()
                    if model_row is None:
                        self._insert_model(conn, tenant, model_id, None)
                        model_row = self.model_row(conn, tenant, model_id)
                    if request_id:
                        existing = conn.execute(
                            sa.select(t.model_versions).where(
                                t.model_versions.c.model_pk == model_row.id,
                                t.model_versions.c.request_id == request_id,
                            )
                        ).first()
                        if existing is not None:
                            return self._version_message(conn, model_row, existing)
                    # One statement allocates the number: the row lock (PostgreSQL) or the
                    # database write lock (SQLite) makes concurrent creators take turns.
                    number = conn.execute(
                        t.models.update()
                        .where(t.models.c.id == model_row.id)
                        .values(latest_version=t.models.c.latest_version + 1, update_time=now(), etag=_etag())
                        .returning(t.models.c.latest_version)
                    ).scalar_one()
                    conn.execute(
                        t.model_versions.insert().values(
                            model_pk=model_row.id,
                            version=number,
                            artifact_sha256=sha256,
                            artifact_size=artifact.size_bytes,
                            format=version.format or "tf_saved_model",
                            signature=json_format.MessageToDict(version.signature),
                            metrics=dict(version.metrics),
                            lineage=json_format.MessageToDict(version.lineage),
                            classification_report=json_format.MessageToDict(version.classification_report)
                            if version.HasField("classification_report")
                            else None,
                            # A version with no signature (an upload) waits for inference to derive
                            # and check one; one with a signature comes from the trainer, which
                            # exported it from the model it built.
                            state=State.STATE_READY if version.signature.inputs else State.STATE_PENDING,
                            state_reason="",
                            description=version.description,
                            reference_statistics=json_format.MessageToDict(version.reference_statistics)
                            if version.HasField("reference_statistics")
                            else None,
                            request_id=request_id or None,
                            create_time=now(),
                        )
                    )
                    self.events.record(conn, tenant, Kind.KIND_VERSION_CREATED, model_id, version=number)
                    row = conn.execute(
                        sa.select(t.model_versions).where(
                            t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == number
                        )
                    ).one()
                    return self._version_message(conn, model_row, row)
            except IntegrityError:
                # A concurrent call created the model or used the same request id: look again.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def report_validation(self, tenant: str, model_id: str, number: int, report) -> pb.ModelVersion:
        """Record inference's verdict on a version: READY with the derived signature (and the
        format found), or FAILED with the reason. A FAILED version stays FAILED."""
        if report.state not in (State.STATE_READY, State.STATE_FAILED):
            raise InvalidArgument("state: STATE_READY or STATE_FAILED")
        if report.state == State.STATE_FAILED and not report.reason:
            raise InvalidArgument("reason: required for STATE_FAILED")
        with self.engine.begin() as conn:
            model_row = self.model_row(conn, tenant, model_id, lock=True)
            where = (t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == number)
            row = conn.execute(sa.select(t.model_versions).where(*where)).first()
            if row is None:
                raise NotFound(f"version {number} of model {model_id!r} not found")
            if row.state == State.STATE_FAILED:
                return self._version_message(conn, model_row, row)
            values = {"state": report.state, "state_reason": report.reason}
            if report.state == State.STATE_READY:
                values["signature"] = json_format.MessageToDict(report.signature)
                values["format"] = report.format or row.format
            conn.execute(t.model_versions.update().where(*where).values(**values))
            return self._version_message(conn, model_row, conn.execute(sa.select(t.model_versions).where(*where)).one())

    def report_drift(self, tenant: str, model_id: str, number: int, drift: pb.DriftReport) -> pb.ModelVersion:
        """Keep inference's latest drift report of a version (each replica's replaces the last)."""
        with self.engine.begin() as conn:
            model_row = self.model_row(conn, tenant, model_id)
            where = (t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == number)
            row = conn.execute(sa.select(t.model_versions).where(*where)).first()
            if row is None:
                raise NotFound(f"version {number} of model {model_id!r} not found")
            reference = pb.ReferenceStatistics()
            if row.reference_statistics:
                json_format.ParseDict(row.reference_statistics, reference)
            check_drift(drift, reference)
            conn.execute(t.model_versions.update().where(*where).values(drift=json_format.MessageToDict(drift)))
            return self._version_message(conn, model_row, conn.execute(sa.select(t.model_versions).where(*where)).one())

    def _resolve(self, conn: Connection, model_row, ref: str) -> int:
        if is_number(ref):
            return int(ref)
        check_id(ref, "version")
        version = conn.execute(
            sa.select(t.aliases.c.version).where(t.aliases.c.model_pk == model_row.id, t.aliases.c.alias == ref)
        ).scalar()
        if version is None:
            raise NotFound(f"alias {ref!r} of model {model_row.model_id!r} not found")
        return version

    def get_version(self, tenant: str, model_id: str, ref: str) -> pb.ModelVersion:
        """`ref` is a version number or an alias name."""
        with self.engine.connect() as conn:
            model_row = self.model_row(conn, tenant, model_id)
            number = self._resolve(conn, model_row, ref)
            row = conn.execute(
                sa.select(t.model_versions).where(
                    t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == number
                )
            ).first()
            if row is None:
                raise NotFound(f"version {number} of model {model_id!r} not found")
            return self._version_message(conn, model_row, row)

    def list_versions(
        self, tenant: str, model_id: str, page_size: int, page_token: str, filter_text: str, order_by: str = ""
    ):
        terms = dict(parse_filter(filter_text, ("state",)))
        descending = parse_order(order_by or "version desc", "version")
        cursor = decode_page_token(page_token)
        column = t.model_versions.c.version
        with self.engine.connect() as conn:
            model_row = self.model_row(conn, tenant, model_id)
            query = (
                sa.select(t.model_versions)
                .where(t.model_versions.c.model_pk == model_row.id)
                .order_by(column.desc() if descending else column)
            )
            if "state" in terms:
                state_name = f"STATE_{terms['state'].upper()}"
                if state_name not in pb.ModelVersion.State.DESCRIPTOR.values_by_name:
                    raise InvalidArgument(f"filter: unknown state {terms['state']!r}")
                query = query.where(t.model_versions.c.state == pb.ModelVersion.State.Value(state_name))
            if cursor:
                query = query.where(column < int(cursor[0]) if descending else column > int(cursor[0]))
            rows = conn.execute(query.limit(page_size + 1)).all()
            next_token = encode_page_token([rows[page_size - 1].version]) if len(rows) > page_size else ""
            aliases = self._aliases_by_version(conn, model_row)
            return [self._version_message(conn, model_row, r, aliases) for r in rows[:page_size]], next_token

    def delete_version(self, tenant: str, model_id: str, number: int) -> None:
        with self.engine.begin() as conn:
            model_row = self.model_row(conn, tenant, model_id, lock=True)
            pointing = self._aliases_by_version(conn, model_row).get(number)
            if pointing:
                raise FailedPrecondition(
                    f"version {number} of model {model_id!r} is aliased by {sorted(pointing)}; move them first"
                )
            sha256 = conn.execute(
                sa.select(t.model_versions.c.artifact_sha256).where(
                    t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == number
                )
            ).scalar()
            if sha256 is None:
                raise NotFound(f"version {number} of model {model_id!r} not found")
            conn.execute(
                t.model_versions.delete().where(
                    t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == number
                )
            )
            self.events.record(conn, tenant, Kind.KIND_VERSION_DELETED, model_id, version=number)
            self.artifacts.mark_unreferenced(conn, tenant, {sha256})
        self.artifacts.reclaim()
