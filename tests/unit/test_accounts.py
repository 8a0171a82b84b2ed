"""Accounts' rules on a real (SQLite) gateway database: password hashing, sign-in throttling,
sessions that expire and are revoked, roles, invitations."""

import datetime as dt
import hashlib
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2 as pb
from services.common import db
from services.common.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from services.gateway import accounts as acc
from services.gateway import tables as t
from services.gateway.accounts import Accounts, Throttle, hash_password, verify_password
from services.gateway.store import GatewayStore
from tests.leaks import database_values

FAST_N = 2**10  # the tests' hashes; the production cost is checked on its own below
PASSWORD = "correct horse battery staple"
Scope = api_pb.Scope


@pytest.fixture
def store(tmp_path) -> GatewayStore:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    db.migrate(engine, "gateway", Path(t.__file__).parent / "migrations")
    return GatewayStore(engine)


@pytest.fixture
def accounts(store) -> Accounts:
    return Accounts(
        store.accounts,
        registration_enabled=True,
        throttle=Throttle(3, dt.timedelta(minutes=5), max_address_failures=5),
        scrypt_n=FAST_N,
    )


def test_password_hashes_are_salted_scrypt_with_their_parameters():
    first, second = hash_password(PASSWORD, FAST_N), hash_password(PASSWORD, FAST_N)
    assert first != second and first.startswith(f"scrypt${FAST_N}$8$1$")
    assert PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "!", first)
    assert not verify_password(PASSWORD, "scrypt$broken") and not verify_password(PASSWORD, "")
    assert not verify_password(PASSWORD, first.replace("scrypt$", "md5$", 1))


def test_the_default_cost_is_owasps():
    assert (acc.SCRYPT_N, acc.SCRYPT_R, acc.SCRYPT_P) == (2**17, 8, 1)
    encoded = hash_password(PASSWORD)  # 128 MiB: scrypt's memory bound is raised to fit
    assert encoded.startswith("scrypt$131072$8$1$") and verify_password(PASSWORD, encoded)


def test_throttle_locks_after_the_last_allowed_failure_and_unlocks_later():
    throttle = Throttle(3, dt.timedelta(minutes=5))
    at = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    assert throttle.after_failure("account:ada@example.com", 0, at) == (1, None)
    assert throttle.after_failure("account:ada@example.com", 1, at) == (2, None)
    # An address takes more failures (100 by default) before it locks.
    assert throttle.after_failure("address:10.0.0.1", 2, at) == (3, None)
    assert throttle.after_failure("address:10.0.0.1", 99, at) == (0, at + dt.timedelta(minutes=5))
    failures, locked_until = throttle.after_failure("account:ada@example.com", 2, at)
    assert (failures, locked_until) == (0, at + dt.timedelta(minutes=5))
    refusal = throttle.refusal(locked_until, at + dt.timedelta(seconds=10))
    assert isinstance(refusal, ResourceExhausted) and refusal.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refusal.details[0].retry_delay.seconds == 290 and "290 s" in refusal.message
    assert throttle.refusal(locked_until, locked_until) is None and throttle.refusal(None, at) is None


def test_register_makes_an_owner_of_a_new_free_tenant(store, accounts):
    user_id = accounts.register("Ada@Example.com", PASSWORD, tenant_id="ada")
    assert store.accounts.memberships(user_id) == [("ada", "owner")]
    assert store.get_tenant("ada").plan == "plans/free"
    with pytest.raises(AlreadyExists):
        accounts.register("ada@example.com", PASSWORD)
    with pytest.raises(InvalidArgument, match="password"):
        accounts.register("bob@example.com", "short")
    with pytest.raises(InvalidArgument, match="email"):
        accounts.register("not-an-email", PASSWORD)


def test_registration_is_off_unless_the_operator_enables_it(store):
    closed = Accounts(store.accounts, scrypt_n=FAST_N)
    with pytest.raises(PermissionDenied, match="registration is off"):
        closed.register("ada@example.com", PASSWORD)


def test_sign_in_gives_a_session_that_expires_and_can_be_revoked(store, accounts):
    accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
    signed_in = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    session = accounts.session(signed_in.token)
    assert session is not None and (session.tenant, session.role) == ("ada", "owner")
    principal = store.find_principal(signed_in.token)
    assert principal.tenant == "ada" and principal.role == "owner" and Scope.SCOPE_TRAIN in principal.scopes
    assert [c.name for c in store.credential_snapshot().credentials] == [f"tenants/ada/sessions/{session.session_id}"]
    accounts.check_csrf(session, signed_in.csrf_token)
    with pytest.raises(PermissionDenied, match="x-csrf-token"):
        accounts.check_csrf(session, "forged")
    with pytest.raises(PermissionDenied):
        accounts.check_csrf(session, None)
    # Expired: no session, no principal, not in the services' snapshot.
    with store.engine.begin() as conn:
        conn.execute(t.sessions.update().values(expire_time=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert accounts.session(signed_in.token) is None and store.find_principal(signed_in.token) is None
    assert not store.credential_snapshot().credentials
    # Revoked (signed out).
    again = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    accounts.sign_out(accounts.session(again.token))
    assert accounts.session(again.token) is None and store.find_principal(again.token) is None
    assert accounts.session("maas_s_unknown") is None and accounts.session("") is None


def test_failed_sign_ins_lock_the_account_and_the_address(accounts):
    accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
    accounts.register("bob@example.com", PASSWORD, tenant_id="bob")
    for _ in range(3):
        with pytest.raises(Unauthenticated, match="wrong email or password"):
            accounts.sign_in("ada@example.com", "wrong password!", "10.0.0.1")
    # Locked: even the right password is refused, from any address.
    with pytest.raises(ResourceExhausted, match="too many failed sign-ins"):
        accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.2")
    # The address, after three failures, still lets another account in: it takes five here.
    assert accounts.sign_in("bob@example.com", PASSWORD, "10.0.0.1").session.tenant == "bob"
    for email in ("carol@example.com", "dave@example.com"):
        with pytest.raises(Unauthenticated):
            accounts.sign_in(email, "wrong password!", "10.0.0.1")
    # Five failures from it in all: locked for every account.
    with pytest.raises(ResourceExhausted):
        accounts.sign_in("bob@example.com", PASSWORD, "10.0.0.1")


def test_a_success_resets_the_accounts_count(accounts):
    accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
    for address in ("10.0.0.1", "10.0.0.2"):
        with pytest.raises(Unauthenticated):
            accounts.sign_in("ada@example.com", "wrong password!", address)
    accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.3")
    for address in ("10.0.0.4", "10.0.0.5"):
        with pytest.raises(Unauthenticated):
            accounts.sign_in("ada@example.com", "wrong password!", address)
    assert accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.6").session.tenant == "ada"


def test_unknown_accounts_fail_like_wrong_passwords(accounts):
    with pytest.raises(Unauthenticated, match="wrong email or password"):
        accounts.sign_in("nobody@example.com", PASSWORD, "10.0.0.1")


def test_invitations_make_members_with_a_role_once(store, accounts):
    owner_id = accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
    with pytest.raises(InvalidArgument, match="role"):
        accounts.invite("ada", "emperor", owner_id)
    with pytest.raises(NotFound):
        accounts.invite("nobody", "viewer", None)
    token, _ = accounts.invite("ada", "viewer", owner_id)
    closed = Accounts(store.accounts, scrypt_n=FAST_N)  # invited members register even when it is off
    viewer_id = closed.register("vic@example.com", PASSWORD, invitation_token=token)
    assert store.accounts.memberships(viewer_id) == [("ada", "viewer")]
    with pytest.raises(InvalidArgument, match="invitation"):
        closed.register("eve@example.com", PASSWORD, invitation_token=token)
    viewer = accounts.sign_in("vic@example.com", PASSWORD, "10.0.0.1")
    assert store.find_principal(viewer.token).scopes == frozenset({Scope.SCOPE_READ})
    # The operator invites the first owner of a tenant it created.
    store.create_tenant("globex", pb.Tenant())
    first, _ = accounts.invite("globex", "owner", None)
    assert store.accounts.memberships(accounts.register("gus@example.com", PASSWORD, invitation_token=first)) == [
        ("globex", "owner")
    ]


def test_no_secret_is_stored_in_clear(store, accounts):
    accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
    signed_in = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    invitation, _ = accounts.invite("ada", "developer", signed_in.session.user_id)
    secrets = [PASSWORD, signed_in.token, signed_in.csrf_token, invitation]
    values = database_values(store.engine)
    assert values and not [v for v in values for secret in secrets if secret in v]
    assert hashlib.sha256(signed_in.token.encode()).hexdigest() in values


def test_a_password_change_needs_the_current_one_and_ends_the_other_sessions(store, accounts):
    accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
    here = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    elsewhere = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.2")
    with pytest.raises(PermissionDenied, match="current_password"):
        accounts.change_password(here.session, "not the password", "a brand new password", "10.0.0.1")
    with pytest.raises(InvalidArgument, match="password"):
        accounts.change_password(here.session, PASSWORD, "short", "10.0.0.1")
    accounts.change_password(here.session, PASSWORD, "a brand new password", "10.0.0.1")
    assert accounts.session(here.token) is not None and accounts.session(elsewhere.token) is None
    with pytest.raises(Unauthenticated):
        accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.3")
    assert accounts.sign_in("ada@example.com", "a brand new password", "10.0.0.3").session.tenant == "ada"


def test_an_operators_reset_token_sets_a_password_once_and_lifts_the_lock(store, accounts):
    accounts.register("ada@example.com", PASSWORD, tenant_id="ada")
    open_session = accounts.sign_in("ada@example.com", PASSWORD, "10.0.0.1")
    for address in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):  # locked (3 failures in these tests)
        with pytest.raises(Unauthenticated):
            accounts.sign_in("ada@example.com", "forgotten it", address)
    with pytest.raises(NotFound):
        accounts.password_reset("nobody@example.com")
    token, _ = accounts.password_reset("ada@example.com")
    accounts.reset_password(token, "a brand new password")
    assert accounts.session(open_session.token) is None
    assert accounts.sign_in("ada@example.com", "a brand new password", "10.0.0.5").session.role == "owner"
    with pytest.raises(InvalidArgument, match="password reset"):
        accounts.reset_password(token, "yet another password")
    with store.engine.connect() as conn:
        assert token not in str(conn.execute(sa.select(t.password_resets)).all())
