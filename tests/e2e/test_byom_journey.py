"""Bring your own model, end to end: three models built here (an image CNN on uint8 pixels, a
model with two named inputs, a text model with TextVectorization inside) are uploaded with
`maas models upload` and answered through the gateway by unchanged tritonclient.grpc,
tritonclient.http and tensorflow-serving-api clients, equal to the local model; models that must
be refused are, with a readable reason; reflection lists what can be called."""

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from maas.cli import main
from maas.client import MaasClient
from tests.e2e.test_console import shot, sign_in
from tests.integration import byom_models

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PROBE = Path(__file__).with_name("byom_probe.py")


def maas(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def tenant(stack):
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        admin.create_tenant("byom")
        return admin.create_api_key("byom").secret


@pytest.fixture(scope="module")
def uploaded(stack, tenant, tmp_path_factory):
    """The three models, uploaded with the CLI; returns the local models and what it printed."""
    work = tmp_path_factory.mktemp("byom")
    models = {
        "cnn": byom_models.cnn(work / "cnn.keras"),
        "pair": byom_models.two_inputs(work / "pair.keras"),
        "text": byom_models.text(work / "text.keras"),
    }
    sources = {
        "cnn": work / "cnn.keras",
        "pair": work / "pair.keras",
        "text": byom_models.export_savedmodel(models["text"], work / "text-savedmodel"),
    }
    printed = {}
    for name, source in sources.items():
        code, out, err = maas(
            "models", "upload", str(source), "--model", name, "--alias", "production", "-o", "json",
            "--endpoint", stack.address("gateway"), "--api-key", tenant,
        )  # fmt: skip
        assert code == 0, err
        printed[name] = json.loads(out)
    return models, printed


def test_uploads_derive_the_signature_and_become_ready(uploaded):
    _, printed = uploaded
    assert printed["cnn"]["state"] == "STATE_READY" and printed["cnn"]["format"] == "keras"
    assert printed["cnn"]["signature"]["inputs"] == [
        {"name": "image", "datatype": "UINT8", "shape": ["-1", "28", "28", "1"]}
    ]
    assert {t["name"] for t in printed["pair"]["signature"]["inputs"]} == {"age", "score"}
    assert printed["text"]["format"] == "tf_saved_model"
    assert printed["text"]["signature"]["inputs"][0]["datatype"] == "BYTES"
    assert all(p["aliases"] == ["production"] for p in printed.values())


def test_standard_clients_answer_as_the_local_models(stack, tenant, uploaded, tmp_path):
    models, _ = uploaded
    rng = np.random.default_rng(0)
    inputs = {
        "cnn": {"image": ("UINT8", byom_models.images(2))},
        "pair": {
            "age": ("FP32", rng.normal(size=(3, 3)).astype(np.float32)),
            "score": ("FP32", rng.normal(size=(3, 2)).astype(np.float32)),
        },
        "text": {"review": ("BYTES", np.array([b"a great film", b"bad plot"], dtype=object))},
    }
    cases = []
    for model, tensors in inputs.items():
        files = {}
        for name, (datatype, array) in tensors.items():
            np.save(tmp_path / f"{model}-{name}.npy", array, allow_pickle=True)
            files[name] = [datatype, f"{model}-{name}.npy"]
        cases.append({"model": model, "inputs": files})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    http_address = stack.http_url.removeprefix("http://")
    command = [
        sys.executable,
        str(PROBE),
        stack.address("gateway"),
        http_address,
        tenant,
        str(tmp_path / "cases.json"),
        str(tmp_path),
    ]
    probe = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    expected = {
        "cnn": models["cnn"](inputs["cnn"]["image"][1]).numpy(),
        "pair": models["pair"]([inputs["pair"]["age"][1], inputs["pair"]["score"][1]]).numpy(),
        "text": models["text"](tf.constant(inputs["text"]["review"][1])).numpy(),
    }
    for model, want in expected.items():
        (output,) = report[model]["outputs"]
        for client in ("grpc", "http", "tfserving", "stream-s0", "stream-s2"):
            got = np.load(tmp_path / f"{model}-{output}-{client}.npy")
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{model} via {client}")
        assert report[model]["ready"] and report[model]["http_ready"]
        assert report[model]["stream_errors"] == [] and report[model]["stream_ids"] == ["s0", "s1", "s2"]
    cnn = report["cnn"]
    assert cnn["config"]["max_batch_size"] == cnn["http_config"]["max_batch_size"] > 0
    assert cnn["config"]["input"][0]["data_type"] == cnn["http_config"]["input"][0]["data_type"] == "TYPE_UINT8"
    assert [int(d) for d in cnn["config"]["input"][0]["dims"]] == cnn["http_config"]["input"][0]["dims"] == [28, 28, 1]
    assert report["text"]["config"]["input"][0]["data_type"] == "TYPE_STRING"
    stats = cnn["http_stats"][0]
    # Read after the tritonclient gRPC, HTTP and TF Serving calls of 2 rows each.
    assert stats["inference_count"] == 6 and stats["inference_stats"]["success"]["count"] == 3
    assert stats["execution_count"] >= 1 and stats["batch_stats"][0]["batch_size"] == 2
    assert int(cnn["stats"][0]["inference_count"]) == 6


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda d: d / "garbage.tar", "not a SavedModel or Keras file"),
        (lambda d: byom_models.without_signature(d / "nosig"), "no serving signature"),
        (lambda d: byom_models.with_lambda(d / "lambda.keras"), "Lambda"),
        (lambda d: byom_models.reads_a_file(d / "thief", Path("/etc/hostname")), "op ReadFile is not allowed"),
    ],
    ids=["garbage", "no-signature", "lambda", "read-file"],
)
def test_models_that_must_not_serve_are_refused_with_a_reason(stack, tenant, tmp_path, build, reason):
    (tmp_path / "garbage.tar").write_bytes(os.urandom(2048))
    source = build(tmp_path)
    code, _, err = maas(
        "models",
        "upload",
        str(source),
        "--model",
        "refused",
        "--endpoint",
        stack.address("gateway"),
        "--api-key",
        tenant,
    )
    assert code != 0 and reason in err and "INTERNAL" not in err, err
    with MaasClient(stack.address("gateway"), tenant) as client:
        failed = client.list_model_versions("refused", limit=1)[0]
        assert failed.state == failed.State.STATE_FAILED and reason in failed.state_reason
        with pytest.raises(Exception) as error:
            client.predict("refused", np.zeros((1, 2), np.float32), version=str(failed.version))
        assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION and reason in error.value.message


def test_reflection_on_the_gateway_lists_every_service_a_client_can_call(stack):
    with grpc.insecure_channel(stack.address("gateway")) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="tensorflow.serving.PredictionService"),
        ]
        listed, described = list(stub.ServerReflectionInfo(iter(requests), timeout=30))
    names = {s.name for s in listed.list_services_response.service}
    assert {
        "maas.gateway.v1.AdminService",
        "maas.registry.v1.RegistryService",
        "maas.trainer.v1.TrainerService",
        "inference.GRPCInferenceService",
        "tensorflow.serving.PredictionService",
        "tensorflow.serving.ModelService",
        "grpc.health.v1.Health",
    } <= names
    assert described.file_descriptor_response.file_descriptor_proto


def test_the_console_uploads_a_model_and_shows_its_derived_signature(stack, tenant, page, tmp_path):
    byom_models.two_inputs(tmp_path / "pair.keras")
    sign_in(page, tenant)
    page.click("text=Models")
    page.fill("#upload-model-id", "console-pair")
    page.set_input_files("#upload-model-file", str(tmp_path / "pair.keras"))
    page.click("#upload-model button[type=submit]")
    result = page.locator("#model-uploaded")
    result.wait_for(timeout=120_000)
    text = result.inner_text()
    assert "models/console-pair/versions/1 is ready (keras)" in text, text
    assert "age FP32 [-1, 3]" in text and "score FP32 [-1, 2]" in text and "risk FP32 [-1, 1]" in text
    shot(page, "models-upload")
    (tmp_path / "junk.keras").write_bytes(os.urandom(512))
    page.set_input_files("#upload-model-file", str(tmp_path / "junk.keras"))
    page.click("#upload-model button[type=submit]")
    box = page.locator("#upload-model .error")
    box.wait_for(timeout=120_000)
    assert "not a SavedModel or Keras file" in box.inner_text(), box.inner_text()
    shot(page, "models-upload-refused")
