"""`maas predict --routing-key` through the whole platform: against an alias that splits its
traffic, the same key always gets the same version and different keys reach both; and the drift
scores inference measures on what it served are the version's `drift`, read back over REST.
Real gateway, registry and inference servers."""

import json
import time

import grpc
import httpx
import numpy as np
import pytest

from maas.cli import main
from maas.client import MaasClient
from maas.registry.v1 import registry_pb2_grpc
from services.common.drift import reference_statistics
from tests.integration.gateway_stack import gateway_stack
from tests.integration.test_gateway_rest import auth, http_port
from tests.integration.test_inference_service import FEATURES, register, tiny_model

pytestmark = pytest.mark.slow
TRAINING = np.random.default_rng(0).normal(size=(2000, FEATURES)).astype(np.float32)


def test_a_routing_key_lands_on_one_version_and_drift_is_read_back(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MAAS_DRIFT_SAMPLE_PERCENT", "100")
    monkeypatch.setenv("MAAS_DRIFT_INTERVAL_SECONDS", "0.2")
    with (
        gateway_stack(data_dir, inference=True) as stack,
        httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}", timeout=30) as http,
    ):
        key = stack.tenant("acme", plan=stack.plan("unlimited"))
        model = tiny_model(1)
        reference = reference_statistics(
            TRAINING, scores=model.predict(TRAINING, verbose=0), output_name="probabilities"
        )
        with grpc.insecure_channel(stack.registry.address) as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            assert register(registry, model, tmp_path / "v1", reference).version == 1
            assert register(registry, tiny_model(2), tmp_path / "v2").version == 2
        with MaasClient(stack.gateway.address, key) as client:
            client.set_alias("tiny", "production", weights={1: 50, 2: 50})
        rows = tmp_path / "rows.json"
        rows.write_text(json.dumps(np.random.default_rng(1).normal(size=(120, FEATURES)).tolist()))
        connection = ["--endpoint", stack.gateway.address, "--api-key", key]

        def version(*extra: str) -> int:
            assert main(["predict", "tiny", str(rows), "-o", "json", *extra, *connection]) == 0
            return json.loads(capsys.readouterr().out)["version"]

        by_key = {f"user-{i}": {version("--routing-key", f"user-{i}") for _ in range(4)} for i in range(12)}
        assert all(len(versions) == 1 for versions in by_key.values()), by_key
        # Twelve keys on a 50/50 split: all on one side would be a 1 in 2,048 chance, and the hash is fixed.
        assert set().union(*by_key.values()) == {1, 2}, by_key
        assert main(["predict", "tiny", str(rows), "--routing-key", "user-0", *connection]) == 0
        assert capsys.readouterr().out.startswith(f"version {next(iter(by_key['user-0']))}\n")
        # The version with reference statistics has served at least 120 rows: its drift report comes.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            reply = http.get("/v1/models/tiny/versions/1", headers=auth(key))
            assert reply.status_code == 200, reply.text
            if "drift" in reply.json():
                break
            time.sleep(0.2)
        drift = reply.json()["drift"]
        assert [f["name"] for f in drift["features"]] == [f"features[{i}]" for i in range(FEATURES)]
        assert all(0 <= f["ks"] < 0.3 and f["psi"] >= 0 for f in drift["features"]), drift
        assert len(drift["predictionShares"]) == 3 and int(drift["rowCount"]) >= 120
        # Version 2 has no reference statistics: nothing is measured, nothing reported.
        assert "drift" not in http.get("/v1/models/tiny/versions/2", headers=auth(key)).json()
