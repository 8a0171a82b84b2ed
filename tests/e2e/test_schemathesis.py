"""Schemathesis over the gateway's whole OpenAPI document, as a tenant and as the admin: every
operation gets generated valid and invalid requests, then the stateful phase follows the document's
links (create a model, then get, update, version, infer and delete it ...); no answer may be a 5xx."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from maas.client import MaasClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Per operation; `SCHEMATHESIS_EXAMPLES=200 pytest ...` for a release run (see docs/testing.md).
EXAMPLES = 5
# Seconds of the stateful phase per caller; `SCHEMATHESIS_STATEFUL_SECONDS=1800` for a release run.
STATEFUL_SECONDS = 45


def _schemathesis(stack, key: str, report: Path, *options: str) -> subprocess.CompletedProcess:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    return subprocess.run(
        [
            st,
            "run",
            f"{stack.http_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            *options,
            "--header",
            f"Authorization: Bearer {key}",
            "--request-timeout",
            "20",
            "--generation-deterministic",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
            "--no-color",
            # Client-streaming uploads take NDJSON bodies, which schemathesis cannot generate; their
            # gRPC twins are fuzzed in tests/integration/test_malformed_requests.py.
            "--exclude-path",
            "/v1/artifacts",
            "--exclude-path",
            "/v1/datasets",
            # A stream that never ends by design (the event feed): every call would time out.
            "--exclude-path",
            "/v1/events:watch",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


def _key(stack, who: str) -> str:
    if who == "admin":
        return stack.admin_key
    tenant = f"schemathesis-{uuid.uuid4().hex[:8]}"
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        admin.create_tenant(tenant)
        return admin.create_api_key(tenant).secret


def _assert_passed(done: subprocess.CompletedProcess) -> None:
    # The errors and failures sections, not the warnings (operations that mostly got 404s and such).
    output = done.stdout
    start = min((i for i in (output.find("= ERRORS ="), output.find("= FAILURES =")) if i >= 0), default=0)
    print(output[-3000:])
    assert done.returncode == 0, output[start : start + 8000]


@pytest.mark.parametrize("who", ["tenant", "admin"])
def test_no_operation_answers_a_server_error(stack, who, tmp_path):
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", str(EXAMPLES))
    phases = ("--phases", "examples,coverage,fuzzing", "--max-examples", examples)
    _assert_passed(_schemathesis(stack, _key(stack, who), tmp_path / "report.xml", *phases))


@pytest.mark.parametrize("who", ["tenant", "admin"])
def test_no_sequence_of_linked_calls_answers_a_server_error(stack, who, tmp_path):
    seconds = os.environ.get("SCHEMATHESIS_STATEFUL_SECONDS", str(STATEFUL_SECONDS))
    done = _schemathesis(
        stack, _key(stack, who), tmp_path / "report.xml", "--phases", "stateful", "--max-time", seconds
    )
    _assert_passed(done)
    # The links were followed: a document without them would skip the phase and pass vacuously.
    assert "Stateful" in done.stdout and "Links" in done.stdout, done.stdout[-3000:]
