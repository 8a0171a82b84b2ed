"""The accounts acceptance journey in a real browser, on a stack whose operator lets anyone register:
a new user registers in the console and lands on the free plan, makes an API key there, trains and
predicts with the `maas` CLI (a subprocess) using that key, invites a viewer, who signs in in a
second browser and can see the model but not train (the console says so, the API says
PERMISSION_DENIED), and signs out; the signed-out cookie is then refused (401), and so is a session
past its expiry (its end moved into the past in the gateway's database). The owner then changes the
password and sets another with an operator's reset token; after it all, no password, session or
CSRF token, invitation, reset token or API key is in clear in any service's log file or in any
column of any table of any service's database."""

import datetime as dt
import os
import sqlite3
import subprocess
import sys

import grpc
import httpx
import pytest
import sqlalchemy as sa

from maas.client import MaasClient, MaasError
from maas.stack import SERVICES, LocalStack
from services.common.credentials import hash_secret
from tests.e2e.test_console import PASSWORD, register_in_console
from tests.leaks import database_values, in_logs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def open_stack(tmp_path_factory):
    """A stack of its own: self-service registration on (the operator's setting), cheap scrypt."""
    extra_env = {
        "MAAS_ADMIN_KEY": "maas_admin_accounts",
        "MAAS_REGISTRATION_ENABLED": "true",
        "MAAS_PASSWORD_SCRYPT_N": str(2**14),
    }
    stack = LocalStack.on_free_ports(tmp_path_factory.mktemp("accounts"), extra_env=extra_env)
    stack.start(timeout=120)
    yield stack
    assert stack.stop() == dict.fromkeys(SERVICES, 0)


def maas(workdir, *argv: str) -> str:
    """`maas ARGV` as a user types it, in `workdir` with its own config dir; returns stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAAS_")}
    env["MAAS_CONFIG_DIR"] = str(workdir / "config")
    run = subprocess.run(
        [sys.executable, "-m", "maas.cli", *argv], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"maas {' '.join(argv)}\n{run.stderr}"
    return run.stdout


def session_cookie(context) -> dict:
    (cookie,) = [c for c in context.cookies() if c["name"] == "maas_session"]
    return cookie


def cookie_status(browser, stack, cookie: dict) -> int:
    """What a raw HTTP request carrying only this cookie gets for the list of models."""
    raw = browser.new_context(base_url=stack.http_url)
    try:
        raw.add_cookies([cookie])
        return raw.request.get("/v1/models").status
    finally:
        raw.close()


def test_register_key_cli_viewer_sign_out_and_expiry(browser, open_stack, tmp_path):
    stack = open_stack
    owner = browser.new_context(base_url=stack.http_url, viewport={"width": 1200, "height": 900})
    page = owner.new_page()
    page.set_default_timeout(60_000)

    # Register with no invitation: a new tenant, its owner, on the free plan.
    register_in_console(page, "grace@example.com", "")
    assert "grace@example.com (owner)" in page.inner_text("header .who")
    page.click("a[href='#/usage']")
    page.locator("#usage").wait_for()
    assert "Plan Free" in page.inner_text("main"), page.inner_text("main")
    assert "Free" in page.inner_text("#plan-limits")

    # An API key made in the browser.
    page.click("a[href='#/keys']")
    page.fill("#key-name", "laptop")
    page.click("#new-key button[type=submit]")
    made = page.locator("#secret").inner_text()
    secret = page.locator("#secret code").inner_text()
    tenant = made.split("Secret of tenants/", 1)[1].split("/", 1)[0]
    assert tenant.startswith("t-") and secret.startswith("maas_"), made
    secrets = [PASSWORD, secret, session_cookie(owner)["value"]]

    # The CLI with that key: train on the bundled digits, promote, score the held-out ones.
    endpoint = stack.address("gateway")
    maas(tmp_path, "demo", "--write-data", ".")
    maas(tmp_path, "login", "--endpoint", endpoint, "--tenant", tenant, "--api-key", secret)
    maas(tmp_path, "datasets", "upload", "digits.csv")
    maas(tmp_path, "train", "--dataset", "digits", "--label-column", "label", "--model", "digits", "--epochs", "3")
    maas(tmp_path, "alias", "set", "digits", "production", "latest")
    accuracy = maas(tmp_path, "predict", "digits", "digits-test.csv", "--label-column", "label").splitlines()[-1]
    assert accuracy.startswith("accuracy ") and "of 359 rows" in accuracy, accuracy
    assert "predictions: 359 rows of 10000 a day in 1 call" in maas(tmp_path, "usage")

    # A viewer, invited on the members page.
    page.click("a[href='#/keys']")
    page.select_option("#role", "viewer")
    page.click("#invite button[type=submit]")
    invitation = page.locator("#invitation-token code").inner_text()
    secrets.append(invitation)

    viewer = browser.new_context(base_url=stack.http_url, viewport={"width": 1200, "height": 900})
    try:
        tab = viewer.new_page()
        tab.set_default_timeout(60_000)
        register_in_console(tab, "vic@example.com", invitation)
        assert "vic@example.com (viewer)" in tab.inner_text("header .who")
        assert tab.locator("a[href='#/keys']").count() == 0
        tab.click("a[href='#/models']")
        tab.locator("a[href='#/models/digits']").wait_for()  # sees the owner's model
        # Training from the console: the form says why it cannot be sent, before anything is sent.
        tab.click("a[href='#/train']")
        tab.locator("#dataset option[value^='datasets/digits']").first.wait_for(state="attached")
        tab.select_option("#dataset", index=1)
        tab.fill("#epochs", "1")
        assert "viewer: this role can read but not train" in tab.inner_text("#read-only")
        assert tab.locator("main form button[type=submit]").is_disabled()

        # Over the API, with the viewer's session as the credential: reads pass, training is refused.
        cookie = session_cookie(viewer)
        secrets.append(cookie["value"])
        with MaasClient(endpoint, cookie["value"]) as api:
            assert [m.name for m in api.list_models()] == ["models/digits"]
            with pytest.raises(MaasError) as refused:
                api.create_training_job(
                    dataset="datasets/digits", label_column="label", target_model="models/digits", epochs=1
                )
            assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED, refused.value

        # Sign out: the cookie the browser held is refused afterwards.
        assert cookie_status(browser, stack, cookie) == 200
        tab.click("header .who button")
        tab.locator("#account").wait_for()
        assert cookie_status(browser, stack, cookie) == 401
    finally:
        viewer.close()

    # The owner's session is live until its end, which is moved into the past: then it is refused.
    cookie = session_cookie(owner)
    assert cookie_status(browser, stack, cookie) == 200
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(stack.data_dir / "gateway.db") as db:
        moved = db.execute(
            "UPDATE sessions SET expire_time = ? WHERE secret_sha256 = ?", (past, hash_secret(cookie["value"]))
        ).rowcount
    assert moved == 1
    assert cookie_status(browser, stack, cookie) == 401
    page.reload()
    page.locator("main").wait_for()
    owner.close()

    # A password change, then the operator's reset token (handed over by hand: no mail) and the
    # password it sets.
    changed, reset_to = "grace's changed password", "grace's password from the reset token"
    secrets += [changed, reset_to]
    with httpx.Client(base_url=stack.http_url, timeout=30) as http:
        csrf = {"x-csrf-token": sign_in(http, "grace@example.com", PASSWORD)}
        secrets += [http.cookies["maas_session"], csrf["x-csrf-token"]]
        body = {"currentPassword": PASSWORD, "newPassword": changed}
        assert http.post("/v1/accounts:changePassword", json=body, headers=csrf).status_code == 200
        operator = {"authorization": f"Bearer {stack.admin_key}"}
        reset = http.post("/v1/passwordResets", json={"email": "grace@example.com"}, headers=operator)
        assert reset.status_code == 200, reset.text
        secrets.append(reset.json()["token"])
        body = {"token": reset.json()["token"], "newPassword": reset_to}
        assert http.post("/v1/accounts:resetPassword", json=body).status_code == 200
        secrets.append(sign_in(http, "grace@example.com", reset_to))
        last_session = http.cookies["maas_session"]
        secrets.append(last_session)

    # Nothing of it in clear: not in any file under the log directory (every service's, Envoy's),
    # not in any column of any table of any service's database.
    assert in_logs(stack.log_dir, secrets) == {}
    assert "password reset" in (stack.log_dir / "gateway.log").read_text()  # the journey's own lines
    databases = {db.relative_to(stack.data_dir).as_posix(): db for db in sorted(stack.data_dir.rglob("*.db"))}
    assert "gateway.db" in databases
    stored, leaked = {}, {}
    for name, db in databases.items():
        engine = sa.create_engine(f"sqlite:///{db}")
        stored[name] = database_values(engine)
        engine.dispose()
        leaked[name] = [s for s in secrets if any(s in value for value in stored[name])]
    assert leaked == {name: [] for name in leaked}
    assert hash_secret(last_session) in stored["gateway.db"]  # the sessions' table was read


def sign_in(http: httpx.Client, email: str, password: str) -> str:
    """Signs `http` in (the cookie in its jar); returns the session's CSRF token."""
    reply = http.post("/v1/sessions", json={"email": email, "password": password})
    assert reply.status_code == 200, reply.text
    return reply.json()["csrfToken"]
