"""Audit events: who did what to a tenant's accounts, keys and members, and when.

`AuditLog.record` is the one way in (accounts, members, keys, and later plan changes call it);
`AuditLog.list` reads a tenant's events (or every tenant's, for operators) newest first. An event
never holds a secret: detail fields named like one are dropped and values shaped like one of our
tokens or keys (`maas_...`) are redacted, so a careless caller cannot leak one into the table.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine

from services.common.errors import InvalidArgument
from services.common.timeutil import now, utc
from services.common.validation import decode_page_token, encode_page_token
from services.gateway import tables as t

log = structlog.get_logger("maas.audit")
# The kinds recorded today; `record` takes any kind of this shape, so new ones need no change here.
KINDS = (
    "tenant_created",
    "account_registered",
    "sign_in",
    "sign_in_failed",
    "sign_in_locked",
    "sign_out",
    "api_key_created",
    "api_key_revoked",
    "invitation_created",
    "member_role_changed",
    "member_removed",
    "password_changed",
    "password_reset_issued",
    "password_reset",
)
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SECRET_FIELD = re.compile(r"password|token|secret|csrf|cookie|hash", re.IGNORECASE)
# Every secret the platform hands out starts so: API keys, sessions, invitations, resets.
_SECRET_VALUE = re.compile(r"maas_[A-Za-z0-9_-]{8,}")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class AuditEvent:
    event_id: int
    kind: str
    tenant: str | None
    actor: str
    target: str
    details: dict[str, str] = field(default_factory=dict)
    create_time: dt.datetime | None = None


def check_kind(kind: str) -> str:
    if not _KIND.fullmatch(kind or ""):
        raise InvalidArgument(f"kind: {kind!r} is not an event kind (lowercase letters, digits and _), e.g. sign_in")
    return kind


def scrub(details: dict[str, object]) -> dict[str, str]:
    """The details as strings, without fields named like secrets and with secret-shaped values redacted."""
    return {
        str(name): _SECRET_VALUE.sub(REDACTED, str(value))[:500]
        for name, value in details.items()
        if value is not None and not _SECRET_FIELD.search(str(name))
    }


class AuditLog:
    """The `audit_events` table; `clock` is injectable for tests."""

    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime] = now) -> None:
        self.engine = engine
        self.clock = clock

    def record(self, kind: str, *, tenant: str | None, actor: str, target: str = "", **details: object) -> None:
        """One event. `actor`: `users/{user}`, `apiKeys/{key}` or `address:{ip}`; `details`: plain
        facts (a role, a count), never secrets (scrubbed anyway)."""
        clean = scrub(details)
        values = {
            "kind": check_kind(kind),
            "tenant_id": tenant or None,
            "actor": _SECRET_VALUE.sub(REDACTED, actor)[:300],
            "target": _SECRET_VALUE.sub(REDACTED, target)[:300],
            "details": clean,
            "create_time": self.clock(),
        }
        with self.engine.begin() as conn:
            conn.execute(t.audit_events.insert().values(**values))
        log.info("audit event", kind=kind, tenant=tenant, actor=values["actor"], target=values["target"], **clean)

    def list(
        self,
        tenant: str | None,
        *,
        kind: str = "",
        since: dt.datetime | None = None,
        page_size: int = 50,
        page_token: str = "",
    ) -> tuple[list[AuditEvent], str]:
        """A tenant's events (every tenant's for None), newest first, `page_size` at a time."""
        events = t.audit_events
        query = sa.select(events).order_by(events.c.event_id.desc()).limit(page_size + 1)
        if tenant is not None:
            query = query.where(events.c.tenant_id == tenant)
        if kind:
            query = query.where(events.c.kind == check_kind(kind))
        if since is not None:
            query = query.where(events.c.create_time >= since)
        cursor = decode_page_token(page_token)
        if cursor:
            if type(cursor[0]) is not int or not 0 < cursor[0] < 2**63:
                raise InvalidArgument("page_token: not a token this service returned")
            query = query.where(events.c.event_id < cursor[0])
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        token = encode_page_token([rows[page_size - 1].event_id]) if len(rows) > page_size else ""
        return [_event(row) for row in rows[:page_size]], token


def _event(row) -> AuditEvent:
    return AuditEvent(
        row.event_id, row.kind, row.tenant_id, row.actor, row.target, dict(row.details), utc(row.create_time)
    )
