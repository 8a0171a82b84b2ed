"""The console's pages for what goes wrong and what is looked after, in a real browser against the
live stack: a failed job said in words (the raw detail behind a toggle), the admin key's view of
tenants and plans, copy-ready snippets that really call the model, the API reference at /docs, and
a model version's download, archive and delete; and an alias promoted to, and rolled back in one
click, from its model's page."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest

from maas.client import MaasClient, MaasError
from maas.registry.v1 import registry_pb2 as rpb
from tests.e2e.conftest import failed_data_job, tenant_with_digits
from tests.e2e.test_console import (
    axe_violations,
    new_tenant,
    register_in_console,
    shot,
    sign_in,
    signed_in_context,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).parents[2]
# What a registry failure's raw text looks like after a restart: an internal address, gRPC words.
RAW = "the registry refused a call: failed to connect to all addresses; last error: UNAVAILABLE: ipv4:10.0.3.7:50052"


def _no_serious_violations(page, where: str) -> None:
    found = axe_violations(page)
    assert not found, f"{where}: " + "\n".join(found)


def test_a_failed_job_says_what_happened_and_what_to_do(page, stack):
    key = new_tenant(stack, "browser-failures")
    with MaasClient(stack.address("gateway"), key) as client:
        failed = failed_data_job(client)
    assert failed.state == failed.STATE_FAILED and failed.failure_kind == "data", failed
    job_id = failed.name.split("/")[-1]

    sign_in(page, key)
    page.locator("h1", has_text="Datasets").wait_for()
    page.goto(f"/#/jobs/{job_id}")
    notice = page.locator("#failure[data-kind='data']")
    notice.wait_for()
    assert "The training data could not be used" in notice.inner_text()
    assert "Clone and edit" in notice.inner_text()  # what to do
    # The trainer's own words are there, behind a toggle.
    detail = notice.locator("details code.detail")
    assert failed.state_reason in detail.text_content() and not detail.is_visible()
    notice.locator("summary").click()
    assert detail.is_visible()
    shot(page, "30-job-failed-data")
    _no_serious_violations(page, "failed job")
    page.goto("/#/jobs")
    row = page.locator("main tr", has=page.locator(f"a[href='#/jobs/{job_id}']"))
    assert "The training data could not be used" in row.inner_text() and failed.state_reason not in row.inner_text()

    # The other kinds, as the trainer records them (the job's answer rewritten on its way to the
    # page: a registry outage or an out-of-memory kill cannot be made to order here).
    def rewritten(kind: str, reason: str):
        def handle(route):
            answer = route.fetch()
            body = answer.json()
            body.update(failureKind=kind, stateReason=reason)
            route.fulfill(response=answer, body=json.dumps(body))

        return handle

    titles = {
        "registry": "lost contact with the model registry",
        "out_of_memory": "ran out of memory",
        "crashed": "stopped on every attempt",
        "something_new": "The job failed",
    }
    for kind, title in titles.items():
        page.route(f"**/v1/trainingJobs/{job_id}", rewritten(kind, RAW))
        page.goto("/#/jobs")
        page.goto(f"/#/jobs/{job_id}")
        notice = page.locator(f"#failure[data-kind='{kind}']")
        notice.wait_for()
        up_front = notice.locator(":scope > b, :scope > p").all_inner_texts()
        assert title in " ".join(up_front), up_front
        # Never the raw gRPC text with an internal address up front: only behind the toggle.
        assert not any("10.0.3.7" in t or "UNAVAILABLE" in t for t in up_front), up_front
        assert "10.0.3.7" not in page.locator("#job-state").locator("..").inner_text()
        assert not notice.locator("details code.detail").is_visible()
        if kind == "registry":
            shot(page, "31-job-failed-registry")
        page.unroute_all(behavior="wait")  # its handler done before the next kind


def test_the_admin_key_opens_a_view_of_tenants_plans_and_usage(page, stack):
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        plan = admin.create_plan(
            "admin-view", display_name="admin view", predictions_per_day=1000, stored_bytes=1 << 30, burst=5
        )
        admin.create_tenant("browser-admin-seen", plan=plan.name)
    sign_in(page, stack.admin_key)
    page.locator("h1", has_text="Tenants, plans and usage").wait_for()
    assert "acts inside a tenant" not in page.inner_text("body")
    tenants = page.locator("#tenants")
    row = tenants.locator("tr", has_text="browser-admin-seen")
    row.wait_for()
    row.locator("td", has_text="0 of 1,000").wait_for()  # today's predictions against the plan's
    assert "admin-view" in row.inner_text()
    plans = page.locator("#plans tr", has_text="admin view")
    assert "1,000" in plans.inner_text() and "1.0 GiB" in plans.inner_text(), plans.inner_text()
    assert page.title() == "Tenants and plans · MaaS"
    assert page.locator("header nav a").all_inner_texts() == ["Tenants and plans"]
    shot(page, "32-admin")
    _no_serious_violations(page, "admin")
    # A tenant's key still opens the tenant's pages.
    page.click("header .who button")
    sign_in(page, new_tenant(stack, "browser-after-admin"))
    page.locator("h1", has_text="Datasets").wait_for()


def _run(command: list[str], key: str) -> str:
    env = {**os.environ, "MAAS_API_KEY": key, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_predict_offers_snippets_that_call_the_model_and_the_api_reference_at_docs(browser, stack, journey):
    context = signed_in_context(browser, stack, journey.api_key)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/#/predict")
    page.select_option("#predict-model", "digits")
    page.fill("#rows", ",".join(["1"] * 64))
    card = page.locator("#integrate")
    card.wait_for()
    code = {name: page.inner_text(f"[data-snippet='{name}'] pre") for name in ("curl", "python", "triton")}
    for name, text in code.items():
        assert journey.api_key not in text and "MAAS_API_KEY" in text, name
        assert "digits" in text, name
    assert stack.http_url in code["curl"] and stack.address("gateway") in code["python"] + code["triton"]
    page.click("[data-copy='python']")
    page.locator("[data-snippet='python'] [role=status]", has_text="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == code["python"]
    shot(page, "33-predict-snippets")
    _no_serious_violations(page, "predict snippets")

    # Each snippet, pasted as it is, scores the row (the key from the environment).
    answer = json.loads(_run(["bash", "-c", code["curl"]], journey.api_key))
    assert answer["model_name"] == "digits" and len(answer["outputs"][0]["data"]) == 10
    for name in ("python", "triton"):
        scores = json.loads(_run([sys.executable, "-c", code[name]], journey.api_key).strip().splitlines()[-1])
        assert len(scores) == 1 and len(scores[0]) == 10, (name, scores)

    # The reference: every route of /openapi.json, drawn by our own page, nothing from elsewhere.
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.click("#integrate a[href='/docs']")
    page.locator("#doc-info").wait_for()
    document = page.request.get("/openapi.json").json()
    count = sum(
        1 for item in document["paths"].values() for m in item if m in ("get", "post", "put", "patch", "delete")
    )
    assert f"{count} operations" in page.inner_text("#doc-info")
    assert all(url.startswith(stack.http_url) for url in asked), asked
    page.fill("#filter", ":archive")
    archive = page.locator("details.operation:visible")
    assert archive.count() == 1, archive.all_inner_texts()
    assert "/v1/models/{model}/versions/{version}:archive" in archive.inner_text()
    archive.locator("summary").click()
    assert "version" in archive.locator("table").inner_text()  # its path parameters
    shot(page, "34-docs")
    _no_serious_violations(page, "docs")
    context.close()


def _model_page_with_copies(browser, stack, key: str, copies: int):
    """(context, page, version 1): the digits model's page, signed in with `key`, once `copies`
    more versions of its version 1 (same artifact and signature) are registered."""
    with MaasClient(stack.address("gateway"), key) as client:
        first = client.get_model_version("models/digits/versions/1")
        for _ in range(copies):
            copy = rpb.ModelVersion(artifact=first.artifact, signature=first.signature)
            client.registry.CreateModelVersion(
                rpb.CreateModelVersionRequest(parent="models/digits", model_version=copy), **client.call_options()
            )
    context = signed_in_context(browser, stack, key)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/#/models/digits")
    return context, page, first


def test_a_version_is_downloaded_archived_and_deleted_from_its_model_page(browser, stack, journey, tmp_path):
    key = tenant_with_digits(stack, journey, "browser-versions", "browser-versions")
    context, page, first = _model_page_with_copies(browser, stack, key, copies=2)
    page.locator("button[data-download='1']").wait_for()

    with page.expect_download() as download:
        page.click("button[data-download='1']")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == first.artifact.split("/")[-1]
    assert download.value.suggested_filename.startswith("digits-v1")

    # What production serves cannot be archived: the registry says why, in words.
    page.click("button[data-archive='1']")
    error = page.locator(".error[data-status='400']")
    error.wait_for()
    assert "aliased by ['production']" in error.inner_text()
    page.click("button[data-archive='2']")
    row = page.locator("main tr", has=page.locator("button[data-archive='2']"))
    row.get_by_role("cell", name="ARCHIVED", exact=True).wait_for()
    assert row.locator("button[data-version='2']").count() == 0, row.inner_text()  # no promotion of an archived one
    shot(page, "35-version-archived")
    _no_serious_violations(page, "model versions")
    with MaasClient(stack.address("gateway"), key) as client, pytest.raises(MaasError) as refused:
        client.predict("digits", np.zeros((1, 64), dtype=np.float32), version="2")
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION and "archived" in str(refused.value)
    page.click("button[data-archive='2']")  # now "Unarchive"
    row.get_by_role("cell", name="READY", exact=True).wait_for()

    # Delete asks first; "Keep it" keeps it.
    page.click("button[data-delete='3']")
    assert "Delete version 3 for good?" in page.inner_text(".actions .confirm")
    page.click(".actions .confirm button.secondary")
    assert page.locator("button[data-delete='3']").count() == 1
    page.click("button[data-delete='3']")
    page.click(".confirm-delete")
    page.locator("button[data-delete='3']").wait_for(state="detached")
    with MaasClient(stack.address("gateway"), key) as client, pytest.raises(MaasError) as gone:
        client.get_model_version("models/digits/versions/3")
    assert gone.value.code == grpc.StatusCode.NOT_FOUND
    context.close()


def _history_rows(page, alias: str, count: int) -> list[str]:
    """The rows of the alias's history on the model page, once it lists `count` revisions."""
    rows = f".history[data-alias='{alias}'] tbody tr"
    page.wait_for_function("([rows, count]) => document.querySelectorAll(rows).length === count", arg=[rows, count])
    return page.locator(rows).all_inner_texts()


def test_an_alias_is_promoted_and_rolled_back_in_one_click_from_its_model_page(browser, stack, journey):
    key = tenant_with_digits(stack, journey, "browser-rollback", "browser-rollback", production=False)
    context, page, _ = _model_page_with_copies(browser, stack, key, copies=1)
    assert page.input_value("#promote-alias") == "production"  # the default alias to promote to

    # Version 1 to production, then version 2, each once confirmed.
    page.click("button[data-version='1']")
    confirm = page.get_by_role("alertdialog", name="confirm promotion")
    assert "production will point at version 1" in confirm.inner_text()
    page.click(".confirm-promote")
    assert "v1 100%" in _history_rows(page, "production", 1)[0]
    assert page.locator("button[data-rollback]").count() == 0  # nothing earlier to go back to
    page.click("button[data-version='2']")
    assert "production moves from version 1 to version 2" in confirm.inner_text()
    page.click(".confirm-promote")
    rows = _history_rows(page, "production", 2)
    assert "v2 100%" in rows[0] and "v1 100%" in rows[1], rows
    with MaasClient(stack.address("gateway"), key) as client:
        assert client.get_alias("digits", "production").version == 2
        restored = client.alias_history("digits", "production")[1].alias.revision  # the one that set v1

    # Rollback, once confirmed: kept when the user thinks again.
    rollback = page.locator("button[data-rollback='production']")
    assert rollback.inner_text() == "Roll back production to version 1"
    rollback.click()
    dialog = page.get_by_role("alertdialog", name="confirm rollback")
    assert "production moves from version 2 back to version 1" in dialog.inner_text(), dialog.inner_text()
    shot(page, "37-alias-rollback-confirmation")
    dialog.get_by_role("button", name="Keep version 2").click()
    dialog.wait_for(state="detached")
    rollback.click()
    page.click("button.confirm-rollback")
    page.locator("tr[data-alias='production'] td.split", has_text="v1 100%").wait_for()
    rows = _history_rows(page, "production", 3)
    assert "v1 100%" in rows[0] and f"rollback to revision {restored}" in rows[0], rows
    page.locator("button[data-version='2']").wait_for()  # version 2 can be promoted again, not version 1
    assert page.locator("button[data-version='1']").count() == 0
    # The registry has it: over gRPC through the SDK, and over the REST twin.
    with MaasClient(stack.address("gateway"), key) as client:
        alias = client.get_alias("digits", "production")
        assert alias.version == 1 and alias.reason.startswith(f"rollback to revision {restored}"), alias
        assert [r.alias.version for r in client.alias_history("digits", "production")] == [1, 2, 1]
    answer = page.request.get("/v1/models/digits/aliases/production", headers={"authorization": f"Bearer {key}"})
    assert answer.ok and answer.json()["version"] == "1", answer.text()
    # The next rollback undoes this one.
    assert rollback.inner_text() == "Roll back production to version 2"
    shot(page, "37-alias-rolled-back")

    # Another alias chosen on the promotion form: its own confirmation and its own history.
    page.select_option("#promote-alias", "staging")
    page.click("button[data-version='2']")
    assert "staging will point at version 2" in confirm.inner_text()
    page.click(".confirm-promote")
    assert "v2 100%" in _history_rows(page, "staging", 1)[0]
    page.locator("button[data-version='2']").wait_for(state="detached")  # in staging now
    with MaasClient(stack.address("gateway"), key) as client:
        assert client.get_alias("digits", "staging").version == 2
        assert client.get_alias("digits", "production").version == 1
    _no_serious_violations(page, "model aliases")
    context.close()

    # A viewer sees the aliases and their history, and no button that moves one.
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        invitation = admin.create_invitation("browser-rollback", "viewer").token
    viewer = browser.new_context(base_url=stack.http_url)
    try:
        tab = viewer.new_page()
        tab.set_default_timeout(30_000)
        register_in_console(tab, "rolls@example.com", invitation)
        tab.goto("/#/models/digits")
        tab.locator("button[data-rollback='production']").wait_for()
        tab.locator("button[data-version='2']").wait_for()  # version 1 is in production
        notice = tab.inner_text("#read-only")
        assert "viewer: this role can read but not promote, roll back, archive or delete" in notice, notice
        assert tab.locator("button[data-rollback='production']").is_disabled()
        assert tab.locator("button[data-version]").count() >= 1
        assert all(b.is_disabled() for b in tab.locator("button[data-version]").all())
        # A version can be read (downloaded) but not archived or deleted; each disabled button says why.
        assert all(b.is_enabled() for b in tab.locator("button[data-download]").all())
        for change in ("archive", "delete"):
            buttons = tab.locator(f"button[data-{change}]").all()
            assert buttons and all(b.is_disabled() for b in buttons), change
            assert all("Signed in as viewer" in (b.get_attribute("title") or "") for b in buttons), change
        # Every other form that writes: disabled, with the reason on the page.
        for route, button, cannot in (
            ("datasets", "main form button[type=submit]", "upload datasets"),
            ("models", "#upload-model button[type=submit]", "upload models"),
            ("predict", "main form button[type=submit]", "predict"),
            ("train", "main form button[type=submit]", "train"),
        ):
            tab.goto(f"/#/{route}")
            tab.locator("#read-only", has_text=f"this role can read but not {cannot}").wait_for()
            assert tab.locator(button).first.is_disabled(), route
    finally:
        viewer.close()


def test_the_new_pages_narrow_and_dark(browser, stack, journey):
    """The pages this module covers at 390x844 in dark mode (the wide light ones are above): a
    screenshot that is not blank and no serious or critical axe-core violation."""
    violations = []
    for key, route, ready in (
        (stack.admin_key, "/#/admin", "#tenants table"),
        (journey.api_key, "/#/models/digits", "button[data-download]"),
        (journey.api_key, "/docs", "#doc-info"),
    ):
        context = signed_in_context(browser, stack, key, (390, 844), "dark")
        if key == stack.admin_key:
            context.add_init_script("sessionStorage.setItem('maas.admin', '1')")
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        tab.goto(route)
        tab.locator(ready).first.wait_for()
        where = route.strip("/#").replace("/", "-")
        shot(tab, f"36-{where}-390x844-dark")
        violations += [f"{where}: {v}" for v in axe_violations(tab)]
        context.close()
    context = signed_in_context(browser, stack, journey.api_key, (390, 844), "dark")
    tab = context.new_page()
    tab.goto("/#/predict")
    tab.select_option("#predict-model", "digits")
    tab.locator("#integrate pre").first.wait_for()
    shot(tab, "36-predict-snippets-390x844-dark")
    violations += [f"predict: {v}" for v in axe_violations(tab)]
    context.close()
    assert not violations, "\n".join(violations)
