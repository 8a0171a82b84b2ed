"""The demo's journey over REST alone, as `curl` would walk it: admin creates a tenant and key,
the tenant uploads the digits, trains, watches the job as server-sent events, promotes the
version and predicts through the KServe v2 REST path, then reads its usage."""

import base64
import hashlib
import json

import httpx
import numpy as np
import pytest

from maas.demo import digits_csv

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CHUNK = 256 * 1024


def _upload_body(dataset_id: str, data: bytes) -> bytes:
    """CreateDataset's client stream as newline-delimited JSON: the header, then base64 chunks."""
    header = {"datasetId": dataset_id, "format": "DATASET_FORMAT_CSV", "sha256": hashlib.sha256(data).hexdigest()}
    lines = [json.dumps({"header": header})]
    for offset in range(0, len(data), CHUNK):
        lines.append(json.dumps({"chunk": base64.b64encode(data[offset : offset + CHUNK]).decode()}))
    return "\n".join(lines).encode()


def test_the_journey_over_rest(stack):
    admin = {"authorization": f"Bearer {stack.admin_key}"}
    with httpx.Client(base_url=stack.http_url, timeout=60) as http:
        assert http.post("/v1/tenants", params={"tenant_id": "rest"}, json={}, headers=admin).status_code == 200
        created = http.post("/v1/tenants/rest/apiKeys", json={"displayName": "curl"}, headers=admin)
        assert created.status_code == 200, created.text
        tenant = {"authorization": f"Bearer {created.json()['secret']}"}

        csv_bytes, test_x, test_y = digits_csv(seed=3)
        dataset = http.post("/v1/datasets", content=_upload_body("digits", csv_bytes), headers=tenant)
        assert dataset.status_code == 200, dataset.text
        assert dataset.json()["rowCount"] == str(csv_bytes.count(b"\n") - 1)

        spec = {
            "dataset": {"dataset": dataset.json()["name"], "labelColumn": "label"},
            "template": {"name": "mlp", "parameters": {"hidden_units": [64]}},
            "hyperparameters": {"epochs": 10, "batchSize": 32, "learningRate": 0.003},
            "targetModel": "models/digits",
        }
        job = http.post("/v1/trainingJobs", json={"spec": spec}, headers=tenant)
        assert job.status_code == 200, job.text
        name = job.json()["name"]

        epochs, states = [], []
        with http.stream(
            "GET", f"/v1/{name}:watch", headers={**tenant, "accept": "text/event-stream"}, timeout=900
        ) as events:
            assert events.status_code == 200
            for line in events.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line.removeprefix("data: "))["result"]
                if "epochEnd" in event:
                    epochs.append(event["epochEnd"]["epoch"])
                if "stateChange" in event:
                    states.append(event["stateChange"]["state"])
        assert states[-1] == "STATE_SUCCEEDED", states
        assert epochs == sorted(epochs) and epochs[-1] == 10

        finished = http.get(f"/v1/{name}", headers=tenant).json()
        version = finished["modelVersion"]
        number = int(version.rsplit("/", 1)[1])
        alias = http.put("/v1/models/digits/aliases/production", json={"version": str(number)}, headers=tenant)
        assert alias.status_code == 200, alias.text

        metadata = http.get("/v2/models/digits", headers=tenant).json()
        assert metadata["inputs"][0]["name"] == "features"
        request = {
            "inputs": [{"name": "features", "datatype": "FP32", "shape": list(test_x.shape), "data": test_x.tolist()}]
        }
        inferred = http.post("/v2/models/digits/infer", json=request, headers=tenant)
        assert inferred.status_code == 200, inferred.text
        output = next(o for o in inferred.json()["outputs"] if o["name"] == "probabilities")
        probabilities = np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])
        assert float(np.mean(probabilities.argmax(axis=1) == test_y)) >= 0.85

        wrong = http.post("/v2/models/digits/infer", json={"inputs": [{"name": "features"}]}, headers=tenant)
        assert wrong.status_code == 400 and "datatype" in wrong.json()["error"]

        usage = http.get("/v1/tenants/rest/usage", headers=tenant)
        assert usage.status_code == 200, usage.text
        assert int(usage.json()["predictions"]) >= 1
