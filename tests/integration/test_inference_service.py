"""Inference as a real server beside a real registry, with small real SavedModels: the Open
Inference Protocol, TensorFlow Serving's API, bad input, fuzzing, and hot swap under load."""

import asyncio
import hashlib
import threading
import time

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2 as rpb
from services.inference.config import InferenceSettings
from services.inference.server import build_server as build_inference
from services.trainer.export import export_saved_model
from tests.conftest import running, service_settings, tenant_md
from tests.integration.serving import registry_and_inference
from tests.integration.test_registry_service import upload_artifact

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
FEATURES = 4


def tiny_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(FEATURES,), name="features")
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probabilities")(inputs))


def register(
    registry, model: keras.Model, workdir, reference: rpb.ReferenceStatistics | None = None
) -> rpb.ModelVersion:
    archive = export_saved_model(model, FEATURES, "probabilities", workdir)
    artifact = upload_artifact(registry, "acme", archive, hashlib.sha256(archive).hexdigest())
    signature = rpb.Signature(
        method_name="serving_default",
        inputs=[rpb.TensorSpec(name="features", datatype="FP32", shape=[-1, FEATURES])],
        outputs=[rpb.TensorSpec(name="probabilities", datatype="FP32", shape=[-1, 3])],
    )
    return registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(
            parent="models/tiny",
            model_version=rpb.ModelVersion(artifact=artifact.name, signature=signature, reference_statistics=reference),
        ),
        metadata=MD,
    )


def set_production(registry, version: int) -> None:
    registry.SetAlias(
        rpb.SetAliasRequest(alias=rpb.Alias(name="models/tiny/aliases/production", version=version)), metadata=MD
    )


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with registry_and_inference(tmp_path_factory.mktemp("inference")) as serving:
        models = {1: tiny_model(1), 2: tiny_model(2)}
        for number, model in models.items():
            assert register(serving["registry"], model, tmp_path_factory.mktemp(f"export{number}")).version == number
        set_production(serving["registry"], 1)
        yield {**serving, "models": models}


def infer_request(x: np.ndarray, version: str = "", raw: bool = True) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="tiny", model_version=version, id="r-1")
    tensor = request.inputs.add(name="features", datatype="FP32", shape=x.shape)
    if raw:
        request.raw_input_contents.append(x.astype(np.float32).tobytes())
    else:
        tensor.contents.fp32_contents.extend(x.astype(np.float32).ravel().tolist())
    return request


def outputs_of(response: pb.ModelInferResponse) -> np.ndarray:
    return np.frombuffer(response.raw_output_contents[0], np.float32).reshape(tuple(response.outputs[0].shape))


def test_open_inference_protocol_answers_match_the_model(servers):
    x = np.random.default_rng(0).normal(size=(5, FEATURES)).astype(np.float32)
    raw = servers["oip"].ModelInfer(infer_request(x), metadata=MD)
    typed = servers["oip"].ModelInfer(infer_request(x, raw=False), metadata=MD)
    assert (raw.model_name, raw.model_version, raw.id) == ("tiny", "1", "r-1")
    np.testing.assert_allclose(outputs_of(raw), outputs_of(typed))
    np.testing.assert_allclose(outputs_of(raw), servers["models"][1](x).numpy(), rtol=1e-5, atol=1e-6)
    by_number = servers["oip"].ModelInfer(infer_request(x, "2"), metadata=MD)
    np.testing.assert_allclose(outputs_of(by_number), servers["models"][2](x).numpy(), rtol=1e-5, atol=1e-6)
    metadata = servers["oip"].ModelMetadata(pb.ModelMetadataRequest(name="tiny"), metadata=MD)
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("features", "FP32", [-1, FEATURES])]
    assert servers["oip"].ModelReady(pb.ModelReadyRequest(name="tiny", version="1"), metadata=MD).ready


def request_versions(metrics) -> set[str]:
    """The version labels of the request counter's series."""
    return {
        sample.labels["version"]
        for family in metrics.collect()
        if family.name == "maas_inference_requests"
        for sample in family.samples
    }


def test_request_metrics_are_labelled_by_the_resolved_version_only(servers):
    x = np.random.default_rng(1).normal(size=(2, FEATURES)).astype(np.float32)
    labels = {"tenant": "acme", "model": "tiny", "version": "1", "code": "OK"}
    before = servers["metrics"].get_sample_value("maas_inference_requests_total", labels) or 0.0
    servers["oip"].ModelInfer(infer_request(x, "production"), metadata=MD)
    for ref in ("no-such-alias", "12345"):
        with pytest.raises(grpc.RpcError) as refused:
            servers["oip"].ModelInfer(infer_request(x, ref), metadata=MD)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert servers["metrics"].get_sample_value("maas_inference_requests_total", labels) == before + 1
    versions = request_versions(servers["metrics"])
    assert "1" in versions
    assert versions <= {"1", "2"}, f"series for unresolved references: {versions - {'1', '2'}}"


def runtime_of(metrics, version: str) -> str | None:
    labels = {"tenant": "acme", "model": "tiny", "version": version}
    for runtime in ("savedmodel", "lite"):
        if metrics.get_sample_value("maas_inference_model_runtime", {**labels, "runtime": runtime}) == 1:
            return runtime
    return None


def test_loaded_models_move_to_litert_and_still_answer_as_the_model(servers):
    x = np.random.default_rng(2).normal(size=(4, FEATURES)).astype(np.float32)
    servers["oip"].ModelInfer(infer_request(x, "2"), metadata=MD)
    deadline = time.monotonic() + 60
    while runtime_of(servers["metrics"], "2") != "lite" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtime_of(servers["metrics"], "2") == "lite"
    answer = servers["oip"].ModelInfer(infer_request(x, "2"), metadata=MD)
    np.testing.assert_allclose(outputs_of(answer), servers["models"][2](x).numpy(), rtol=1e-5, atol=1e-6)


def test_the_savedmodel_runtime_can_be_kept(servers, tmp_path):
    settings = service_settings(
        InferenceSettings, tmp_path, registry_addr=servers["registry_address"], runtime="savedmodel"
    )
    x = np.random.default_rng(3).normal(size=(2, FEATURES)).astype(np.float32)
    with running(build_inference, settings) as server, grpc.insecure_channel(server.address) as channel:
        answer = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(infer_request(x), metadata=MD)
        time.sleep(1)  # time enough for a conversion that should not happen
        assert runtime_of(server.server.registry, "1") == "savedmodel"
    np.testing.assert_allclose(outputs_of(answer), servers["models"][1](x).numpy(), rtol=1e-5, atol=1e-6)


def test_tensorflow_serving_clients_work_unchanged(servers):
    x = np.random.default_rng(1).normal(size=(3, FEATURES)).astype(np.float32)
    predict = prediction_service_pb2_grpc.PredictionServiceStub(servers["channel"])
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.model_spec.version_label = "production"
    request.inputs["features"].CopyFrom(tf.make_tensor_proto(x))
    request.output_filter.append("probabilities")
    response = predict.Predict(request, metadata=MD)
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["probabilities"]), servers["models"][1](x).numpy(), rtol=1e-5, atol=1e-6
    )
    assert response.model_spec.version.value == 1
    by_version = predict_pb2.PredictRequest()
    by_version.CopyFrom(request)
    by_version.model_spec.ClearField("version_label")
    by_version.model_spec.version.value = 2
    np.testing.assert_allclose(
        tf.make_ndarray(predict.Predict(by_version, metadata=MD).outputs["probabilities"]),
        servers["models"][2](x).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )

    meta_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    meta_request.model_spec.name = "tiny"
    meta = predict.GetModelMetadata(meta_request, metadata=MD)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    meta.metadata["signature_def"].Unpack(signatures)
    signature = signatures.signature_def["serving_default"]
    assert signature.inputs["features"].dtype == tf.float32.as_datatype_enum
    assert [d.size for d in signature.outputs["probabilities"].tensor_shape.dim] == [-1, 3]

    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "tiny"
    status = model_service_pb2_grpc.ModelServiceStub(servers["channel"]).GetModelStatus(status_request, metadata=MD)
    assert status.model_version_status[0].state == get_model_status_pb2.ModelVersionStatus.State.AVAILABLE

    wrong_dtype = predict_pb2.PredictRequest()
    wrong_dtype.model_spec.name = "tiny"
    wrong_dtype.inputs["features"].CopyFrom(tf.make_tensor_proto(x.astype(np.float64)))
    with pytest.raises(grpc.RpcError) as error:
        predict.Predict(wrong_dtype, metadata=MD)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "FP64" in error.value.details()


@pytest.mark.parametrize(
    ("mutate", "code", "message"),
    [
        (lambda r: setattr(r, "model_name", "missing"), grpc.StatusCode.NOT_FOUND, "not found"),
        (lambda r: setattr(r, "model_version", "99"), grpc.StatusCode.NOT_FOUND, "not found"),
        (lambda r: r.inputs[0].__setattr__("datatype", "INT64"), grpc.StatusCode.INVALID_ARGUMENT, "datatype"),
        (lambda r: r.inputs[0].shape.__setitem__(0, 7), grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents[0]"),
        (lambda r: r.inputs[0].__setattr__("name", "pixels"), grpc.StatusCode.INVALID_ARGUMENT, "no input"),
        (lambda r: r.raw_input_contents.append(b"x"), grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents"),
        (lambda r: r.outputs.add(name="logits"), grpc.StatusCode.INVALID_ARGUMENT, "no output"),
        (lambda r: setattr(r, "model_name", "../etc"), grpc.StatusCode.INVALID_ARGUMENT, "model_name"),
    ],
)
def test_bad_requests_get_precise_statuses(servers, mutate, code, message):
    request = infer_request(np.zeros((2, FEATURES), np.float32))
    mutate(request)
    with pytest.raises(grpc.RpcError) as error:
        servers["oip"].ModelInfer(request, metadata=MD)
    assert error.value.code() == code
    assert message in error.value.details()


def test_oversized_messages_are_resource_exhausted(data_dir):
    with (
        running(build_inference, service_settings(InferenceSettings, data_dir, max_message_bytes=1024)) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        request = infer_request(np.zeros((100, FEATURES), np.float32))
        with pytest.raises(grpc.RpcError) as error:
            grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=MD)
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


DATATYPES = st.sampled_from(["FP32", "FP64", "INT64", "INT32", "BYTES", "BOOL", "UINT8", "nonsense", ""])
TENSORS = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["features", "x", "", "features\x00"]),
        "datatype": DATATYPES,
        "shape": st.lists(st.integers(min_value=-3, max_value=1 << 40), max_size=4),
        "raw": st.one_of(st.none(), st.binary(max_size=64)),
        "fp32": st.lists(st.floats(width=32, allow_nan=True), max_size=12),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tensors=st.lists(TENSORS, max_size=3),
    model=st.sampled_from(["tiny", "missing", "", "UPPER"]),
    version=st.sampled_from(["", "1", "2", "99", "-1", "staging", "x" * 80]),
)
def test_malformed_requests_never_break_the_server(servers, tensors, model, version):
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    for tensor in tensors:
        proto = request.inputs.add(name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"])
        if tensor["raw"] is not None:
            request.raw_input_contents.append(tensor["raw"])
        else:
            proto.contents.fp32_contents.extend(tensor["fp32"])
    try:
        servers["oip"].ModelInfer(request, metadata=MD, timeout=10)
    except grpc.RpcError as error:
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), error.details()


def test_server_still_answers_after_the_fuzzing(servers):
    response = servers["oip"].ModelInfer(infer_request(np.ones((1, FEATURES), np.float32)), metadata=MD)
    assert outputs_of(response).shape == (1, 3)


def test_repository_load_and_unload(servers):
    oip = servers["oip"]
    oip.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="tiny"), metadata=MD)
    assert list(oip.RepositoryIndex(pb.RepositoryIndexRequest(), metadata=MD).models) == []
    oip.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="tiny"), metadata=MD)
    assert oip.ModelReady(pb.ModelReadyRequest(name="tiny"), metadata=MD).ready
    index = oip.RepositoryIndex(pb.RepositoryIndexRequest(), metadata=MD)
    assert [(m.name, m.version, m.state) for m in index.models] == [("tiny", "1", "READY")]


def test_a_client_waiting_for_readiness_of_an_alias_sees_it_load(servers):
    """Readiness of a version not in memory answers false and starts loading it, so a client
    polling `is_model_ready` (of `production`, here) does not wait forever."""
    oip = servers["oip"]
    oip.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="tiny"), metadata=MD)
    assert not oip.ModelReady(pb.ModelReadyRequest(name="tiny"), metadata=MD).ready
    deadline = time.monotonic() + 30
    while not oip.ModelReady(pb.ModelReadyRequest(name="tiny"), metadata=MD).ready:
        assert time.monotonic() < deadline, "the alias' version never became ready"
        time.sleep(0.1)
    # The version production points at now is loaded (other tests of the module may have moved the
    # alias or loaded other versions: the order is theirs).
    production = servers["registry"].GetAlias(rpb.GetAliasRequest(name="models/tiny/aliases/production"), metadata=MD)
    index = oip.RepositoryIndex(pb.RepositoryIndexRequest(), metadata=MD)
    assert ("tiny", str(production.version), "READY") in [(m.name, m.version, m.state) for m in index.models]
    assert not oip.ModelReady(pb.ModelReadyRequest(name="missing"), metadata=MD).ready


# Its request count depends on the machine's load (it needs enough calls around the switch).
@pytest.mark.flaky(reruns=2)
def test_moving_production_under_load_fails_nothing_and_switches_within_two_seconds(servers):
    x = np.ones((1, FEATURES), np.float32)
    expected = {v: servers["models"][v](x).numpy() for v in (1, 2)}
    servers["oip"].ModelInfer(infer_request(x), metadata=MD)  # production (v1) loaded
    results: list[tuple[float, str, str]] = []
    moved_at: list[float] = []

    async def client(stop_at: float):
        async with grpc.aio.insecure_channel(servers["address"]) as channel:
            stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
            while time.monotonic() < stop_at:
                try:
                    response = await stub.ModelInfer(infer_request(x), metadata=MD, timeout=10)
                    version = response.model_version
                    assert np.allclose(outputs_of(response), expected[int(version)], atol=1e-6)
                    results.append((time.monotonic(), version, "OK"))
                except grpc.aio.AioRpcError as error:
                    results.append((time.monotonic(), "", error.code().name))

    async def load():
        stop_at = time.monotonic() + 6
        clients = [asyncio.create_task(client(stop_at)) for _ in range(64)]
        await asyncio.sleep(1.5)
        await asyncio.to_thread(set_production, servers["registry"], 2)
        moved_at.append(time.monotonic())
        await asyncio.gather(*clients)

    thread = threading.Thread(target=lambda: asyncio.run(load()))
    thread.start()
    thread.join(60)
    failures = [r for r in results if r[2] != "OK"]
    assert not failures, failures[:5]
    assert len(results) > 500
    late = [r for r in results if r[0] > moved_at[0] + 2]
    assert late and all(version == "2" for _, version, _ in late)
    set_production(servers["registry"], 1)
