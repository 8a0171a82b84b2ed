"""Members, audit events and session expiry on a real (SQLite) gateway database, with an injected
clock: the last owner stays, every account event is recorded without secrets, idle and absolute
expiry refuse the session, and ended sessions are purged."""

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from maas.gateway.v1 import admin_pb2 as pb
from services.common import db
from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from services.common.validation import encode_page_token
from services.gateway import tables as t
from services.gateway.accounts import Accounts, Throttle
from services.gateway.audit import REDACTED, AuditLog, scrub
from services.gateway.members import Members, last_owner_refusal, member_of, tenant_of
from services.gateway.store import GatewayStore

FAST_N = 2**10
PASSWORD = "correct horse battery staple"
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> GatewayStore:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    db.migrate(engine, "gateway", Path(t.__file__).parent / "migrations")
    store = GatewayStore(engine, session_idle=dt.timedelta(minutes=30))
    store.accounts.clock = clock
    return store


@pytest.fixture
def accounts(store) -> Accounts:
    return Accounts(store.accounts, registration_enabled=True, scrypt_n=FAST_N)


@pytest.fixture
def members(store, accounts) -> Members:
    return Members(store.engine, accounts.audit)


def team(accounts: Accounts) -> dict[str, str]:
    """acme with an owner (ada), a developer (bob) and a viewer (cy): their user ids."""
    users = {"ada": accounts.register("ada@example.com", PASSWORD, tenant_id="acme")}
    for name, role in (("bob", "developer"), ("cy", "viewer")):
        invitation, _ = accounts.invite("acme", role, users["ada"])
        users[name] = accounts.register(f"{name}@example.com", PASSWORD, invitation_token=invitation)
    return users


def kinds(audit: AuditLog, tenant: str | None = "acme") -> list[str]:
    return [event.kind for event in audit.list(tenant, page_size=1000)[0]]


def test_the_last_owner_rule():
    assert last_owner_refusal("owner", "viewer", owners=1) is not None
    assert last_owner_refusal("owner", None, owners=1) is not None
    assert last_owner_refusal("owner", "owner", owners=1) is None
    assert last_owner_refusal("owner", None, owners=2) is None
    assert last_owner_refusal("viewer", None, owners=1) is None


def test_member_and_tenant_names_are_checked_before_any_query():
    assert member_of("tenants/acme/members/0f1e2d3c4b5a6978") == ("acme", "0f1e2d3c4b5a6978")
    assert tenant_of("tenants/acme") == "acme"
    for bad in ("tenants/acme", "tenants/ac\x00me/members/ab", "tenants/acme/members/Robert'); DROP", ""):
        with pytest.raises(InvalidArgument):
            member_of(bad)
    for bad in ("tenants/-", "tenants/A", "models/acme", "tenants/a\x00"):
        with pytest.raises(InvalidArgument, match="parent"):
            tenant_of(bad)


def test_members_are_listed_promoted_and_removed_but_the_last_owner_stays(accounts, members):
    users = team(accounts)
    listed = members.list("acme")
    assert [(m.email, m.role) for m in listed] == [
        ("ada@example.com", "owner"),
        ("bob@example.com", "developer"),
        ("cy@example.com", "viewer"),
    ]
    with pytest.raises(FailedPrecondition, match="last owner cannot be made viewer"):
        members.set_role("acme", users["ada"], "viewer", f"users/{users['ada']}")
    with pytest.raises(FailedPrecondition, match="last owner cannot be removed"):
        members.remove("acme", users["ada"], f"users/{users['ada']}")
    with pytest.raises(InvalidArgument, match="role"):
        members.set_role("acme", users["bob"], "god", "operator")
    with pytest.raises(NotFound):
        members.set_role("acme", "nobody", "viewer", "operator")
    with pytest.raises(NotFound):
        members.list("globex")

    assert members.set_role("acme", users["bob"], "owner", "operator").role == "owner"
    # With two owners, either may step down.
    assert members.set_role("acme", users["ada"], "viewer", f"users/{users['bob']}").role == "viewer"
    removed = members.remove("acme", users["cy"], f"users/{users['bob']}")
    assert removed.email == "cy@example.com"
    assert [m.email for m in members.list("acme")] == ["ada@example.com", "bob@example.com"]
    changes = [e for e in members.audit.list("acme")[0] if e.kind.startswith("member_")]
    assert [(e.kind, e.target, e.details.get("role")) for e in changes] == [
        ("member_removed", f"users/{users['cy']}", "viewer"),
        ("member_role_changed", f"users/{users['ada']}", "viewer"),
        ("member_role_changed", f"users/{users['bob']}", "owner"),
    ]


def test_removing_a_member_ends_their_sessions_and_revokes_their_keys(store, accounts, members):
    users = team(accounts)
    session = accounts.sign_in("bob@example.com", PASSWORD, "10.0.0.2")
    store.create_api_key("acme", pb.ApiKey(display_name="bob's"), users["bob"])
    store.create_api_key("acme", pb.ApiKey(display_name="ada's"), users["ada"])
    members.remove("acme", users["bob"], "operator")
    assert accounts.session(session.token) is None
    keys = {k.display_name: k.HasField("revoke_time") for k in store.list_api_keys("acme")}
    assert keys == {"bob's": True, "ada's": False}
    (event,) = members.audit.list("acme", kind="member_removed")[0]
    assert event.details["api_keys_revoked"] == "1" and event.actor == "operator"


def test_account_events_are_recorded_with_actor_target_and_time(store, accounts, clock):
    users = team(accounts)
    with pytest.raises(Unauthenticated):
        accounts.sign_in("ada@example.com", "wrong password, twelve+", "10.0.0.9")
    clock.advance(minutes=1)
    signed_in = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    accounts.change_password(signed_in.session, PASSWORD, PASSWORD + " 2", "10.0.0.1")
    token, _ = accounts.password_reset("ada@example.com", "apiKeys/admin")
    accounts.reset_password(token, PASSWORD)
    accounts.sign_out(signed_in.session)
    assert kinds(accounts.audit) == [
        "sign_out",
        "password_reset",
        "password_reset_issued",
        "password_changed",
        "sign_in",
        "sign_in_failed",
        "account_registered",
        "invitation_created",
        "account_registered",
        "invitation_created",
        "account_registered",
        "tenant_created",
    ]
    events = {e.kind: e for e in accounts.audit.list("acme")[0]}
    created = events["tenant_created"]
    assert (created.actor, created.target) == (f"users/{users['ada']}", "tenants/acme")
    assert created.details == {"plan": "plans/free"}
    failed, ok = events["sign_in_failed"], events["sign_in"]
    assert (failed.actor, failed.target) == ("address:10.0.0.9", f"users/{users['ada']}")
    assert failed.create_time == START and ok.create_time == START + dt.timedelta(minutes=1)
    assert ok.actor == f"users/{users['ada']}" and ok.details == {"address": "10.0.0.1"}
    assert events["password_reset_issued"].actor == "apiKeys/admin"
    # No secret anywhere in the table.
    with store.engine.connect() as conn:
        dump = repr(conn.execute(sa.select(t.audit_events)).all())
    for secret in (PASSWORD, signed_in.token, signed_in.csrf_token, token):
        assert secret not in dump


def test_the_failure_that_locks_an_account_and_an_address_is_an_event(store, clock):
    accounts = Accounts(
        store.accounts, registration_enabled=True, scrypt_n=FAST_N, throttle=Throttle(3, dt.timedelta(minutes=5), 3)
    )
    ada = accounts.register("ada@example.com", PASSWORD, tenant_id="acme")
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            accounts.sign_in("ada@example.com", "wrong password, twelve+", "10.0.0.9")
    assert "sign_in_locked" not in kinds(accounts.audit)
    with pytest.raises(Unauthenticated):
        accounts.sign_in("ada@example.com", "wrong password, twelve+", "10.0.0.9")  # the third: locked
    locks = accounts.audit.list("acme", kind="sign_in_locked")[0]
    assert sorted((e.actor, e.target, e.details["lockout_seconds"]) for e in locks) == [
        ("address:10.0.0.9", "address:10.0.0.9", "300"),
        ("address:10.0.0.9", f"users/{ada}", "300"),
    ]
    # Tries while locked are refused before any hash and leave no event (they cost nothing).
    with pytest.raises(ResourceExhausted):
        accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.9")
    assert kinds(accounts.audit).count("sign_in_failed") == 3 and kinds(accounts.audit).count("sign_in_locked") == 2
    # A wrong current password when changing it counts (and is audited) the same way.
    clock.advance(minutes=6)
    signed_in = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    for _ in range(3):
        with pytest.raises(PermissionDenied):
            accounts.change_password(signed_in.session, "not the password!", PASSWORD + " 2", "10.0.0.1")
    failed = accounts.audit.list("acme", kind="sign_in_failed")[0][0]
    assert failed.details == {"reason": "wrong current password"}
    assert kinds(accounts.audit).count("sign_in_locked") == 4


def test_a_sign_in_with_an_unknown_email_is_an_event_of_no_tenant_that_keeps_no_email(accounts):
    team(accounts)
    with pytest.raises(Unauthenticated):
        accounts.sign_in(PASSWORD, PASSWORD, "10.0.0.7")  # the password typed in the email field
    (event,) = accounts.audit.list(None, kind="sign_in_failed")[0]
    assert event.tenant is None and event.target == "" and PASSWORD not in repr(event)
    assert "sign_in_failed" not in kinds(accounts.audit)


def test_secrets_never_reach_an_event():
    assert scrub({"password": "x", "new_token": "y", "csrf": "z", "role": "owner", "n": 3}) == {
        "role": "owner",
        "n": "3",
    }
    assert scrub({"note": "key maas_abcdefghijklmnop used"}) == {"note": f"key {REDACTED} used"}


def test_events_filter_by_kind_and_time_and_page_newest_first(store, clock):
    audit = AuditLog(store.engine, clock)
    for i in range(5):
        audit.record("sign_in", tenant="acme", actor=f"users/u{i}")
        audit.record("sign_out", tenant="acme", actor=f"users/u{i}")
        audit.record("sign_in", tenant="globex", actor=f"users/g{i}")
        clock.advance(minutes=10)
    page, token = audit.list("acme", kind="sign_in", page_size=2)
    assert [e.actor for e in page] == ["users/u4", "users/u3"] and token
    rest, last = audit.list("acme", kind="sign_in", page_size=2, page_token=token)
    assert [e.actor for e in rest] == ["users/u2", "users/u1"]
    assert [e.actor for e in audit.list("acme", kind="sign_in", page_token=last)[0]] == ["users/u0"]
    recent = audit.list("acme", since=START + dt.timedelta(minutes=30))[0]
    assert [(e.kind, e.actor) for e in recent] == [
        ("sign_out", "users/u4"),
        ("sign_in", "users/u4"),
        ("sign_out", "users/u3"),
        ("sign_in", "users/u3"),
    ]
    assert len(audit.list(None, page_size=100)[0]) == 15  # operators: every tenant
    with pytest.raises(InvalidArgument, match="kind"):
        audit.list("acme", kind="DROP TABLE")
    with pytest.raises(InvalidArgument, match="page_token"):
        audit.list("acme", page_token="garbage!")
    for cursor in ([2**64], [True], ["7"], [-1]):
        with pytest.raises(InvalidArgument, match="page_token"):
            audit.list("acme", page_token=encode_page_token(cursor))


def test_an_idle_session_ends_and_one_in_use_lasts_until_its_absolute_expiry(store, clock):
    accounts = Accounts(store.accounts, registration_enabled=True, scrypt_n=FAST_N, session_ttl=dt.timedelta(hours=2))
    accounts.register("ada@example.com", PASSWORD, tenant_id="acme")
    idle = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    busy = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    clock.advance(minutes=29)
    assert accounts.session(idle.token) is not None  # used at 29 min: its idle timeout starts again
    clock.advance(minutes=29, seconds=59)
    assert accounts.session(idle.token) is not None
    clock.advance(minutes=30, seconds=1)
    assert accounts.session(idle.token) is None
    assert store.find_principal(idle.token) is None
    assert idle.session.session_id not in {c.name.rsplit("/", 1)[1] for c in store.credential_snapshot().credentials}

    clock.at = START
    for _ in range(119 // 20):  # used every 20 minutes: never idle, but 2 h after sign-in it ends
        clock.advance(minutes=20)
        session = accounts.session(busy.token)
        assert session is not None and session.expire_time <= START + dt.timedelta(hours=2)
    clock.at = START + dt.timedelta(hours=1, minutes=59)
    assert accounts.session(busy.token) is not None
    clock.advance(minutes=1)
    assert accounts.session(busy.token) is None


def test_ended_sessions_are_purged_and_live_ones_kept(store, accounts, clock):
    accounts.register("ada@example.com", PASSWORD, tenant_id="acme")
    signed_out = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    accounts.sign_out(signed_out.session)
    idle = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    clock.advance(minutes=20)
    live = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    clock.advance(minutes=11)  # idle has been unused 31 minutes, live 11
    assert store.accounts.purge_sessions() == 2
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(t.sessions.c.session_id)).scalars().all()
    assert left == [live.session.session_id]
    assert accounts.session(signed_out.token) is None and accounts.session(idle.token) is None
    assert accounts.session(live.token) is not None
    assert store.accounts.purge_sessions() == 0
