"""What a hostile or careless HTTP client sends to the REST twin and the KServe v2 REST paths:
headers gRPC cannot carry, numbers past their field's range, JSON of the wrong shape or absurd depth.
Each answer is a 4xx with a message, never a 5xx; without a key nothing reads the body."""

import json

import httpx
import pytest

from tests.integration.gateway_stack import gateway_stack
from tests.integration.test_gateway_rest import http_port, tenant_key

DEEP = b"[" * 10000 + b"]" * 10000


@pytest.fixture(scope="module")
def http(tmp_path_factory):
    with (
        gateway_stack(tmp_path_factory.mktemp("hostile"), inference=True) as stack,
        httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}", timeout=30) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def key(http):
    return tenant_key(http, "hostile")


def _send(http, method, path, headers, body=None):
    if body is not None:
        headers = {**headers, "content-type": "application/json"}
    return http.request(method, path, headers=headers, content=body)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"x-request-id": "é".encode()}, 400),
        ({"authorization": "Bearer é".encode()}, 401),
        ({"x-api-key": "ключ".encode()}, 401),
    ],
)
@pytest.mark.parametrize("path", ["/v2/health/live", "/v1/models", "/v2/models/m/infer"])
def test_headers_grpc_cannot_carry_are_refused_on_every_path(http, key, headers, status, path):
    headers = {"authorization": f"Bearer {key}", **headers}
    response = _send(http, "POST" if path.endswith("infer") else "GET", path, headers, b"{}")
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_without_a_key_the_body_is_never_read(http):
    response = _send(http, "POST", "/v1/models", {}, b"{not json")
    assert response.status_code == 401
    assert "missing API key" in response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/models?pageSize=2147483648", None),
        ("GET", "/v1/models?page_size=-2147483649", None),
        ("POST", "/v1/trainingJobs/x:cancel", b"false"),
        ("POST", "/v1/models", b"[1, 2]"),
        ("POST", "/v1/models", DEEP),
        ("POST", "/v1/models", b'{"model": {"description": ' + DEEP + b"}}"),
        ("POST", "/v2/models/m/infer", json.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": {}}]}).encode()),
        ("POST", "/v2/models/m/infer", json.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": []}]}).encode()),
        ("POST", "/v2/models/m/infer", DEEP),
        ("POST", "/v2/models/m/infer", b"\xff\xfe"),
        ("POST", "/v2/repository/index", b"true"),
        # '³' is a digit to str.isdigit, not to int(): a version number of it is a bad name, not a 500.
        ("POST", "/v1/models/j/versions/%C2%B3:unarchive", b"{}"),
        ("GET", "/v1/models/j/versions/%C2%B3", None),
        ("GET", "/v2/models/j/versions/%C2%B3", None),
        ("POST", "/v1/sessions", DEEP),
        ("POST", "/v1/sessions", b'{"email": ["ada@example.com"], "password": "correct horse battery"}'),
        ("POST", "/v1/accounts:register", b"\xff\xfe"),
        ("POST", "/v1/accounts:register", b"[1, 2]"),
    ],
)
def test_malformed_bodies_and_parameters_are_client_errors(http, key, method, path, body):
    response = _send(http, method, path, {"authorization": f"Bearer {key}"}, body)
    assert 400 <= response.status_code < 500, f"{response.status_code} {response.text}"
    assert response.json()["error"]


def test_a_bad_admin_body_is_a_client_error(http):
    from tests.integration.gateway_stack import ADMIN_KEY

    response = _send(http, "POST", "/v1/tenants/x/apiKeys/y:revoke", {"authorization": f"Bearer {ADMIN_KEY}"}, b"false")
    assert response.status_code == 400, response.text
