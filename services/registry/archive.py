"""Archiving a model version: it stays listed (with its lineage and artifact) but takes no traffic
until it is unarchived. In a module of its own: the catalogue is at its size limit."""

from __future__ import annotations

import sqlalchemy as sa

from maas.registry.v1 import registry_pb2 as pb
from services.common.errors import FailedPrecondition, NotFound
from services.registry import tables as t
from services.registry.catalogue import ModelCatalogue

State = pb.ModelVersion.State


def set_archived(catalogue: ModelCatalogue, tenant: str, model_id: str, number: int, archived: bool) -> pb.ModelVersion:
    """Archive a READY version no alias points at, or bring an archived one back to READY."""
    with catalogue.engine.begin() as conn:
        model_row = catalogue.model_row(conn, tenant, model_id, lock=True)
        where = (t.model_versions.c.model_pk == model_row.id, t.model_versions.c.version == number)
        row = conn.execute(sa.select(t.model_versions).where(*where)).first()
        if row is None:
            raise NotFound(f"version {number} of model {model_id!r} not found")
        wanted = State.STATE_ARCHIVED if archived else State.STATE_READY
        if row.state != wanted:
            if archived:
                # Like delete: archiving what an alias serves would take traffic away from under it.
                pointing = catalogue._aliases_by_version(conn, model_row).get(number)
                if pointing:
                    raise FailedPrecondition(
                        f"version {number} of model {model_id!r} is aliased by {sorted(pointing)}; move them first"
                    )
                if row.state != State.STATE_READY:
                    raise FailedPrecondition(
                        f"version {number} of model {model_id!r} is {State.Name(row.state)[6:].lower()}; "
                        "only a ready version can be archived (delete a failed one)"
                    )
            elif row.state != State.STATE_ARCHIVED:
                raise FailedPrecondition(f"version {number} of model {model_id!r} is not archived")
            conn.execute(t.model_versions.update().where(*where).values(state=wanted, state_reason=""))
            row = conn.execute(sa.select(t.model_versions).where(*where)).one()
        return catalogue._version_message(conn, model_row, row)
