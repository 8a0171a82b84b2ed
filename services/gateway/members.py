"""A tenant's members: list them, change a role, remove one. A tenant always keeps an owner: the last
one can be neither demoted nor removed. Removing a member ends their sessions in the tenant and
revokes the API keys they created for it (a key outliving its owner's access would be a back door).
Every change is an audit event."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.timeutil import now, utc
from services.common.validation import check_id, parse_name
from services.gateway import tables as t
from services.gateway.accounts import check_role
from services.gateway.audit import AuditLog

_USER_ID = re.compile(r"^[0-9a-f]{1,32}$")


def tenant_of(parent: str) -> str:
    """The tenant id of `tenants/{tenant}`."""
    (tenant_id,) = parse_name(parent, ("tenants", None), "parent")
    return check_id(tenant_id, "parent")


def member_of(name: str, field: str = "name") -> tuple[str, str]:
    """(tenant id, user id) of `tenants/{tenant}/members/{user}`."""
    tenant_id, user_id = parse_name(name, ("tenants", None, "members", None), field)
    if not _USER_ID.fullmatch(user_id):
        raise InvalidArgument(f"{field}: {user_id!r} is not a user id")
    return check_id(tenant_id, field), user_id


@dataclass(frozen=True)
class Member:
    tenant: str
    user_id: str
    email: str
    role: str
    create_time: dt.datetime


def last_owner_refusal(role: str, new_role: str | None, owners: int) -> FailedPrecondition | None:
    """The refusal when a change (a new role, or None for removal) would leave the tenant no owner."""
    if role == "owner" and new_role != "owner" and owners <= 1:
        change = "removed" if new_role is None else f"made {new_role}"
        return FailedPrecondition(f"the tenant's last owner cannot be {change}: make another member owner first")
    return None


_COLUMNS = (
    t.memberships.c.tenant_id,
    t.memberships.c.user_id,
    t.memberships.c.role,
    t.memberships.c.create_time,
    t.users.c.email,
)


def _member(row) -> Member:
    return Member(row.tenant_id, row.user_id, row.email, row.role, utc(row.create_time))


class Members:
    def __init__(self, engine: Engine, audit: AuditLog) -> None:
        self.engine = engine
        self.audit = audit

    @staticmethod
    def _query():
        return sa.select(*_COLUMNS).select_from(
            t.memberships.join(t.users, t.users.c.user_id == t.memberships.c.user_id)
        )

    def list(self, tenant_id: str) -> list[Member]:
        with self.engine.connect() as conn:
            if conn.execute(sa.select(t.tenants.c.tenant_id).where(t.tenants.c.tenant_id == tenant_id)).first() is None:
                raise NotFound(f"tenant {tenant_id!r} not found")
            rows = conn.execute(
                self._query()
                .where(t.memberships.c.tenant_id == tenant_id)
                .order_by(t.memberships.c.create_time, t.users.c.email)
            ).all()
        return [_member(row) for row in rows]

    def _locked(self, conn: Connection, tenant_id: str, user_id: str) -> tuple[Member, int]:
        """The member and the tenant's owner count, the tenant's owner rows locked for the
        transaction (so two owners demoting each other at once cannot leave none)."""
        owners = conn.execute(
            sa.select(t.memberships.c.user_id)
            .where(t.memberships.c.tenant_id == tenant_id, t.memberships.c.role == "owner")
            .with_for_update()
        ).all()
        row = conn.execute(
            self._query().where(t.memberships.c.tenant_id == tenant_id, t.memberships.c.user_id == user_id)
        ).first()
        if row is None:
            raise NotFound(f"tenants/{tenant_id}/members/{user_id} not found")
        return _member(row), len(owners)

    def set_role(self, tenant_id: str, user_id: str, role: str, actor: str) -> Member:
        check_role(role)
        with self.engine.begin() as conn:
            member, owners = self._locked(conn, tenant_id, user_id)
            if (refusal := last_owner_refusal(member.role, role, owners)) is not None:
                raise refusal
            conn.execute(
                t.memberships.update()
                .where(t.memberships.c.tenant_id == tenant_id, t.memberships.c.user_id == user_id)
                .values(role=role)
            )
        if member.role != role:
            self.audit.record(
                "member_role_changed", tenant=tenant_id, actor=actor, target=f"users/{user_id}",
                previous_role=member.role, role=role,
            )  # fmt: skip
        return Member(tenant_id, user_id, member.email, role, member.create_time)

    def remove(self, tenant_id: str, user_id: str, actor: str) -> Member:
        moment = now()
        with self.engine.begin() as conn:
            member, owners = self._locked(conn, tenant_id, user_id)
            if (refusal := last_owner_refusal(member.role, None, owners)) is not None:
                raise refusal
            conn.execute(
                t.memberships.delete().where(t.memberships.c.tenant_id == tenant_id, t.memberships.c.user_id == user_id)
            )
            conn.execute(
                t.sessions.update()
                .where(
                    t.sessions.c.tenant_id == tenant_id,
                    t.sessions.c.user_id == user_id,
                    t.sessions.c.revoke_time.is_(None),
                )
                .values(revoke_time=moment)
            )
            revoked = conn.execute(
                t.api_keys.update()
                .where(
                    t.api_keys.c.tenant_id == tenant_id,
                    t.api_keys.c.owner_user_id == user_id,
                    t.api_keys.c.revoke_time.is_(None),
                )
                .values(revoke_time=moment)
            ).rowcount
        self.audit.record(
            "member_removed", tenant=tenant_id, actor=actor, target=f"users/{user_id}",
            role=member.role, api_keys_revoked=revoked,
        )  # fmt: skip
        return member
