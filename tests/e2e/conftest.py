"""The end-to-end tier: one stack for the session, as `maas up` runs it, on free ports."""

import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from maas.client import MaasClient
from maas.demo import run_demo
from maas.registry.v1 import registry_pb2 as rpb
from maas.stack import SERVICES, LocalStack, wait_serving
from tests import system


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    extra_env = {
        "MAAS_ADMIN_KEY": "maas_admin_e2e",
        # Drift scored every second on every request's rows, so that a test sees it move.
        "MAAS_DRIFT_SAMPLE_PERCENT": "100",
        "MAAS_DRIFT_INTERVAL_SECONDS": "1",
        # Keys' last use written every half second, so that the Keys page shows a call's soon.
        "MAAS_KEY_USE_FLUSH_SECONDS": "0.5",
    }
    stack = LocalStack.on_free_ports(tmp_path_factory.mktemp("stack"), extra_env=extra_env)
    stack.start(timeout=120)
    yield stack
    codes = stack.stop()
    # Every service drained and exited on SIGTERM by itself.
    assert codes == dict.fromkeys(SERVICES, 0), codes


@pytest.fixture(scope="session")
def journey(stack):
    return run_demo(stack.address("gateway"), stack.admin_key, epochs=15, tenant="e2e")


def tenant_with_digits(stack, journey, tenant: str, plan_id: str, production: bool = True, **limits) -> str:
    """A new tenant on a plan of its own (`limits` as `MaasClient.create_plan` takes them), with a
    copy of the journey's model as `digits` version 1, serving it as `production` unless told not
    to; returns its API key."""
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        plan = admin.create_plan(plan_id, **limits)
        admin.create_tenant(tenant, plan=plan.name)
        key = admin.create_api_key(tenant).secret
    with MaasClient(stack.address("gateway"), journey.api_key) as owner:
        version = owner.get_model_version(journey.model_version)
        blob = b"".join(
            c.chunk
            for c in owner.registry.DownloadArtifact(
                rpb.DownloadArtifactRequest(name=version.artifact), **owner.call_options()
            )
        )
    with MaasClient(stack.address("gateway"), key) as client:

        def upload():
            yield rpb.UploadArtifactRequest(header=rpb.UploadArtifactRequest.Header(size_bytes=len(blob)))
            yield rpb.UploadArtifactRequest(chunk=blob)

        artifact = client.registry.UploadArtifact(upload(), **client.call_options())
        copy = rpb.ModelVersion(artifact=artifact.name, signature=version.signature)
        created = client.registry.CreateModelVersion(
            rpb.CreateModelVersionRequest(parent="models/digits", model_version=copy), **client.call_options()
        )
        if production:
            client.set_alias("digits", "production", created.version)
    return key


@contextmanager
def gateway_down(stack, how: signal.Signals = signal.SIGKILL):
    """Stop the stack's gateway (SIGKILL: a crash; SIGTERM: a drain) for the block, then start it
    again as `maas up` runs it and wait until it serves; yields the moment it went down."""
    gateway = stack.processes["gateway"]
    gateway.send_signal(how)
    gateway.wait(30)
    down = time.monotonic()
    try:
        yield down
    finally:
        log = (stack.log_dir / "gateway.log").open("ab")
        stack.processes["gateway"] = subprocess.Popen(
            [sys.executable, "-m", "services.gateway"],
            env=stack._environment("gateway"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        assert wait_serving(stack.service_address("gateway"), 60), stack.log_tail("gateway")


# The console's browser tests: Debian's chromium driven by Playwright.
def _chromium() -> str:
    return system.require("chromium")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(base_url=stack.http_url, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def failed_data_job(client: MaasClient, **hyperparameters):
    """A job that fails on its data (a cell left empty: the trainer refuses it once the job runs),
    watched to its end; returns the job as it ended."""
    client.upload_dataset("holes", b"a,b,label\n" + b"".join(b"%d,,%d\n" % (i, i % 2) for i in range(20)))
    job = client.create_training_job_from_spec(
        {
            "dataset": {"dataset": "datasets/holes/versions/1", "label_column": "label"},
            "template": {"name": "mlp"},
            "hyperparameters": {"epochs": 1, **hyperparameters},
            "target_model": "models/holes",
        }
    )
    for _ in client.watch_training_job(job.name, timeout=300):
        pass
    return client.get_training_job(job.name)
