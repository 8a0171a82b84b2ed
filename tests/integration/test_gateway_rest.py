"""The gateway's REST twin against a real registry and trainer: transcoding, errors, streams."""

import base64
import hashlib
import json
import re

import httpx
import pytest
from openapi_spec_validator import validate

from maas.client import MaasClient
from maas.registry.v1 import registry_pb2
from tests.integration.gateway_stack import ADMIN_KEY, gateway_stack

CSV = b"x1,x2,label\n1,2,0\n3,4,1\n5,6,0\n"


@pytest.fixture
def gateway(data_dir):
    with gateway_stack(data_dir) as stack:
        yield stack.gateway


@pytest.fixture
def http(gateway):
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port(gateway)}", timeout=30) as client:
        yield client


def http_port(gateway) -> int:
    return gateway.server.bound_ports["http_port"]


def auth(key: str) -> dict:
    return {"authorization": f"Bearer {key}"}


def tenant_key(http: httpx.Client, tenant: str, scopes=("read", "train", "predict")) -> str:
    admin = auth(ADMIN_KEY)
    assert http.post("/v1/tenants", json={}, params={"tenant_id": tenant}, headers=admin).status_code == 200
    reply = http.post(
        f"/v1/tenants/{tenant}/apiKeys", json={"scopes": [f"SCOPE_{s.upper()}" for s in scopes]}, headers=admin
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["secret"]


def upload_lines(dataset_id: str, data: bytes, chunk: int = 16) -> bytes:
    header = {
        "header": {"datasetId": dataset_id, "format": "DATASET_FORMAT_CSV", "sha256": hashlib.sha256(data).hexdigest()}
    }
    lines = [json.dumps(header)]
    lines += [json.dumps({"chunk": base64.b64encode(data[i : i + chunk]).decode()}) for i in range(0, len(data), chunk)]
    return ("\n".join(lines) + "\n").encode()


def test_crud_over_rest_matches_grpc(gateway, http):
    key = tenant_key(http, "acme")
    created = http.post("/v1/models", json={"description": "first"}, params={"model_id": "m1"}, headers=auth(key))
    # `model_id` is outside the body field `model`, so it comes from the query string.
    assert created.status_code == 200, created.text
    assert created.json()["name"] == "models/m1"
    got = http.get("/v1/models/m1", headers=auth(key)).json()
    assert got["description"] == "first"
    patched = http.patch(
        "/v1/models/m1", json={"description": "second"}, params={"update_mask": "description"}, headers=auth(key)
    )
    assert patched.status_code == 200, patched.text
    with MaasClient(gateway.address, key) as client:
        model = client.registry.GetModel(registry_pb2.GetModelRequest(name="models/m1"), **client.call_options())
    assert model.description == "second"
    listed = http.get("/v1/models", params={"page_size": "1"}, headers=auth(key)).json()
    assert [m["name"] for m in listed["models"]] == ["models/m1"]
    # `-` names the key's own tenant; the admin key has none.
    usage = http.get("/v1/tenants/-/usage", headers=auth(key)).json()
    assert usage["name"] == "tenants/acme/usage" and int(usage["requests"]) >= 4
    assert http.get("/v1/tenants/-/usage", headers=auth(ADMIN_KEY)).status_code == 400


def test_errors_carry_http_status_and_google_rpc_status(http):
    assert http.get("/v1/models").status_code == 401
    assert http.get("/v1/models", headers=auth("maas_wrong")).json()["error"]["code"] == 16
    reader = tenant_key(http, "readers", scopes=("read",))
    denied = http.post("/v1/models", json={}, params={"model_id": "x"}, headers=auth(reader))
    assert denied.status_code == 403 and "train" in denied.json()["error"]["message"]
    key = tenant_key(http, "acme")
    missing = http.get("/v1/models/nope", headers=auth(key))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 5
    bad_query = http.get("/v1/models", params={"page_size": "many"}, headers=auth(key))
    assert bad_query.status_code == 400 and "page_size" in bad_query.json()["error"]["message"]
    bad_json = http.post("/v1/models", content=b"{nope", params={"model_id": "x"}, headers=auth(key))
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]["message"]
    unknown_field = http.post("/v1/models", json={"colour": "red"}, params={"model_id": "x"}, headers=auth(key))
    assert unknown_field.status_code == 400 and "colour" in unknown_field.json()["error"]["message"]
    assert http.get("/v1/no/such/path", headers=auth(key)).status_code == 404
    assert http.get("/v1/models", headers=auth(key)).json() == {"models": [], "nextPageToken": ""}


def test_streaming_upload_and_download(http):
    key = tenant_key(http, "acme")
    reply = http.post("/v1/datasets", content=upload_lines("tiny", CSV), headers=auth(key))
    assert reply.status_code == 200, reply.text
    dataset = reply.json()
    assert dataset["rowCount"] == "3" and dataset["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert http.get(f"/v1/{dataset['name']}", headers=auth(key)).json()["name"] == dataset["name"]


def test_a_bad_line_cancels_the_upload_and_creates_nothing(http):
    key = tenant_key(http, "acme")
    body = upload_lines("broken", CSV).replace(b"\n", b"\n{not json\n", 2)
    reply = http.post("/v1/datasets", content=body, headers=auth(key))
    assert reply.status_code == 400 and "line" in reply.json()["error"]["message"]
    assert http.get("/v1/datasets", headers=auth(key)).json()["datasets"] == []


def test_server_streams_as_json_lines_and_server_sent_events(http):
    key = tenant_key(http, "acme")
    dataset = http.post("/v1/datasets", content=upload_lines("tiny", CSV), headers=auth(key)).json()
    job = {
        "spec": {
            "dataset": {"dataset": dataset["name"], "labelColumn": "label"},
            "template": {"name": "logistic"},
            "hyperparameters": {"epochs": 1},
            "targetModel": "models/tiny",
        }
    }
    created = http.post("/v1/trainingJobs", json=job, headers=auth(key))
    assert created.status_code == 200, created.text
    name = created.json()["name"]
    cancelled = http.post(f"/v1/{name}:cancel", json={}, headers=auth(key))
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "STATE_CANCELLED"
    with http.stream("GET", f"/v1/{name}:watch", headers=auth(key)) as stream:
        assert stream.headers["content-type"] == "application/x-ndjson"
        events = [json.loads(line) for line in stream.iter_lines() if line]
    assert events and all("result" in e for e in events)
    assert events[-1]["result"]["stateChange"]["state"] == "STATE_CANCELLED"
    with http.stream("GET", f"/v1/{name}:watch", headers={**auth(key), "accept": "text/event-stream"}) as stream:
        assert stream.headers["content-type"] == "text/event-stream"
        data = [line.removeprefix("data: ") for line in stream.iter_lines() if line.startswith("data: ")]
    assert [json.loads(d) for d in data] == events
    # A refused stream gets its HTTP status before any line.
    assert http.get(f"/v1/{name}:watch").status_code == 401
    # A stream that fails after it was authorised ends with an error line.
    with http.stream("GET", "/v1/trainingJobs/nope:watch", headers=auth(key)) as stream:
        lines = [json.loads(line) for line in stream.iter_lines() if line]
    assert lines == [{"error": {"code": 5, "message": lines[0]["error"]["message"]}}]


def test_the_api_reference_page_and_the_endpoints_for_code_snippets(data_dir):
    with gateway_stack(data_dir, public_grpc_address="api.example.com:443") as stack:
        origin = f"http://127.0.0.1:{http_port(stack.gateway)}"
        page = httpx.get(f"{origin}/docs", timeout=30)
        assert page.status_code == 200 and "/console/docs.js" in page.text
        assert '<script src="http' not in page.text  # nothing from elsewhere
        where = httpx.get(f"{origin}/console/endpoints.json", timeout=30).json()
    assert where == {"http": origin, "grpc": "api.example.com:443"}


def test_snippet_endpoints_default_to_the_gateways_own_grpc_port(gateway, http):
    where = http.get("/console/endpoints.json").json()
    assert where["grpc"] == f"127.0.0.1:{gateway.server.loopback_target.rsplit(':', 1)[-1]}"


def test_openapi_document_is_valid_and_covers_every_annotated_rpc(http):
    document = http.get("/openapi.json").json()
    validate(document)
    operations = {
        op["operationId"] for path in document["paths"].values() for op in path.values() if "operationId" in op
    }
    assert {"RegistryService_CreateDataset", "TrainerService_WatchTrainingJob", "AdminService_GetUsage"} <= operations
    assert "/v2/models/{model}/infer" in document["paths"]
    assert document["paths"]["/v1/sessions"]["post"]["security"] == []  # sign-in needs no key


def _follow(link: dict, answer: dict) -> dict[str, str]:
    """The path parameters a link fills from an answer (`$response.body#/ptr#regex:...`)."""
    filled = {}
    for name, expression in link["parameters"].items():
        pointer, _, pattern = expression.removeprefix("$response.body#").partition("#regex:")
        value = answer
        for part in pointer.strip("/").split("/"):
            value = value[part]
        found = re.search(pattern, value)
        assert found, (expression, value)
        filled[name.removeprefix("path.")] = found.group(1)
    return filled


def test_openapi_links_lead_from_a_created_resource_to_the_operations_on_it(http):
    document = http.get("/openapi.json").json()
    key = tenant_key(http, "linked")
    created = http.post("/v1/models", json={}, params={"model_id": "m1"}, headers=auth(key))
    assert created.status_code == 200, created.text
    links = document["paths"]["/v1/models"]["post"]["responses"]["200"]["links"]
    assert {"RegistryService_GetModel", "RegistryService_DeleteModel", "post_v2_models_model_infer"} <= set(links)
    assert _follow(links["RegistryService_GetModel"], created.json()) == {"model": "m1"}
    assert http.get("/v1/models/m1", headers=auth(key)).status_code == 200
    version_links = document["paths"]["/v1/models/{model}/versions"]["post"]["responses"]["200"]["links"]
    answer = {"name": "models/m1/versions/3"}
    assert _follow(version_links["RegistryService_GetModelVersion"], answer) == {"model": "m1", "version": "3"}
    key_links = document["paths"]["/v1/tenants/{tenant}/apiKeys"]["post"]["responses"]["200"]["links"]
    answer = {"apiKey": {"name": "tenants/t/apiKeys/k1"}}
    assert _follow(key_links["AdminService_RevokeApiKey"], answer) == {"tenant": "t", "apiKey": "k1"}
    # Streams need not end, so no link leads to one.
    job_links = document["paths"]["/v1/trainingJobs"]["post"]["responses"]["200"]["links"]
    assert "TrainerService_WatchTrainingJob" not in job_links
