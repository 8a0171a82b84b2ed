"""The whole stack as `maas up` runs it (four processes on free ports), driven through the gateway."""

import io
import json
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from maas.client import MaasClient, MaasError
from maas.demo import digits_csv
from maas.inference.v2 import grpc_service_pb2 as infer_pb
from maas.registry.v1 import registry_pb2 as rpb
from maas.stack import SERVICES
from services.common.archives import extract_tar

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PROBE = Path(__file__).with_name("triton_probe.py")


def test_every_service_reports_serving(stack):
    for service in SERVICES:
        with grpc.insecure_channel(stack.address(service)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


def test_calls_without_or_with_a_wrong_key_are_unauthenticated(stack):
    with grpc.insecure_channel(stack.address("gateway")) as channel:
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=infer_pb.ModelInferRequest.SerializeToString,
            response_deserializer=infer_pb.ModelInferResponse.FromString,
        )
        for metadata in ((), (("authorization", "Bearer maas_not_a_key"),)):
            with pytest.raises(grpc.RpcError) as error:
                infer(infer_pb.ModelInferRequest(model_name="digits"), metadata=metadata, timeout=10)
            assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_journey_reaches_the_accuracy_target(journey):
    assert journey.model_version == "models/digits/versions/1"
    assert journey.accuracy >= 0.90


def _model_predictions(client: MaasClient, version_name: str, features: np.ndarray, workdir: Path) -> np.ndarray:
    """The registered SavedModel's own predictions, loaded with TensorFlow directly."""
    import tensorflow as tf

    version = client.get_model_version(version_name)
    chunks = client.registry.DownloadArtifact(
        rpb.DownloadArtifactRequest(name=version.artifact), **client.call_options()
    )
    with tarfile.open(fileobj=io.BytesIO(b"".join(c.chunk for c in chunks))) as tar:
        extract_tar(tar, workdir / "model")
    loaded = tf.saved_model.load(str(workdir / "model"))
    return loaded.signatures["serving_default"](features=tf.constant(features))["probabilities"].numpy()


@pytest.mark.parametrize("route", ["gateway", "inference"])
def test_unmodified_tritonclient_agrees_with_the_model(stack, journey, tmp_path, route):
    _, test_x, _ = digits_csv()
    features = test_x[:48]
    np.save(tmp_path / "in.npy", features)
    # Through the door or directly to inference: the key either way (inference authenticates it).
    header = f"authorization=Bearer {journey.api_key}"
    out = subprocess.run(
        [
            sys.executable,
            str(PROBE),
            stack.address(route),
            header,
            "digits",
            str(tmp_path / "in.npy"),
            str(tmp_path / "out.npy"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["live"] and report["ready"] and not report["ready_after_unload"]
    assert report["shape"] == [48, 10] and report["model_version"] == "1" and report["id"] == "probe-1"
    assert report["inputs"] == [["features", "FP32", [-1, 64]]]
    probabilities = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        expected = _model_predictions(client, journey.model_version, features, tmp_path)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_bad_input_gets_precise_statuses_and_the_stack_keeps_serving(stack, journey):
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        with pytest.raises(MaasError) as error:
            client.predict("no-such-model", np.zeros((1, 64)))
        assert error.value.code == grpc.StatusCode.NOT_FOUND
        request = infer_pb.ModelInferRequest(model_name="digits")
        request.inputs.add(name="features", datatype="FP32", shape=[2, 64])
        request.raw_input_contents.append(np.zeros((1, 64), np.float32).tobytes())
        with pytest.raises(grpc.RpcError) as rpc_error:
            client.inference.ModelInfer(request, **client.call_options())
        assert rpc_error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "raw_input_contents[0]" in rpc_error.value.details()
        with pytest.raises(MaasError) as error:
            client.upload_dataset("broken", b"a,b,label\n1,2,3\n4,5\n")
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "CSV line 3" in error.value.message
        outputs = client.predict("digits", np.zeros((3, 64)))
        assert outputs["probabilities"].shape == (3, 10)


def test_every_service_exposes_grpc_server_metrics(stack, journey):
    for service in SERVICES:
        body = urllib.request.urlopen(stack.metrics_url(service), timeout=5).read().decode()
        handled = [
            line
            for line in body.splitlines()
            if line.startswith("grpc_server_handled_total{") and not line.endswith(" 0.0")
        ]
        assert handled, f"{service} has no grpc_server_handled_total samples"
        assert "grpc_server_started_total" in body and "grpc_server_handling_seconds_bucket" in body
    inference = urllib.request.urlopen(stack.metrics_url("inference"), timeout=5).read().decode()
    batches = [line for line in inference.splitlines() if line.startswith("maas_inference_batch_size_count{")]
    # A version loaded but not yet asked (an upload, validated) has its series at 0.
    assert batches and any(float(line.rsplit(" ", 1)[1]) > 0 for line in batches)
    # Labelled by resolved versions only: a model name a client made up is no series.
    assert 'model="no-such-model"' not in inference
    assert 'maas_inference_requests_total{code="OK"' in inference
    trainer = urllib.request.urlopen(stack.metrics_url("trainer"), timeout=5).read().decode()
    # Other end-to-end tests share the stack and train too: at least the journey's job succeeded.
    succeeded = [line for line in trainer.splitlines() if line.startswith('maas_training_jobs{state="succeeded"}')]
    assert succeeded and float(succeeded[0].rsplit(" ", 1)[1]) >= 1


@pytest.mark.parametrize("route", ["gateway", "inference"])
def test_tensorflow_serving_client_agrees_with_the_model(stack, journey, tmp_path, route):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    _, test_x, _ = digits_csv()
    features = test_x[:16]
    metadata = (("authorization", f"Bearer {journey.api_key}"),)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "digits"
    request.inputs["features"].CopyFrom(tf.make_tensor_proto(features))
    with grpc.insecure_channel(stack.address(route)) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, metadata=metadata, timeout=30
        )
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        expected = _model_predictions(client, journey.model_version, features, tmp_path)
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["probabilities"]), expected, rtol=1e-5, atol=1e-6)


def test_daily_prediction_quota_stops_the_101st_call_and_usage_reports_100(stack, journey):
    from grpc_status import rpc_status

    from maas.gateway.v1 import admin_pb2
    from tests.e2e.conftest import tenant_with_digits

    key = tenant_with_digits(stack, journey, "metered", "hundred", predictions_per_day=100)
    with MaasClient(stack.address("gateway"), key) as client:
        for _ in range(100):
            client.predict("digits", np.zeros((1, 64)))
        with pytest.raises(grpc.RpcError) as error:
            client.inference.ModelInfer(infer_pb.ModelInferRequest(model_name="digits"), **client.call_options())
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = {d.type_url.rsplit(".", 1)[-1] for d in rpc_status.from_call(error.value).details}
        assert details == {"RetryInfo", "QuotaFailure"}
        usage = client.admin.GetUsage(admin_pb2.GetUsageRequest(name="tenants/metered/usage"), **client.call_options())
    assert usage.predictions == 100
