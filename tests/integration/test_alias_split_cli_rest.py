"""Traffic splits and alias history through the gateway: the CLI (`maas alias set|history|rollback`)
and the REST twin, against a real gateway and registry."""

import json

import grpc
import httpx

from maas.cli import main
from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from tests.conftest import tenant_md
from tests.integration.gateway_stack import gateway_stack
from tests.integration.test_gateway_rest import auth, http_port, tenant_key
from tests.integration.test_registry_service import upload_artifact


def test_splits_history_and_rollback_from_the_cli_and_rest(data_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    with (
        gateway_stack(data_dir) as stack,
        httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}", timeout=30) as http,
    ):
        key = tenant_key(http, "acme")
        # Versions are registered straight at the registry (what the trainer would do).
        with grpc.insecure_channel(stack.registry.address) as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            artifact = upload_artifact(registry, "acme", b"weights")
            for _ in range(4):
                registry.CreateModelVersion(
                    pb.CreateModelVersionRequest(
                        parent="models/digits", model_version=pb.ModelVersion(artifact=artifact.name)
                    ),
                    metadata=tenant_md("acme"),
                )
        connection = ["--endpoint", stack.gateway.address, "--api-key", key]
        assert main(["alias", "set", "digits", "production", "3", *connection]) == 0
        assert "models/digits/aliases/production -> version 3" in capsys.readouterr().out
        argv = ["alias", "set", "digits", "production", "3=90", "4=10", "--shadow", "2:5", "--reason", "canary v4"]
        assert main([*argv, *connection]) == 0
        assert "-> version 3=90 4=10, shadow 2 (5%)" in capsys.readouterr().out
        assert main(["alias", "set", "digits", "production", "3=90", "4", *connection]) == 2
        assert "needs a weight for every version" in capsys.readouterr().err
        # REST: the same contract, generated from its annotations.
        reply = http.put(
            "/v1/models/digits/aliases/production",
            json={"targets": [{"version": 4, "weight": 100}], "reason": "promote v4"},
            headers=auth(key),
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["version"] == "4"
        history = http.get("/v1/models/digits/aliases/production:listRevisions", headers=auth(key)).json()
        reasons = [r["alias"].get("reason", "") for r in history["revisions"]]
        assert reasons == ["promote v4", "canary v4", ""]
        canary = history["revisions"][1]["alias"]["revision"]
        assert main(["alias", "history", "digits", "production", "-o", "json", *connection]) == 0
        assert [r["alias"]["revision"] for r in json.loads(capsys.readouterr().out)] == [
            r["alias"]["revision"] for r in history["revisions"]
        ]
        assert main(["alias", "rollback", "digits", "production", str(canary), "--reason", "v4 slow", *connection]) == 0
        out = capsys.readouterr().out
        assert "3=90 4=10, shadow 2 (5%)" in out and f"rollback to revision {canary}: v4 slow" in out
        reply = http.post(
            "/v1/models/digits/aliases/production:rollback",
            json={"revision": history["revisions"][0]["alias"]["revision"]},
            headers=auth(key),
        )
        assert reply.status_code == 200 and reply.json()["version"] == "4"
        # Another tenant cannot read the history.
        other = tenant_key(http, "globex")
        assert http.get("/v1/models/digits/aliases/production:listRevisions", headers=auth(other)).status_code == 404
