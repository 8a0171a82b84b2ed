"""Accounts over the REST twin against a real registry and trainer: register, sign in, the session
cookie and its CSRF token, roles, an owner's keys and invitations, sign-out, expiry, throttling,
and no password or token in clear in the logs or the database."""

import datetime as dt
import hashlib
import json

import httpx
import pytest
import sqlalchemy as sa
import structlog

from maas.gateway.v1 import admin_pb2
from services.gateway import tables as t
from tests.integration.gateway_stack import ADMIN, ADMIN_KEY, gateway_stack
from tests.integration.test_gateway_rest import auth, http_port
from tests.leaks import database_values

PASSWORD = "correct horse battery staple"
JOB = {
    "spec": {
        "dataset": {"dataset": "datasets/none", "labelColumn": "label"},
        "template": {"name": "logistic"},
        "targetModel": "models/m1",
    }
}


@pytest.fixture
def stack(data_dir, database_url):
    settings = {"registration_enabled": True, "password_scrypt_n": 2**14, "login_max_failures": 20}
    with gateway_stack(data_dir, database_url, **settings) as stack:
        yield stack


@pytest.fixture
def base_url(stack) -> str:
    return f"http://127.0.0.1:{http_port(stack.gateway)}"


@pytest.fixture
def logs():
    """Every structlog event of every service (they run in this process), with its bound context."""
    with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as entries:
        yield entries


def browser(base_url: str) -> httpx.Client:
    """A client that keeps cookies, like a browser tab."""
    return httpx.Client(base_url=base_url, timeout=30)


def register(client: httpx.Client, email: str, headers: dict[str, str] | None = None, **fields) -> dict:
    reply = client.post("/v1/accounts:register", json={"email": email, "password": PASSWORD, **fields}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/v1/sessions", json={"email": email, "password": password})


def signed_in(client: httpx.Client, email: str) -> dict:
    """Signs in; returns the CSRF header every state-changing request with the cookie needs."""
    reply = sign_in(client, email)
    assert reply.status_code == 200, reply.text
    return {"x-csrf-token": reply.json()["csrfToken"]}


def test_register_sign_in_use_the_console_api_and_sign_out(stack, base_url, database_url, logs):
    secrets = [PASSWORD]
    with browser(base_url) as ada:
        owner = register(ada, "ada@example.com", tenantId="ada")
        assert owner == {"user": owner["user"], "tenant": "tenants/ada", "role": "owner"}
        tenant = stack.admin.GetTenant(admin_pb2.GetTenantRequest(name="tenants/ada"), metadata=ADMIN)
        assert tenant.plan == "plans/free"
        reply = sign_in(ada, "ada@example.com")
        assert reply.status_code == 200, reply.text
        cookie = reply.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain HTTP here
        token = ada.cookies["maas_session"]
        csrf = {"x-csrf-token": reply.json()["csrfToken"]}
        secrets += [token, csrf["x-csrf-token"]]
        assert reply.json()["role"] == "owner" and reply.json()["tenant"] == "tenants/ada"
        assert ada.get("/v1/sessions/current").json()["email"] == "ada@example.com"

        # The cookie works on the REST twin, for reads and (with the CSRF token) writes.
        assert ada.get("/v1/models").json() == {"models": [], "nextPageToken": ""}
        refused = ada.post("/v1/models", json={}, params={"model_id": "m1"})
        assert refused.status_code == 403 and "x-csrf-token" in refused.json()["error"]["message"]
        forged = ada.post("/v1/models", json={}, params={"model_id": "m1"}, headers={"x-csrf-token": "guess"})
        assert forged.status_code == 403
        cross_site = ada.post(
            "/v1/models", json={}, params={"model_id": "m1"}, headers={**csrf, "origin": "https://evil.example"}
        )
        assert cross_site.status_code == 403 and "origin" in cross_site.json()["error"]["message"]
        created = ada.post("/v1/models", json={}, params={"model_id": "m1"}, headers=csrf)
        assert created.status_code == 200, created.text
        assert ada.get("/v1/tenants/-/usage").json()["name"] == "tenants/ada/usage"

        # An owner creates the tenant's API keys (owned by them), which programs use.
        made = ada.post("/v1/tenants/ada/apiKeys", json={"displayName": "ci"}, headers=csrf)
        assert made.status_code == 200, made.text
        secrets.append(made.json()["secret"])
        assert httpx.get(f"{base_url}/v1/models/m1", headers=auth(made.json()["secret"])).status_code == 200
        listed = ada.get("/v1/tenants/ada/apiKeys").json()["apiKeys"]
        assert [(k["displayName"], k["owner"]) for k in listed] == [("ci", owner["user"])]
        other = ada.post("/v1/tenants/someone-else/apiKeys", json={}, headers=csrf)
        assert other.status_code == 403 and "only that tenant" in other.json()["error"]["message"]
        assert ada.get("/v1/tenants").status_code == 403  # the operator's, not an owner's

        # An invited viewer reads but cannot train, create or manage keys.
        invited = ada.post("/v1/tenants/ada/invitations", json={"role": "viewer"}, headers=csrf)
        assert invited.status_code == 200, invited.text
        secrets.append(invited.json()["token"])
        with browser(base_url) as vic:
            assert register(vic, "vic@example.com", invitationToken=invited.json()["token"])["role"] == "viewer"
            vic_csrf = signed_in(vic, "vic@example.com")
            secrets += [vic.cookies["maas_session"], vic_csrf["x-csrf-token"]]
            assert [m["name"] for m in vic.get("/v1/models").json()["models"]] == ["models/m1"]
            train = vic.post("/v1/trainingJobs", json=JOB, headers=vic_csrf)
            assert train.status_code == 403 and "train" in train.json()["error"]["message"]
            assert vic.post("/v1/models", json={}, params={"model_id": "m2"}, headers=vic_csrf).status_code == 403
            assert vic.post("/v1/tenants/ada/apiKeys", json={}, headers=vic_csrf).status_code == 403
            assert vic.post("/v1/tenants/ada/invitations", json={"role": "owner"}, headers=vic_csrf).status_code == 403
            assert vic.get("/v1/tenants/ada/apiKeys").status_code == 403

        # Sign-out: the same cookie is refused at once.
        assert ada.delete("/v1/sessions/current").status_code == 403  # no CSRF token
        assert ada.delete("/v1/sessions/current", headers=csrf).status_code == 200
        with httpx.Client(base_url=base_url, cookies={"maas_session": token}) as replay:
            replayed = replay.get("/v1/models")
        assert replayed.status_code == 401, replayed.text

    # An expired session is refused too.
    with browser(base_url) as ada:
        signed_in(ada, "ada@example.com")
        assert ada.get("/v1/models").status_code == 200
        secrets.append(ada.cookies["maas_session"])
        engine = sa.create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(t.sessions.update().values(expire_time=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        assert ada.get("/v1/models").status_code == 401

    # No password or token in clear: not in any log event, not in any column of any table.
    logged = json.dumps(logs, default=str)
    assert "signed in" in logged and not [s for s in secrets if s in logged]
    stored = database_values(engine)
    engine.dispose()
    assert not [s for s in secrets if any(s in value for value in stored)]
    assert hashlib.sha256(token.encode()).hexdigest() in stored


def test_twenty_wrong_passwords_are_throttled(stack, base_url):
    with browser(base_url) as client:
        register(client, "ada@example.com", tenantId="ada")
        for _ in range(20):
            assert sign_in(client, "ada@example.com", "wrong password!").status_code == 401
        # Locked: even the right password waits, with a Retry-After.
        locked = sign_in(client, "ada@example.com")
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert locked.json()["error"]["code"] == 8 and "too many failed sign-ins" in locked.json()["error"]["message"]


def test_registration_is_off_by_default_and_bad_requests_are_refused(data_dir):
    with gateway_stack(data_dir) as stack, browser(f"http://127.0.0.1:{http_port(stack.gateway)}") as client:
        closed = client.post("/v1/accounts:register", json={"email": "ada@example.com", "password": PASSWORD})
        assert closed.status_code == 403 and "registration is off" in closed.json()["error"]["message"]
        assert client.post("/v1/accounts:register", content=b"[1]").status_code == 400
        assert client.post("/v1/sessions", json={"email": 5}).status_code == 400
        assert client.get("/v1/sessions/current").status_code == 401
        client.cookies.set("maas_session", "maas_s_forged")
        assert client.get("/v1/models").status_code == 401


def test_password_change_and_the_operators_reset(stack, base_url):
    new = {"currentPassword": PASSWORD, "newPassword": "a brand new password"}
    with browser(base_url) as here, browser(base_url) as elsewhere:
        register(here, "ada@example.com", tenantId="ada")
        csrf = signed_in(here, "ada@example.com")
        signed_in(elsewhere, "ada@example.com")
        assert here.post("/v1/accounts:changePassword", json=new).status_code == 403  # no CSRF token
        wrong = here.post("/v1/accounts:changePassword", json={**new, "currentPassword": "guess"}, headers=csrf)
        assert wrong.status_code == 403 and "current_password" in wrong.json()["error"]["message"]
        assert here.post("/v1/accounts:changePassword", json=new, headers=csrf).status_code == 200
        assert here.get("/v1/models").status_code == 200 and elsewhere.get("/v1/models").status_code == 401
        assert sign_in(here, "ada@example.com").status_code == 401
        again = sign_in(here, "ada@example.com", "a brand new password")
        assert again.status_code == 200
        csrf = {"x-csrf-token": again.json()["csrfToken"]}  # the new session's

        # The operator issues a reset token (no mail is sent); the user sets a password with it.
        reset = here.post("/v1/passwordResets", json={"email": "ada@example.com"}, headers=auth(ADMIN_KEY))
        assert reset.status_code == 200, reset.text
        token = reset.json()["token"]
        by_owner = here.post("/v1/passwordResets", json={"email": "ada@example.com"}, headers=csrf)
        assert by_owner.status_code == 403 and "admin" in by_owner.json()["error"]["message"]  # the operator's
        body = {"token": token, "newPassword": "the third password"}
        assert here.post("/v1/accounts:resetPassword", json=body).status_code == 200
        assert here.get("/v1/models").status_code == 401  # every session ended
        assert here.post("/v1/accounts:resetPassword", json=body).status_code == 400  # used up
        assert sign_in(here, "ada@example.com", "the third password").status_code == 200


def test_the_open_account_endpoints_refuse_another_sites_page(stack, base_url):
    """They take no cookie and so no CSRF token, but a page elsewhere could still post a form to them
    (login CSRF: the victim's browser signed in as the attacker); its Origin gives it away."""
    evil = {"origin": "https://evil.example"}
    with browser(base_url) as client:
        body = {"email": "mallory@example.com", "password": PASSWORD, "tenantId": "mallory"}
        refused = client.post("/v1/accounts:register", json=body, headers=evil)
        assert refused.status_code == 403 and "another origin" in refused.json()["error"]["message"]
        assert sign_in(client, "mallory@example.com").status_code == 401  # nobody was registered
        register(client, "mallory@example.com", tenantId="mallory", headers={"origin": base_url})
        refused = client.post("/v1/sessions", json={"email": body["email"], "password": PASSWORD}, headers=evil)
        assert refused.status_code == 403 and "maas_session" not in client.cookies
        reset = client.post("/v1/accounts:resetPassword", json={"token": "t", "newPassword": "x" * 12}, headers=evil)
        assert reset.status_code == 403
        # A same-origin page, and a client that sends no Origin (curl, the CLI), sign in.
        assert sign_in(client, "mallory@example.com").status_code == 200
