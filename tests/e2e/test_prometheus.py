"""A real Prometheus server scrapes all four services on loopback, answers queries about them and
evaluates the project's rules (k8s/components/monitoring/prometheus-rules.yaml)."""

import json
import subprocess
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
import yaml

from maas.client import MaasClient
from maas.demo import digits_csv
from maas.stack import SERVICES
from tests import system
from tests.conftest import PROMETHEUS_LISTENING, logged_port, wait_http
from tests.k8s.test_monitoring import RULES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory):
    binary = system.require("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    rules = yaml.safe_load(RULES.read_text())["spec"]
    # The rules' real hold times (a minute and more) are promtool's to test (tests/k8s/test_monitoring.py);
    # here a few seconds show that Prometheus evaluates them against the live services.
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("for") not in (None, "0m"):
                rule["for"] = "5s"
    (workdir / "rules.yml").write_text(yaml.safe_dump(rules))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(workdir / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": f"maas-{service}",
                "static_configs": [
                    {"targets": [stack.metrics_url(service).split("/")[2]], "labels": {"maas_io_service": service}}
                ],
            }
            for service in SERVICES
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            "--web.listen-address=127.0.0.1:0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{logged_port(workdir / 'prometheus.log', PROMETHEUS_LISTENING, process, 30)}"
    wait_http(f"{url}/-/ready", 30)
    yield url
    process.terminate()
    process.wait(15)
    log.close()


def query(url: str, expr: str) -> dict[str, float]:
    body = urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=5).read()
    result = json.loads(body)["data"]["result"]
    return {r["metric"].get("maas_io_service", ""): float(r["value"][1]) for r in result}


def test_prometheus_reads_grpc_and_domain_metrics_of_every_service(stack, journey, prometheus):
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        for _ in range(5):
            client.predict("digits", np.zeros((2, 64)))
    deadline = time.monotonic() + 30
    handled, batches = {}, {}
    while time.monotonic() < deadline:
        handled = query(prometheus, "sum by (maas_io_service) (grpc_server_handled_total)")
        batches = query(prometheus, "sum by (maas_io_service) (maas_inference_batch_size_count)")
        up = query(prometheus, "up")
        if (
            all(handled.get(s, 0) > 0 for s in SERVICES)
            and batches.get("inference", 0) > 0
            and all(up.get(s) == 1 for s in SERVICES)
        ):
            break
        time.sleep(1)
    assert {s: handled.get(s, 0) > 0 for s in SERVICES} == dict.fromkeys(SERVICES, True), handled
    assert batches.get("inference", 0) > 0, batches
    jobs = query(prometheus, 'maas_training_jobs{state="succeeded"}')
    assert jobs.get("trainer", 0) >= 1


def test_shifted_inputs_fire_the_drift_alert(stack, journey, prometheus):
    """The journey's model keeps its training data's bins and predicted classes; inputs far from
    them raise its PSI above the alert's threshold, and Prometheus, with the project's rules, fires
    MaasFeatureDrift; KS and the predicted classes' shares are scraped and kept as its drift too."""
    _, test_x, _ = digits_csv()
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        version = client.get_model_version(journey.model_version)
        assert len(version.reference_statistics.features) == 64
        shifted = np.tile(test_x[:100] * 0.5 + 6, (6, 1))
        for _ in range(10):  # 6,000 rows, the whole drift window, in few calls: the tenant's plan has a rate limit
            client.predict("digits", shifted)
    # The alert holds 5 s here after the score crosses; a loaded CI machine adds scrape and evaluation lag.
    deadline = time.monotonic() + 300
    firing: list = []
    while time.monotonic() < deadline and not firing:
        body = urllib.request.urlopen(f"{prometheus}/api/v1/alerts", timeout=5).read()
        firing = [
            a
            for a in json.loads(body)["data"]["alerts"]
            if a["labels"]["alertname"] == "MaasFeatureDrift" and a["state"] == "firing"
        ]
        time.sleep(2)
    score = query(prometheus, f'max(maas_inference_feature_drift_psi{{model="digits", version="{version.version}"}})')
    assert firing, f"MaasFeatureDrift did not fire; largest PSI {score}"
    assert firing[0]["labels"]["model"] == "digits" and firing[0]["labels"]["version"] == str(version.version)
    # Beside PSI: the KS statistic per feature, and the predicted classes against the trained
    # model's own on its training rows; the same scores are the version's drift in the registry.
    assert len(version.reference_statistics.prediction_shares) == 10
    where = f'model="digits", version="{version.version}"'
    ks = query(prometheus, f"max(maas_inference_feature_drift_ks{{{where}}})")
    assert ks and max(ks.values()) > 0.3, ks
    assert query(prometheus, f'count(maas_inference_prediction_class_share{{{where}, sample="served"}})'), "no shares"
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        drift = client.get_model_version(journey.model_version).drift
    assert max(f.psi for f in drift.features) > 0.25 and max(f.ks for f in drift.features) > 0.3, drift
    assert len(drift.prediction_shares) == 10 and drift.prediction_psi > 0, drift
