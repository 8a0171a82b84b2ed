"""Persistence of users, memberships, sessions, sign-in failures and invitations (`tables.py`).
Only hashes of secrets reach the database; `accounts.py` holds the rules."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from maas.gateway.v1 import admin_pb2 as pb
from services.common.credentials import SESSION_KEY_PREFIX, Principal
from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.common.timeutil import now, utc
from services.gateway import tables as t
from services.gateway.accounts import ROLES, Session

_SESSION_COLUMNS = (
    t.sessions.c.session_id,
    t.sessions.c.secret_sha256,
    t.sessions.c.csrf_sha256,
    t.sessions.c.user_id,
    t.sessions.c.tenant_id,
    t.sessions.c.expire_time,
    t.sessions.c.create_time,
    t.sessions.c.last_seen_time,
    t.users.c.email,
    t.memberships.c.role,
)


# How often a session's last use is written: often enough for the idle timeout, rarely enough
# that requests do not each cost a write.
_TOUCH_EVERY = dt.timedelta(seconds=60)


def _last_seen():
    return sa.func.coalesce(t.sessions.c.last_seen_time, t.sessions.c.create_time)


def _live_sessions(moment: dt.datetime, idle: dt.timedelta):
    """Sessions not revoked, expired nor idle for `idle`, with their user's email and current role
    in the tenant (a role changed or a membership removed applies to sessions already open)."""
    return (
        sa.select(*_SESSION_COLUMNS)
        .select_from(
            t.sessions.join(t.users, t.users.c.user_id == t.sessions.c.user_id).join(
                t.memberships,
                sa.and_(
                    t.memberships.c.user_id == t.sessions.c.user_id,
                    t.memberships.c.tenant_id == t.sessions.c.tenant_id,
                ),
            )
        )
        .where(
            t.sessions.c.revoke_time.is_(None),
            t.sessions.c.expire_time > moment,
            _last_seen() > moment - idle,
        )
    )


def _session(row, moment: dt.datetime, idle: dt.timedelta) -> Session:
    """The session, expiring at its absolute end or `idle` from now (it is being used now)."""
    expire = min(utc(row.expire_time), moment + idle)
    return Session(row.session_id, row.user_id, row.email, row.tenant_id, row.role, row.csrf_sha256, expire)


def _credentials(conn: Connection, query, secret_sha256: str | None) -> list[pb.Credential]:
    if secret_sha256 is not None:
        query = query.where(t.sessions.c.secret_sha256 == secret_sha256)
    credentials = []
    for row in conn.execute(query.order_by(t.sessions.c.session_id)).all():
        credential = pb.Credential(
            secret_sha256=row.secret_sha256,
            name=f"tenants/{row.tenant_id}/sessions/{row.session_id}",
            tenant=row.tenant_id,
            scopes=sorted(ROLES[row.role]),
        )
        credential.expire_time.FromDatetime(utc(row.expire_time))
        credentials.append(credential)
    return credentials


class AccountStore:
    """`idle_timeout`: a session unused that long ends (on top of its absolute expiry); `clock` is
    injectable for tests."""

    def __init__(self, engine: Engine, idle_timeout: dt.timedelta = dt.timedelta(minutes=30), clock=now) -> None:
        self.engine = engine
        self.idle_timeout = idle_timeout
        self.clock = clock

    def session_credentials(self, conn: Connection, secret_sha256: str | None = None) -> list[pb.Credential]:
        """Live sessions as credentials (their role's scopes), for the services' key caches; an idle
        session leaves the snapshot, which the services then refuse."""
        return _credentials(conn, _live_sessions(self.clock(), self.idle_timeout), secret_sha256)

    # users and memberships

    def create_owner(self, email: str, password_hash: str, tenant_id: str, plan: str) -> str:
        """A new user, owner of a new tenant on `plan`, in one transaction."""
        user_id = secrets.token_hex(8)
        moment = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.tenants.insert().values(tenant_id=tenant_id, display_name=email, plan=plan, create_time=moment)
                )
                self._insert_member(conn, user_id, email, password_hash, tenant_id, "owner", moment)
        except IntegrityError:
            raise AlreadyExists("an account with this email (or a tenant with this id) already exists") from None
        return user_id

    def create_invited(self, email: str, password_hash: str, invitation_sha256: str) -> str:
        """A new user joining the tenant of a live invitation with its role; the invitation is used up."""
        user_id = secrets.token_hex(8)
        moment = self.clock()
        try:
            with self.engine.begin() as conn:
                invitation = _use_token(
                    conn, t.invitations, "accept_time", invitation_sha256, moment, "invitation_token", "invitation"
                )
                self._insert_member(conn, user_id, email, password_hash, invitation.tenant_id, invitation.role, moment)
        except IntegrityError:
            raise AlreadyExists("an account with this email already exists") from None
        return user_id

    @staticmethod
    def _insert_member(conn, user_id, email, password_hash, tenant_id, role, moment) -> None:
        conn.execute(
            t.users.insert().values(user_id=user_id, email=email, password_hash=password_hash, create_time=moment)
        )
        conn.execute(t.memberships.insert().values(tenant_id=tenant_id, user_id=user_id, role=role, create_time=moment))

    def user_by_email(self, email: str):
        """(user_id, password_hash) or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t.users.c.user_id, t.users.c.password_hash).where(t.users.c.email == email)
            ).first()

    def memberships(self, user_id: str) -> list[tuple[str, str]]:
        """(tenant, role) of each tenant the user belongs to, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.memberships.c.tenant_id, t.memberships.c.role)
                .where(t.memberships.c.user_id == user_id)
                .order_by(t.memberships.c.create_time)
            ).all()
        return [(row.tenant_id, row.role) for row in rows]

    # sign-in failures

    def locked_until(self, subjects: list[str]) -> dt.datetime | None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.login_failures.c.locked_until).where(t.login_failures.c.subject.in_(subjects))
            ).all()
        ends = [utc(row.locked_until) for row in rows if row.locked_until is not None]
        return max(ends) if ends else None

    def record_failure(self, subjects: list[str], after_failure) -> list[str]:
        """Count one failure for each subject; `after_failure(subject, failures, at)` says the new state.
        Returns the subjects this failure locked."""
        moment = self.clock()
        locked = []
        with self.engine.begin() as conn:
            for subject in subjects:
                row = conn.execute(
                    sa.select(t.login_failures).where(t.login_failures.c.subject == subject).with_for_update()
                ).first()
                failures, locked_until = after_failure(subject, row.failures if row else 0, moment)
                if locked_until is not None:
                    locked.append(subject)
                if row is None:
                    conn.execute(
                        t.login_failures.insert().values(subject=subject, failures=failures, locked_until=locked_until)
                    )
                else:
                    values = {"failures": failures}
                    if locked_until is not None:
                        values["locked_until"] = locked_until
                    conn.execute(
                        t.login_failures.update().where(t.login_failures.c.subject == subject).values(**values)
                    )
        return locked

    def clear_failures(self, subject: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.login_failures.delete().where(t.login_failures.c.subject == subject))

    # sessions

    def create_session(
        self, user_id: str, tenant_id: str, secret_sha256: str, csrf_sha256: str, expire_time: dt.datetime
    ) -> str:
        session_id = secrets.token_hex(8)
        with self.engine.begin() as conn:
            conn.execute(
                t.sessions.insert().values(
                    session_id=session_id,
                    secret_sha256=secret_sha256,
                    csrf_sha256=csrf_sha256,
                    user_id=user_id,
                    tenant_id=tenant_id,
                    create_time=self.clock(),
                    expire_time=expire_time,
                )
            )
        return session_id

    def find_session(self, secret_sha256: str) -> Session | None:
        """The live session with this token hash, or None; its use now is remembered (at most every
        minute), which starts its idle timeout again."""
        moment = self.clock()
        with self.engine.connect() as conn:
            query = _live_sessions(moment, self.idle_timeout).where(t.sessions.c.secret_sha256 == secret_sha256)
            row = conn.execute(query).first()
        if row is None:
            return None
        last_seen = utc(row.last_seen_time or row.create_time)
        if moment - last_seen >= min(_TOUCH_EVERY, self.idle_timeout / 10):
            with self.engine.begin() as conn:
                conn.execute(
                    t.sessions.update().where(t.sessions.c.session_id == row.session_id).values(last_seen_time=moment)
                )
        return _session(row, moment, self.idle_timeout)

    def purge_sessions(self) -> int:
        """Deletes the sessions that can never be used again (revoked, expired or idle): their
        tokens then match nothing, as before. Returns how many."""
        moment = self.clock()
        with self.engine.begin() as conn:
            return conn.execute(
                t.sessions.delete().where(
                    sa.or_(
                        t.sessions.c.revoke_time.is_not(None),
                        t.sessions.c.expire_time <= moment,
                        _last_seen() <= moment - self.idle_timeout,
                    )
                )
            ).rowcount

    def session_principal(self, secret_sha256: str) -> Principal | None:
        session = self.find_session(secret_sha256)
        if session is None:
            return None
        return Principal(
            SESSION_KEY_PREFIX + session.session_id,
            session.tenant,
            ROLES[session.role],
            session.expire_time,
            session.user_id,
            session.role,
        )

    def revoke_session(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.sessions.update()
                .where(t.sessions.c.session_id == session_id, t.sessions.c.revoke_time.is_(None))
                .values(revoke_time=self.clock())
            )

    # passwords

    def set_password(self, user_id: str, password_hash: str, keep_session: str | None = None) -> None:
        """A new password hash; every session of the user but `keep_session` ends."""
        moment = self.clock()
        with self.engine.begin() as conn:
            conn.execute(t.users.update().where(t.users.c.user_id == user_id).values(password_hash=password_hash))
            self._end_sessions(conn, user_id, keep_session, moment)

    @staticmethod
    def _end_sessions(conn, user_id: str, keep_session: str | None, moment: dt.datetime) -> None:
        ending = [t.sessions.c.user_id == user_id, t.sessions.c.revoke_time.is_(None)]
        if keep_session is not None:
            ending.append(t.sessions.c.session_id != keep_session)
        conn.execute(t.sessions.update().where(*ending).values(revoke_time=moment))

    def create_password_reset(self, email: str, token_sha256: str, expire_time: dt.datetime) -> None:
        with self.engine.begin() as conn:
            user = conn.execute(sa.select(t.users.c.user_id).where(t.users.c.email == email)).first()
            if user is None:
                raise NotFound("no account with this email")
            conn.execute(
                t.password_resets.insert().values(
                    token_sha256=token_sha256, user_id=user.user_id, expire_time=expire_time
                )
            )

    def reset_password(self, token_sha256: str, password_hash: str) -> str:
        """Uses up a live reset token: the new hash, every session ended; returns the user's email."""
        moment = self.clock()
        with self.engine.begin() as conn:
            reset = _use_token(conn, t.password_resets, "use_time", token_sha256, moment, "token", "password reset")
            conn.execute(t.users.update().where(t.users.c.user_id == reset.user_id).values(password_hash=password_hash))
            self._end_sessions(conn, reset.user_id, None, moment)
            return conn.execute(sa.select(t.users.c.email).where(t.users.c.user_id == reset.user_id)).scalar_one()

    # invitations

    def create_invitation(
        self, tenant_id: str, role: str, invited_by: str | None, token_sha256: str, expire_time: dt.datetime
    ) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.tenants.c.tenant_id).where(t.tenants.c.tenant_id == tenant_id)).first() is None:
                raise NotFound(f"tenant {tenant_id!r} not found")
            conn.execute(
                t.invitations.insert().values(
                    token_sha256=token_sha256,
                    tenant_id=tenant_id,
                    role=role,
                    invited_by=invited_by,
                    expire_time=expire_time,
                )
            )


def _use_token(conn, table: sa.Table, used: str, token_sha256: str, moment, field: str, what: str):
    """The row of a live one-time token (not used, not expired), marked used now; INVALID_ARGUMENT
    naming `field` otherwise. Locked for the transaction, so a token is used once however many try."""
    row = conn.execute(
        sa.select(table)
        .where(table.c.token_sha256 == token_sha256, table.c[used].is_(None), table.c.expire_time > moment)
        .with_for_update()
    ).first()
    if row is None:
        raise InvalidArgument(f"{field}: unknown, used or expired {what}")
    conn.execute(table.update().where(table.c.token_sha256 == token_sha256).values({used: moment}))
    return row
