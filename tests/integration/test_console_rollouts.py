"""A model's page in the console (Debian's chromium driven by Playwright) against a real gateway
and registry: each alias's split, shadow and running rollout, its history with the reason of a
rollback, and per-version drift scores (a screenshot goes to test-artifacts/console/). Versions,
aliases and a drift report are written straight at the registry, as the trainer and inference
would; nothing here needs TensorFlow."""

import grpc
import numpy as np
import pytest

from maas.client import MaasClient
from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.common.drift import reference_statistics
from tests import system
from tests.conftest import tenant_md
from tests.e2e.test_console import shot
from tests.integration.gateway_stack import gateway_stack
from tests.integration.test_gateway_rest import http_port
from tests.integration.test_registry_service import upload_artifact

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
ROLLBACK = "rolled back: error rate 0.50 > 0.01 on 120 requests"


def versions(registry, reference: pb.ReferenceStatistics) -> None:
    artifact = upload_artifact(registry, "acme", b"weights")
    for number in range(1, 5):
        version = pb.ModelVersion(artifact=artifact.name, reference_statistics=reference if number == 1 else None)
        request = pb.CreateModelVersionRequest(parent="models/tiny", model_version=version)
        assert registry.CreateModelVersion(request, metadata=MD).version == number


def drift_report(reference: pb.ReferenceStatistics) -> pb.DriftReport:
    """What inference would report: feature 1 far from training, the rest calm; class 2 grown."""
    report = pb.DriftReport(row_count=500, prediction_shares=[0.1, 0.2, 0.7], prediction_psi=0.62)
    for i, feature in enumerate(reference.features):
        report.features.add(name=feature.name, psi=1.9 if i == 1 else 0.02, ks=0.55 if i == 1 else 0.03)
    report.time.GetCurrentTime()
    return report


def aliases(client: MaasClient, registry) -> None:
    """production split 90/10 with a shadow; staging in the first step of a rollout; canary's
    rollout rolled back, written as the rollout controller writes it."""
    client.set_alias("tiny", "production", 1)
    client.set_alias("tiny", "production", weights={1: 90, 2: 10}, shadow=(3, 5), reason="canary v2")
    # A rollout that nothing advances (no inference here): it stays in its first step.
    client.set_alias("tiny", "staging", 1)
    steps = [(10, 100, 60), (50, 100, 60), (100, 100, 60)]
    client.start_rollout("tiny", "staging", 4, steps, max_error_rate=0.01, max_p99_seconds=0.25, mirror_percent=10)
    # One the controller rolled back, written as inference writes it.
    client.set_alias("tiny", "canary", 1)
    started = client.start_rollout("tiny", "canary", 2, steps[:1], max_error_rate=0.01)
    rollout = pb.Rollout()
    rollout.CopyFrom(started.rollout)
    rollout.state = pb.Rollout.State.STATE_ROLLED_BACK
    registry.SetAlias(
        pb.SetAliasRequest(
            alias=pb.Alias(name=started.name, reason=ROLLBACK, rollout=rollout), expected_revision=started.revision
        ),
        metadata=MD,
    )


def test_splits_history_rollouts_and_drift_on_the_model_page(data_dir):
    from playwright.sync_api import sync_playwright

    features = np.random.default_rng(0).normal(size=(300, 4))
    scores = np.eye(3)[[0] * 100 + [1] * 100 + [2] * 100]
    reference = reference_statistics(features, scores=scores, output_name="probabilities")
    with gateway_stack(data_dir) as stack, grpc.insecure_channel(stack.registry.address) as channel:
        key = stack.tenant("acme")
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        versions(registry, reference)
        registry.ReportModelVersionDrift(
            pb.ReportModelVersionDriftRequest(name="models/tiny/versions/1", drift=drift_report(reference)), metadata=MD
        )
        with MaasClient(stack.gateway.address, key) as client:
            aliases(client, registry)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=system.require("chromium"), headless=True, args=["--no-sandbox"]
            )
            page = browser.new_page(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}")
            page.set_default_timeout(30_000)
            page.goto("/")
            page.fill("#key", key)
            page.click("button[type=submit]")
            page.goto("/#/models/tiny")
            production = page.locator(".aliases tr[data-alias='production']")
            production.wait_for()
            assert production.locator(".split").inner_text() == "v1 90% · v2 10%"
            assert "v3, 5% mirrored" in production.inner_text() and "canary v2" in production.inner_text()
            staging = page.locator(".aliases tr[data-alias='staging'] .rollout").inner_text()
            assert staging.startswith("step 1 of 3: v4 answers 10% (judged after 100 requests and 60 s, 10% mirrored")
            assert "errors ≤ 1%, p99 ≤ 250 ms" in staging and staging.endswith("from v1")
            canary = page.locator(".aliases tr[data-alias='canary'] .rollout").inner_text()
            assert canary == "v2 rolled back to v1"
            history = page.locator(".history[data-alias='canary']")
            history.locator("td .bad", has_text=ROLLBACK).wait_for()
            assert history.locator("tbody tr").count() == 3  # set, rollout started, rolled back
            page.locator(".history[data-alias='production'] td", has_text="canary v2").wait_for()
            drift = page.locator(".drift tr[data-version='1']")
            assert "1.900" in drift.locator(".psi").inner_text() and "features[1]" in drift.locator(".psi").inner_text()
            assert drift.locator(".psi .bad").count() == 1
            assert "0.550" in drift.locator(".ks").inner_text()
            assert "class 2: 70% (trained 33.3%)" in drift.locator(".classes").inner_text()
            assert page.locator(".drift tbody tr").count() == 1  # the other versions have no report
            shot(page, "14-model-rollouts-drift")
            browser.close()
