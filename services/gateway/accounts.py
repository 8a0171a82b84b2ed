"""People and their sessions: registration, sign-in with throttling, sessions, roles, invitations.

Plain Python over `GatewayStore`; the HTTP layer (`rest/accounts.py`) only translates. Secrets are
never stored in clear: passwords as scrypt hashes (OWASP's parameters), session, CSRF and
invitation tokens as sha256 (they are long random strings, so a fast hash is enough, as for keys).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from maas.api.v1 import annotations_pb2 as api_pb
from services.common.credentials import hash_secret
from services.common.errors import InvalidArgument, PermissionDenied, ResourceExhausted, Unauthenticated
from services.common.validation import check_id
from services.gateway.audit import AuditLog

if TYPE_CHECKING:
    from services.gateway.account_store import AccountStore

Scope = api_pb.Scope
# A role is a set of the API's scopes, checked where a key's scopes are (`credentials.authorize`),
# plus, for owners, managing the tenant's keys and members (the gateway checks `role`), and for
# owners and billing, reading usage (`GetUsage`).
ROLES: dict[str, frozenset[Scope]] = {
    "owner": frozenset({Scope.SCOPE_READ, Scope.SCOPE_PREDICT, Scope.SCOPE_TRAIN}),
    "developer": frozenset({Scope.SCOPE_READ, Scope.SCOPE_PREDICT, Scope.SCOPE_TRAIN}),
    "viewer": frozenset({Scope.SCOPE_READ}),
    "billing": frozenset(),
}
USAGE_ROLES = frozenset({"owner", "billing"})
SESSION_PREFIX = "maas_s_"
INVITATION_PREFIX = "maas_i_"
RESET_PREFIX = "maas_r_"
# OWASP password storage cheat sheet: scrypt with N=2^17, r=8, p=1 (128 MiB per hash).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_PASSWORD, MAX_PASSWORD = 12, 1024  # at most 1 KiB, so a hash costs what it should, no more
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def hash_password(password: str, n: int = SCRYPT_N) -> str:
    """`scrypt$<N>$<r>$<p>$<salt>$<hash>`: the parameters travel with the hash, so raising them later
    leaves old hashes verifiable."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return "$".join(("scrypt", str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str) -> bool:
    """Compares in constant time; a malformed stored hash verifies nothing."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise InvalidArgument("email: not an email address")
    return email


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise InvalidArgument(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"role: {role!r} is not one of {', '.join(ROLES)}")
    return role


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def tokens_match(token: str, expected_sha256: str) -> bool:
    return hmac.compare_digest(hash_secret(token), expected_sha256)


@dataclass(frozen=True)
class Throttle:
    """Sign-in throttling: `max_failures` failed sign-ins of one account, or `max_address_failures`
    from one client address, since its last success lock it for `lockout`; a locked subject is
    refused before any password is hashed, so guessing costs the guesser time and the server
    nothing. An address takes more: many people may share one (NAT, a proxy, loopback for a local
    install), and one of them guessing must not lock the others out at once."""

    max_failures: int = 20
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    max_address_failures: int = 100

    def refusal(self, locked_until: dt.datetime | None, at: dt.datetime) -> ResourceExhausted | None:
        if locked_until is None or locked_until <= at:
            return None
        seconds = max(1, int((locked_until - at).total_seconds() + 0.999))
        retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds))
        error = ResourceExhausted(f"too many failed sign-ins; try again in {seconds} s", details=[retry])
        error.limit = "sign_in"
        return error

    def after_failure(self, subject: str, failures: int, at: dt.datetime) -> tuple[int, dt.datetime | None]:
        """(failures, locked_until) of `subject` (`account:...`, `address:...`) once one more failure
        is counted; locking starts a new count."""
        failures += 1
        if failures >= (self.max_address_failures if subject.startswith("address:") else self.max_failures):
            return 0, at + self.lockout
        return failures, None


@dataclass(frozen=True)
class Session:
    """A signed-in user acting in one tenant with their role there."""

    session_id: str
    user_id: str
    email: str
    tenant: str
    role: str
    csrf_sha256: str
    expire_time: dt.datetime


@dataclass(frozen=True)
class SignedIn:
    """What a sign-in hands back once: the session token (for the cookie) and its CSRF token."""

    session: Session
    token: str
    csrf_token: str


def unauthenticated_session() -> Unauthenticated:
    return Unauthenticated("no valid session: sign in again")


class Accounts:
    """Registration, sign-in, sessions and invitations, over an `AccountStore`."""

    def __init__(
        self,
        store: AccountStore,
        *,
        registration_enabled: bool = False,
        plan: str = "plans/free",
        session_ttl: dt.timedelta = dt.timedelta(hours=12),
        invitation_ttl: dt.timedelta = dt.timedelta(days=3),
        throttle: Throttle | None = None,
        scrypt_n: int = SCRYPT_N,
        audit: AuditLog | None = None,
    ) -> None:
        self.store = store
        self.audit = audit or AuditLog(store.engine, lambda: store.clock())  # the store's clock, even if replaced
        self.registration_enabled = registration_enabled
        self.plan = plan
        self.session_ttl = session_ttl
        self.invitation_ttl = invitation_ttl
        self.throttle = throttle or Throttle()
        self.scrypt_n = scrypt_n
        self._absent: str | None = None

    def register(self, email: str, password: str, invitation_token: str = "", tenant_id: str = "") -> str:
        """A new user: with an invitation, a member of its tenant in its role; otherwise (when the
        operator allows self-service registration) the owner of a new tenant on the default plan."""
        email = check_email(email)
        check_password(password)
        if invitation_token:
            user_id = self.store.create_invited(
                email, hash_password(password, self.scrypt_n), hash_secret(invitation_token)
            )
        elif not self.registration_enabled:
            raise PermissionDenied(
                "self-service registration is off on this deployment: ask an owner for an invitation"
            )
        else:
            tenant_id = check_id(tenant_id, "tenant_id") if tenant_id else "t-" + secrets.token_hex(5)
            user_id = self.store.create_owner(email, hash_password(password, self.scrypt_n), tenant_id, self.plan)
            self.audit.record(
                "tenant_created",
                tenant=tenant_id,
                actor=f"users/{user_id}",
                target=f"tenants/{tenant_id}",
                plan=self.plan,
            )
        for tenant, role in self.store.memberships(user_id):
            actor = f"users/{user_id}"
            self.audit.record("account_registered", tenant=tenant, actor=actor, target=actor, role=role)
        return user_id

    def _failed(self, subjects: list[str], email: str, address: str, reason: str) -> None:
        """A wrong password, counted against the account and the address and audited in each tenant
        of the account (in none for an unknown email, which is not kept: it may be a password typed
        in the wrong field); a failure that locks a subject is a `sign_in_locked` event as well."""
        locked = self.store.record_failure(subjects, self.throttle.after_failure)
        user = self.store.user_by_email(email)
        tenants = [tenant for tenant, _ in self.store.memberships(user.user_id)] if user else [None]
        target = f"users/{user.user_id}" if user else ""
        seconds = int(self.throttle.lockout.total_seconds())
        for tenant in tenants:
            self.audit.record("sign_in_failed", tenant=tenant, actor=f"address:{address}", target=target, reason=reason)
            for subject in locked:
                # The account by its user (never its email); the address as itself.
                what = target if subject.startswith("account:") else subject
                self.audit.record(
                    "sign_in_locked", tenant=tenant, actor=f"address:{address}", target=what, lockout_seconds=seconds
                )

    def sign_in(self, email: str, password: str, address: str, tenant: str = "") -> SignedIn:
        """A new session, unless the account or the address is locked (RESOURCE_EXHAUSTED with a
        RetryInfo) or the password is wrong (UNAUTHENTICATED, counted against both)."""
        email = (email or "").strip().lower()
        subjects = [f"account:{email}", f"address:{address}"]
        refusal = self.throttle.refusal(self.store.locked_until(subjects), self.store.clock())
        if refusal is not None:
            raise refusal  # not audited: a locked subject's tries must cost the server nothing
        user = self.store.user_by_email(email)
        # An unknown email costs a hash too, so timing does not tell which accounts exist.
        stored = user.password_hash if user else self._absent_hash()
        if len(password or "") > MAX_PASSWORD or not verify_password(password or "", stored) or user is None:
            self._failed(subjects, email, address, "wrong email or password")
            raise Unauthenticated("wrong email or password")
        self.store.clear_failures(subjects[0])
        memberships = dict(self.store.memberships(user.user_id))
        if not memberships:
            raise PermissionDenied("this account belongs to no tenant")
        if tenant and tenant not in memberships:
            raise PermissionDenied(f"this account is not a member of tenant {tenant!r}")
        tenant = tenant or next(iter(memberships))
        token, csrf_token = new_token(SESSION_PREFIX), secrets.token_urlsafe(32)
        expire = self.store.clock() + self.session_ttl
        session_id = self.store.create_session(
            user.user_id, tenant, hash_secret(token), hash_secret(csrf_token), expire
        )
        actor = f"users/{user.user_id}"
        self.audit.record(
            "sign_in", tenant=tenant, actor=actor, target=f"{actor}/sessions/{session_id}", address=address
        )
        session = Session(session_id, user.user_id, email, tenant, memberships[tenant], hash_secret(csrf_token), expire)
        return SignedIn(session, token, csrf_token)

    def change_password(self, session: Session, current: str, new: str, address: str) -> None:
        """The signed-in user's new password, given the current one (a wrong one counts as a failed
        sign-in); the user's other sessions end."""
        check_password(new)
        subjects = [f"account:{session.email}", f"address:{address}"]
        refusal = self.throttle.refusal(self.store.locked_until(subjects), self.store.clock())
        if refusal is not None:
            raise refusal
        user = self.store.user_by_email(session.email)
        if user is None or len(current or "") > MAX_PASSWORD or not verify_password(current or "", user.password_hash):
            self._failed(subjects, session.email, address, "wrong current password")
            raise PermissionDenied("current_password: wrong password")
        self.store.set_password(user.user_id, hash_password(new, self.scrypt_n), keep_session=session.session_id)
        actor = f"users/{user.user_id}"
        self.audit.record("password_changed", tenant=session.tenant, actor=actor, target=actor, address=address)

    def password_reset(self, email: str, actor: str = "operator") -> tuple[str, dt.datetime]:
        """The operator's one-use token that sets a new password for `email` (its hash kept)."""
        token, expire = new_token(RESET_PREFIX), self.store.clock() + self.invitation_ttl
        email = check_email(email)
        self.store.create_password_reset(email, hash_secret(token), expire)
        self._audit_user("password_reset_issued", email, actor)
        return token, expire

    def _audit_user(self, kind: str, email: str, actor: str | None = None) -> None:
        """An event about the account of `email`, in each of its tenants."""
        user = self.store.user_by_email(email)
        assert user is not None  # both callers have just found the account
        target = f"users/{user.user_id}"
        for tenant, _ in self.store.memberships(user.user_id):
            self.audit.record(kind, tenant=tenant, actor=actor or target, target=target)

    def reset_password(self, token: str, new: str) -> None:
        """A reset token's new password; the account's sessions end and its sign-in lock lifts."""
        check_password(new)
        email = self.store.reset_password(hash_secret(token or ""), hash_password(new, self.scrypt_n))
        self.store.clear_failures(f"account:{email}")
        self._audit_user("password_reset", email)

    def _absent_hash(self) -> str:
        if self._absent is None:
            self._absent = hash_password(secrets.token_urlsafe(16), self.scrypt_n)
        return self._absent

    def session(self, token: str) -> Session | None:
        """The live session of a cookie's token (not expired, not revoked), or None."""
        return self.store.find_session(hash_secret(token)) if token.startswith(SESSION_PREFIX) else None

    @staticmethod
    def check_csrf(session: Session, csrf_token: str | None) -> None:
        if not csrf_token or not tokens_match(csrf_token, session.csrf_sha256):
            raise PermissionDenied("missing or wrong x-csrf-token header: a request with the session cookie needs it")

    def sign_out(self, session: Session) -> None:
        self.store.revoke_session(session.session_id)
        actor = f"users/{session.user_id}"
        self.audit.record(
            "sign_out", tenant=session.tenant, actor=actor, target=f"{actor}/sessions/{session.session_id}"
        )

    def invite(
        self, tenant_id: str, role: str, invited_by: str | None, actor: str = "operator"
    ) -> tuple[str, dt.datetime]:
        """An invitation token to the tenant with `role`, from an owner (`invited_by`, whom the
        caller has checked) or the operator (None); only its hash is kept."""
        check_role(role)
        token, expire = new_token(INVITATION_PREFIX), self.store.clock() + self.invitation_ttl
        self.store.create_invitation(tenant_id, role, invited_by, hash_secret(token), expire)
        actor = f"users/{invited_by}" if invited_by else actor
        self.audit.record(
            "invitation_created", tenant=tenant_id, actor=actor, role=role, expire_time=expire.isoformat()
        )
        return token, expire
