"""The PrometheusRule passes `promtool check rules`, and its alerts pass `promtool test rules`."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import system

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "k8s" / "components" / "monitoring" / "prometheus-rules.yaml"


def promtool() -> str:
    return system.require("promtool")


@pytest.fixture
def rules_file(tmp_path) -> Path:
    spec = yaml.safe_load(RULES.read_text())["spec"]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_rules_are_valid(rules_file):
    result = subprocess.run([promtool(), "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_unit_tests_pass(rules_file, tmp_path):
    tests = yaml.safe_load((ROOT / "tests" / "k8s" / "alerts_test.yml").read_text())
    tests["rule_files"] = [str(rules_file)]
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(yaml.safe_dump(tests))
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_dashboard_queries_only_metrics_the_services_export():
    dashboard = json.loads((ROOT / "k8s" / "components" / "monitoring" / "maas-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in (
        "grpc_server_handled_total",
        "maas_inference_request_seconds_bucket",
        "maas_training_jobs",
        "maas_inference_models_loaded",
        "maas_inference_inflight_requests",
        "maas:inference_shadow_disagreement:ratio_rate5m",
        "maas_inference_rollout_step",
        "maas_inference_feature_drift_psi",
        "maas_inference_feature_drift_ks",
        "maas_inference_prediction_drift_psi",
        "maas_inference_prediction_class_share",
    ):
        assert metric in exprs
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("request rate", "error", "latency", "batch", "models loaded", "jobs", "rollout", "shadow", "drift"):
        assert topic in titles
