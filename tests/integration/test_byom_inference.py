"""Bring your own model, at the inference service: uploaded Keras files and SavedModels of every
kind are validated (signature derived, ops checked, warm-up answered), reported to the registry,
and served with their real signatures; the ones that must be refused are, with a reason."""

import os
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from maas.client.uploads import upload_resumable
from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import model_config_pb2 as config_pb
from maas.registry.v1 import registry_pb2 as rpb
from services.common.datatypes import decode_bytes_elements, encode_bytes_elements
from tests.conftest import tenant_md
from tests.integration import byom_models
from tests.integration.serving import registry_and_inference

pytestmark = pytest.mark.slow
MD = tenant_md("byo")
State = rpb.ModelVersion.State


def _kw(timeout):
    return {"metadata": MD, "timeout": timeout or 30}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("byom")
    with registry_and_inference(root, max_queue_delay_ms=5.0) as serving:
        yield {
            **serving,
            "root": root,
            "tfs": prediction_service_pb2_grpc.PredictionServiceStub(serving["channel"]),
            "tfs_models": model_service_pb2_grpc.ModelServiceStub(serving["channel"]),
        }


def register(stack, model_id: str, path, accepts_non_finite: bool = False) -> rpb.ModelVersion:
    """Upload a file (resumably, as the SDK does) and register it with no signature."""
    artifact = upload_resumable(stack["registry"], _kw, path)
    policy = rpb.Signature(accepts_non_finite=accepts_non_finite)
    version = stack["registry"].CreateModelVersion(
        rpb.CreateModelVersionRequest(
            parent=f"models/{model_id}", model_version=rpb.ModelVersion(artifact=artifact.name, signature=policy)
        ),
        metadata=MD,
    )
    assert version.state == State.STATE_PENDING and not version.signature.inputs
    return version


def get_version(stack, model_id: str, number: int) -> rpb.ModelVersion:
    name = f"models/{model_id}/versions/{number}"
    return stack["registry"].GetModelVersion(rpb.GetModelVersionRequest(name=name), metadata=MD)


@pytest.fixture(scope="module")
def models(stack, tmp_path_factory):
    work = tmp_path_factory.mktemp("models")
    built = {
        "cnn": byom_models.cnn(work / "cnn.keras"),
        "pair": byom_models.two_inputs(work / "pair.keras"),
        "text": byom_models.text(work / "text.keras"),
    }
    register(stack, "cnn", work / "cnn.keras")
    register(stack, "pair", work / "pair.keras")
    # The text model as a TF Serving user hands it over: a SavedModel directory, tarred.
    saved = byom_models.export_savedmodel(built["text"], work / "text-savedmodel")
    register(stack, "text", byom_models.tar_directory(saved, work / "text.tgz"))
    unbatched = byom_models.tar_directory(byom_models.unbatched(work / "unbatched"), work / "unbatched.tar.gz")
    register(stack, "unbatched", unbatched)
    return built


def infer(stack, model: str, tensors: dict[str, tuple[str, np.ndarray]], raw: bool = True) -> dict[str, np.ndarray]:
    request = pb.ModelInferRequest(model_name=model, model_version="1")
    for name, (datatype, array) in tensors.items():
        tensor = request.inputs.add(name=name, datatype=datatype, shape=array.shape)
        if raw:
            data = encode_bytes_elements(array) if datatype == "BYTES" else array.tobytes()
            request.raw_input_contents.append(data)
        elif datatype == "BYTES":
            tensor.contents.bytes_contents.extend(array.ravel().tolist())
        else:
            tensor.contents.fp32_contents.extend(array.ravel().tolist())
    response = stack["oip"].ModelInfer(request, metadata=MD, timeout=120)
    out = {}
    for output, data in zip(response.outputs, response.raw_output_contents):
        shape = tuple(output.shape)
        if output.datatype == "BYTES":
            out[output.name] = decode_bytes_elements(data, int(np.prod(shape)), "out").reshape(shape)
        else:
            out[output.name] = np.frombuffer(data, np.float32).reshape(shape)
    return out


def test_an_uploaded_cnn_on_uint8_pixels_is_validated_and_served(stack, models):
    x = byom_models.images(3)
    got = infer(stack, "cnn", {"image": ("UINT8", x)})
    np.testing.assert_allclose(got["probabilities"], models["cnn"](x).numpy(), rtol=1e-5, atol=1e-6)
    version = get_version(stack, "cnn", 1)
    assert version.state == State.STATE_READY and version.format == "keras"
    assert [(t.name, t.datatype, list(t.shape)) for t in version.signature.inputs] == [
        ("image", "UINT8", [-1, 28, 28, 1])
    ]
    metadata = stack["oip"].ModelMetadata(pb.ModelMetadataRequest(name="cnn", version="1"), metadata=MD)
    assert [(t.name, t.datatype) for t in metadata.outputs] == [("probabilities", "FP32")]


def test_a_text_model_takes_strings_raw_and_typed(stack, models):
    reviews = np.array([b"a great film", b"boring and bad", b"great fun"], dtype=object)
    expected = models["text"](tf.constant(reviews)).numpy()
    raw = infer(stack, "text", {"review": ("BYTES", reviews)})
    typed = infer(stack, "text", {"review": ("BYTES", reviews)}, raw=False)
    # Keras's own SavedModel export names the output `output_0`.
    np.testing.assert_allclose(raw["output_0"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(typed["output_0"], expected, rtol=1e-5, atol=1e-6)
    assert get_version(stack, "text", 1).format == "tf_saved_model"


def test_multi_input_requests_are_batched_together(stack, models):
    rng = np.random.default_rng(5)
    rows = [(rng.normal(size=(1, 3)).astype(np.float32), rng.normal(size=(1, 2)).astype(np.float32)) for _ in range(24)]
    infer(stack, "pair", {"age": ("FP32", rows[0][0]), "score": ("FP32", rows[0][1])})  # loaded
    before = (
        stack["oip"].ModelStatistics(pb.ModelStatisticsRequest(name="pair", version="1"), metadata=MD).model_stats[0]
    )
    answers = [None] * len(rows)

    def one(i):
        answers[i] = infer(stack, "pair", {"age": ("FP32", rows[i][0]), "score": ("FP32", rows[i][1])})["risk"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for (age, score), got in zip(rows, answers):
        np.testing.assert_allclose(got, models["pair"]([age, score]).numpy(), rtol=1e-5, atol=1e-6)
    after = (
        stack["oip"].ModelStatistics(pb.ModelStatisticsRequest(name="pair", version="1"), metadata=MD).model_stats[0]
    )
    calls = after.execution_count - before.execution_count
    assert after.inference_count - before.inference_count == len(rows)
    assert calls < len(rows), "concurrent two-input requests should share model calls"
    assert after.inference_stats.success.count - before.inference_stats.success.count == len(rows)
    assert after.inference_stats.queue.count > before.inference_stats.queue.count
    assert any(b.batch_size > 1 for b in after.batch_stats)


def test_non_finite_inputs_are_refused_by_default_naming_row_and_column(stack, models, tmp_path):
    age = np.zeros((3, 3), np.float32)
    age[2, 1] = np.nan
    score = np.zeros((3, 2), np.float32)
    with pytest.raises(grpc.RpcError) as refused:
        infer(stack, "pair", {"age": ("FP32", age), "score": ("FP32", score)})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input 'age': nan at row 2, column 1" in refused.value.details()
    score[0, 1] = -np.inf
    with pytest.raises(grpc.RpcError) as refused:
        infer(stack, "pair", {"age": ("FP32", np.zeros((3, 3), np.float32)), "score": ("FP32", score)}, raw=False)
    assert "input 'score': -inf at row 0, column 1" in refused.value.details()
    # The same model, registered as accepting them: the policy survives validation and the call answers.
    register(stack, "pair-nan", _saved(models["pair"], tmp_path), accepts_non_finite=True)
    got = infer(stack, "pair-nan", {"age": ("FP32", age), "score": ("FP32", score)})["risk"]
    assert got.shape[0] == 3
    assert get_version(stack, "pair-nan", 1).signature.accepts_non_finite


def _saved(model, tmp_path):
    path = tmp_path / "pair-nan.keras"
    model.save(path)
    return path


def test_a_model_without_a_batch_dimension_is_served_one_request_at_a_time(stack, models):
    got = infer(stack, "unbatched", {"vector": ("FP32", np.array([1.0, 2.0, 3.5], np.float32))})
    assert got["total"].shape == () and got["total"] == pytest.approx(13.0)
    config = stack["oip"].ModelConfig(pb.ModelConfigRequest(name="unbatched", version="1"), metadata=MD).config
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [3]
    assert not config.HasField("dynamic_batching")


def test_model_config_is_derived_from_the_signature_and_batcher(stack, models):
    infer(stack, "cnn", {"image": ("UINT8", byom_models.images(1))})
    config = stack["oip"].ModelConfig(pb.ModelConfigRequest(name="cnn", version="1"), metadata=MD).config
    assert (config.name, config.platform, config.max_batch_size) == ("cnn", "tensorflow_savedmodel", 64)
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [("image", config_pb.TYPE_UINT8, [28, 28, 1])]
    assert [(o.name, o.data_type, list(o.dims)) for o in config.output] == [
        ("probabilities", config_pb.TYPE_FP32, [10])
    ]
    assert config.dynamic_batching.max_queue_delay_microseconds == 5000


def test_the_stream_answers_each_request_and_survives_a_bad_one(stack, models):
    def request(model, datatype, array, name):
        message = pb.ModelInferRequest(model_name=model, model_version="1", id=f"{model}-{len(array)}")
        message.inputs.add(name=name, datatype=datatype, shape=array.shape)
        message.raw_input_contents.append(array.tobytes())
        return message

    requests = [
        request("cnn", "UINT8", byom_models.images(2), "image"),
        request("cnn", "FP32", np.zeros((1, 3), np.float32), "image"),  # wrong datatype
        request("unbatched", "FP32", np.ones(3, np.float32), "vector"),
    ]
    answers = list(stack["oip"].ModelStreamInfer(iter(requests), metadata=MD, timeout=120))
    assert len(answers) == 3
    assert not answers[0].error_message and answers[0].infer_response.id == "cnn-2"
    assert answers[1].error_message.startswith("INVALID_ARGUMENT") and "UINT8" in answers[1].error_message
    assert not answers[2].error_message and list(answers[2].infer_response.outputs[0].shape) == []


def _example(**features):
    example = tf.train.Example()
    for name, values in features.items():
        feature = example.features.feature[name]
        if isinstance(values[0], bytes):
            feature.bytes_list.value.extend(values)
        elif isinstance(values[0], float):
            feature.float_list.value.extend(values)
        else:
            feature.int64_list.value.extend(values)
    return example


def test_tf_serving_classify_regress_and_multi_inference_where_the_signature_fits(stack, models):
    x = byom_models.images(2, seed=9)
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "cnn"
    classify.model_spec.version.value = 1
    classify.input.example_list.examples.extend(_example(image=[int(v) for v in row.ravel()]) for row in x)
    result = stack["tfs"].Classify(classify, metadata=MD, timeout=60).result
    scores = np.array([[c.score for c in row.classes] for row in result.classifications])
    np.testing.assert_allclose(scores, models["cnn"](x).numpy(), rtol=1e-5, atol=1e-6)

    age, score = np.array([[1.0, 2.0, 3.0]], np.float32), np.array([[0.5, -1.0]], np.float32)
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "pair"
    regress.model_spec.version.value = 1
    regress.input.example_list.examples.append(_example(age=age[0].tolist(), score=score[0].tolist()))
    value = stack["tfs"].Regress(regress, metadata=MD, timeout=60).result.regressions[0].value
    assert value == pytest.approx(float(models["pair"]([age, score]).numpy()[0, 0]), rel=1e-5)

    multi = inference_pb2.MultiInferenceRequest()
    multi.input.CopyFrom(regress.input)
    task = multi.tasks.add(method_name="tensorflow/serving/regress")
    task.model_spec.CopyFrom(regress.model_spec)
    results = stack["tfs"].MultiInference(multi, metadata=MD, timeout=60).results
    assert results[0].regression_result.regressions[0].value == pytest.approx(value)

    regress_cnn = regression_pb2.RegressionRequest()
    regress_cnn.model_spec.CopyFrom(classify.model_spec)
    regress_cnn.input.CopyFrom(classify.input)
    with pytest.raises(grpc.RpcError) as error:
        stack["tfs"].Regress(regress_cnn, metadata=MD, timeout=60)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "Regress needs a model with one float output" in error.value.details()


def _refused(stack, model_id: str, path, reason: str) -> None:
    register(stack, model_id, path)
    request = pb.ModelInferRequest(model_name=model_id, model_version="1")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 2]).contents.fp32_contents.extend([1.0, 2.0])
    for _ in range(2):  # the second answer comes from the recorded failure, not a second validation
        with pytest.raises(grpc.RpcError) as error:
            stack["oip"].ModelInfer(request, metadata=MD, timeout=120)
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION, error.value.details()
        assert reason in error.value.details()
    version = get_version(stack, model_id, 1)
    assert version.state == State.STATE_FAILED and reason in version.state_reason
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = model_id
    status_request.model_spec.version.value = 1
    status = stack["tfs_models"].GetModelStatus(status_request, metadata=MD).model_version_status[0]
    assert status.state == get_model_status_pb2.ModelVersionStatus.State.END and reason in status.status.error_message
    with pytest.raises(grpc.RpcError) as alias_error:
        stack["registry"].SetAlias(
            rpb.SetAliasRequest(alias=rpb.Alias(name=f"models/{model_id}/aliases/production", version=1)), metadata=MD
        )
    assert alias_error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_garbage_archive_is_refused(stack, tmp_path):
    garbage = tmp_path / "model.tar"
    garbage.write_bytes(os.urandom(4096))
    _refused(stack, "garbage", garbage, "not a SavedModel or Keras file")


def test_a_savedmodel_without_a_serving_signature_is_refused(stack, tmp_path):
    archive = byom_models.tar_directory(byom_models.without_signature(tmp_path / "nosig"), tmp_path / "nosig.tgz")
    _refused(stack, "nosig", archive, "no serving signature")


def test_a_keras_file_with_a_lambda_layer_is_refused_in_safe_mode(stack, tmp_path):
    _refused(stack, "lambda", byom_models.with_lambda(tmp_path / "lambda.keras"), "Lambda")


def test_a_savedmodel_that_reads_files_is_refused_and_reads_nothing(stack, tmp_path):
    # The file it would read is a FIFO: opening it for reading would release the writer below,
    # so a writer still blocked after validation proves that nothing on the server opened it.
    secret = tmp_path / "secret"
    os.mkfifo(secret)
    opened = threading.Event()

    def writer():
        with secret.open("wb") as fifo:  # blocks until a reader opens the FIFO
            opened.set()
            fifo.write(b"")

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    archive = byom_models.tar_directory(byom_models.reads_a_file(tmp_path / "thief", secret), tmp_path / "thief.tgz")
    _refused(stack, "thief", archive, "op ReadFile is not allowed")
    time.sleep(0.2)
    assert not opened.is_set(), "the model's file was opened"
    with secret.open("rb"):  # release the writer
        pass
    thread.join(5)
    assert opened.is_set()


def test_a_pending_version_cannot_be_fetched_around_validation(stack, tmp_path):
    """The registry's copy is the one inference checks: a wrong signature claimed at
    registration (a user typing one) fails the version at load, with what differs."""
    src = tmp_path / "claimed"
    archive = byom_models.tar_directory(byom_models.unbatched(src), tmp_path / "claimed.tgz")
    artifact = upload_resumable(stack["registry"], _kw, archive)
    claimed = rpb.Signature(
        inputs=[rpb.TensorSpec(name="vector", datatype="FP64", shape=[-1, 3])],
        outputs=[rpb.TensorSpec(name="total", datatype="FP32", shape=[-1])],
    )
    stack["registry"].CreateModelVersion(
        rpb.CreateModelVersionRequest(
            parent="models/claimed", model_version=rpb.ModelVersion(artifact=artifact.name, signature=claimed)
        ),
        metadata=MD,
    )
    request = pb.ModelInferRequest(model_name="claimed", model_version="1")
    request.inputs.add(name="vector", datatype="FP32", shape=[3]).contents.fp32_contents.extend([1.0, 2.0, 3.0])
    with pytest.raises(grpc.RpcError) as error:
        stack["oip"].ModelInfer(request, metadata=MD, timeout=120)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not vector FP64[-1, 3]" in error.value.details()
    shutil.rmtree(src)
