"""Members, audit events and session expiry against a real gateway (REST twin, gRPC and the CLI),
on SQLite and PostgreSQL: an owner lists, promotes and removes members but the last owner stays;
every account event is listed for the owner and, across tenants, the operator; the session cookie
is refused after sign-out, after its idle timeout and after its absolute expiry (the gateway's
clock injected, no sleeping); ended sessions are purged; no password or token is in clear in the
audit table, any other table or any log line."""

import datetime as dt
import json
import time

import grpc
import httpx
import pytest
import sqlalchemy as sa

from maas.cli import main as cli
from maas.gateway.v1 import admin_pb2
from services.common.timeutil import now
from services.gateway import tables as t
from tests.integration import test_gateway_accounts as accounts_test
from tests.integration.gateway_stack import ADMIN_KEY, bearer, gateway_stack
from tests.integration.test_gateway_accounts import PASSWORD, browser, register, signed_in
from tests.integration.test_gateway_rest import auth, http_port
from tests.leaks import in_database


@pytest.fixture
def stack(data_dir, database_url):
    settings = {"registration_enabled": True, "password_scrypt_n": 2**14, "session_purge_seconds": 0.2}
    with gateway_stack(data_dir, database_url, **settings) as stack:
        yield stack


@pytest.fixture
def base_url(stack) -> str:
    return f"http://127.0.0.1:{http_port(stack.gateway)}"


logs = accounts_test.logs  # every structlog event, with its bound context


def account_store(stack):
    """The live gateway's account store: its clock is the one sessions expire by."""
    return stack.gateway.server.bindings[0].servicer.accounts.store


def grpc_code(stack, token: str) -> str:
    """The status of a gRPC call (GetUsage of the session's tenant) with the session's token as the key."""
    try:
        stack.admin.GetUsage(admin_pb2.GetUsageRequest(name="tenants/-/usage"), metadata=bearer(token))
    except grpc.RpcError as failed:
        return failed.code().name
    return "OK"


def error(reply: httpx.Response) -> str:
    return reply.json()["error"]["message"]


def test_an_owner_manages_members_and_reads_the_audit_trail(stack, base_url, database_url, logs, capsys):
    secrets = [PASSWORD, "wrong password, guessed"]
    with browser(base_url) as ada, browser(base_url) as bob:
        owner = register(ada, "ada@example.com", tenantId="ada")["user"].removeprefix("users/")
        csrf = signed_in(ada, "ada@example.com")
        secrets += [ada.cookies["maas_session"], csrf["x-csrf-token"]]
        key = ada.post("/v1/tenants/ada/apiKeys", json={"displayName": "ci"}, headers=csrf).json()
        revoked = ada.post(f"/v1/{key['apiKey']['name']}:revoke", json={}, headers=csrf)
        assert revoked.status_code == 200, revoked.text
        invited = ada.post("/v1/tenants/ada/invitations", json={"role": "viewer"}, headers=csrf).json()
        secrets += [key["secret"], invited["token"]]
        member = register(bob, "bob@example.com", invitationToken=invited["token"])["user"].removeprefix("users/")
        bob_csrf = signed_in(bob, "bob@example.com")
        secrets += [bob.cookies["maas_session"], bob_csrf["x-csrf-token"]]
        assert bob.post("/v1/sessions", json={"email": "bob@example.com", "password": secrets[1]}).status_code == 401

        listed = ada.get("/v1/tenants/ada/members")
        assert [(m["email"], m["role"]) for m in listed.json()["members"]] == [
            ("ada@example.com", "owner"),
            ("bob@example.com", "viewer"),
        ]
        assert bob.get("/v1/tenants/ada/members").status_code == 403  # a viewer's session
        # The last owner stays: neither demoted nor removed, with a precise answer.
        demote = ada.patch(f"/v1/tenants/ada/members/{owner}", json={"role": "viewer"}, headers=csrf)
        assert demote.status_code == 400 and "last owner cannot be made viewer" in error(demote)
        assert demote.json()["error"]["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        leave = ada.delete(f"/v1/tenants/ada/members/{owner}", headers=csrf)
        assert leave.status_code == 400 and "last owner cannot be removed" in error(leave)
        unknown = ada.patch(f"/v1/tenants/ada/members/{member}", json={"role": "god"}, headers=csrf)
        assert unknown.status_code == 400 and "role" in error(unknown)
        no_csrf = ada.patch(f"/v1/tenants/ada/members/{member}", json={"role": "developer"})
        assert no_csrf.status_code == 403

        # A role change applies to the member's open session at once.
        promoted = ada.patch(f"/v1/tenants/ada/members/{member}", json={"role": "developer"}, headers=csrf)
        assert promoted.status_code == 200 and promoted.json()["role"] == "developer"
        assert bob.get("/v1/sessions/current").json()["role"] == "developer"
        removed = ada.delete(f"/v1/tenants/ada/members/{member}", headers=csrf)
        assert removed.status_code == 200 and removed.json()["email"] == "bob@example.com"
        assert bob.get("/v1/sessions/current").status_code == 401

        events = ada.get("/v1/tenants/ada/auditEvents", params={"pageSize": 100}).json()["events"]
        kinds = [e["kind"] for e in events]
        assert kinds == [
            "member_removed",
            "member_role_changed",
            "sign_in_failed",
            "sign_in",
            "account_registered",
            "invitation_created",
            "api_key_revoked",
            "api_key_created",
            "sign_in",
            "account_registered",
            "tenant_created",
        ]
        by_kind = {e["kind"]: e for e in events}
        assert (by_kind["tenant_created"]["actor"], by_kind["tenant_created"]["target"]) == (
            f"users/{owner}",
            "tenants/ada",
        )
        assert by_kind["member_role_changed"]["details"] == {"previous_role": "viewer", "role": "developer"}
        assert by_kind["member_removed"]["actor"] == f"users/{owner}"
        assert by_kind["member_removed"]["target"] == f"users/{member}"
        assert by_kind["api_key_created"]["target"] == key["apiKey"]["name"]
        assert by_kind["sign_in_failed"]["actor"] == "address:127.0.0.1"
        failed = ada.get("/v1/tenants/ada/auditEvents", params={"kind": "sign_in_failed"}).json()["events"]
        assert [e["target"] for e in failed] == [f"users/{member}"]
        paged = ada.get("/v1/tenants/ada/auditEvents", params={"pageSize": 3}).json()
        assert len(paged["events"]) == 3 and paged["nextPageToken"]
        assert ada.get("/v1/tenants/-/auditEvents").status_code == 403  # every tenant's: the operator's
        bad = ada.get("/v1/tenants/ada/auditEvents", params={"kind": "No Such Kind"})
        assert bad.status_code == 400 and "kind" in error(bad)

    # The operator: every tenant's events, and the CLI.
    other = httpx.post(f"{base_url}/v1/accounts:register", json={"email": "cy@example.com", "password": PASSWORD})
    assert other.status_code == 200
    everyone = httpx.get(f"{base_url}/v1/tenants/-/auditEvents", headers=auth(ADMIN_KEY)).json()["events"]
    assert {e["tenant"] for e in everyone} == {"tenants/ada", other.json()["tenant"]}
    connection = ["--endpoint", stack.gateway.address, "--api-key", ADMIN_KEY, "--tenant", "ada"]
    assert cli(["members", "list", *connection]) == 0
    assert "ada@example.com" in capsys.readouterr().out
    assert cli(["members", "set-role", "ada@example.com", "viewer", *connection]) == 19  # 10 + FAILED_PRECONDITION
    assert "last owner" in capsys.readouterr().err
    assert cli(["audit", "--kind", "member_removed", "-o", "json", *connection]) == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert event["target"] == f"users/{member}" and event["details"]["api_keys_revoked"] == "0"

    # No password or token in clear: not in the audit table, any other table, or any log line.
    logged = json.dumps(logs, default=str)
    assert "audit event" in logged and not [s for s in secrets if s in logged]
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        audit = repr(conn.execute(sa.select(t.audit_events)).all())
    leaked = in_database(engine, secrets)
    engine.dispose()
    assert "member_removed" in audit and not [s for s in secrets if s in audit]
    assert leaked == []


def test_the_session_cookie_is_refused_after_sign_out_idle_time_and_its_absolute_expiry(stack, base_url, database_url):
    store = account_store(stack)
    real_clock = store.clock
    with browser(base_url) as ada:
        register(ada, "ada@example.com", tenantId="ada")
        csrf = signed_in(ada, "ada@example.com")
        signed_out = ada.cookies["maas_session"]
        assert ada.delete("/v1/sessions/current", headers=csrf).status_code == 200
        with httpx.Client(base_url=base_url, cookies={"maas_session": signed_out}) as replay:
            assert replay.get("/v1/models").status_code == 401
        assert grpc_code(stack, signed_out) == "UNAUTHENTICATED"

        # Idle: unused for 30 minutes (the default), refused; used within them, kept.
        signed_in(ada, "ada@example.com")
        idle = ada.cookies["maas_session"]
        start = now()
        try:
            store.clock = lambda: start + dt.timedelta(minutes=29)
            assert ada.get("/v1/models").status_code == 200
            store.clock = lambda: start + dt.timedelta(minutes=58)
            assert ada.get("/v1/models").status_code == 200  # 29 minutes after its last use
            store.clock = lambda: start + dt.timedelta(minutes=88, seconds=1)
            assert ada.get("/v1/models").status_code == 401
            time.sleep(0.3)  # the gateway's key cache (0.2 s here) forgets the session
            assert grpc_code(stack, idle) == "UNAUTHENTICATED"

            # Absolute: used every 20 minutes it is never idle, but ends 12 hours after sign-in.
            store.clock = real_clock
            signed_in(ada, "ada@example.com")
            start = now()
            for minutes in range(20, 12 * 60, 20):
                store.clock = lambda minutes=minutes: start + dt.timedelta(minutes=minutes)
                assert ada.get("/v1/sessions/current").status_code == 200, minutes
            store.clock = lambda: start + dt.timedelta(hours=12, seconds=1)
            assert ada.get("/v1/sessions/current").status_code == 401

            # Ended sessions are purged (every 0.2 s here): none of the three rows is left.
            engine = sa.create_engine(database_url)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    left = conn.execute(sa.select(sa.func.count()).select_from(t.sessions)).scalar_one()
                if left == 0:
                    break
                time.sleep(0.1)
            engine.dispose()
            assert left == 0
        finally:
            store.clock = real_clock
