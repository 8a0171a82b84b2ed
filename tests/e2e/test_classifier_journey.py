"""Images and texts from upload to prediction through the gateway: a zip of PNG digits trains
`image_classifier` and answers raw uint8 images of other sizes over tritonclient gRPC; a CSV of
texts trains `text_classifier` and answers raw strings over gRPC (BYTES) and KServe v2 REST JSON;
a version trained on digits 0-4 is fine-tuned on 5-9 with a new head."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from maas.client import MaasClient
from maas.demo import digit_image, digits_png_zip, topic_texts
from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PROBE = Path(__file__).with_name("classifier_probe.py")


@pytest.fixture(scope="module")
def client(stack):
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        admin.create_tenant("vision")
        key = admin.create_api_key("vision").secret
    with MaasClient(stack.address("gateway"), key) as client:
        client.key = key
        yield client


def train(client: MaasClient, spec: dict) -> rpb.ModelVersion:
    job = client.create_training_job_from_spec(spec)
    for _ in client.watch_training_job(job.name, timeout=600):
        pass
    job = client.get_training_job(job.name)
    assert job.state == trainer_pb2.TrainingJob.State.STATE_SUCCEEDED, job.state_reason
    return client.get_model_version(job.model_version)


def probe(stack, client, model: str, input_name: str, datatype: str, inputs: np.ndarray, tmp_path: Path, tag: str):
    np.save(tmp_path / f"{tag}.npy", inputs, allow_pickle=True)
    command = [sys.executable, str(PROBE), stack.address("gateway"), client.key, model, input_name, datatype]
    command += [str(tmp_path / f"{tag}.npy"), str(tmp_path / tag)]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    )
    assert run.returncode == 0, run.stderr[-3000:]
    labels = np.load(tmp_path / f"{tag}-label.npy", allow_pickle=True)
    return json.loads(run.stdout.strip().splitlines()[-1]), [label.decode() for label in labels]


def image_spec(dataset: str, model: str, epochs: int) -> dict:
    return {
        "dataset": {"dataset": dataset},
        "template": {"name": "image_classifier"},
        "hyperparameters": {"epochs": epochs, "batch_size": 32, "learning_rate": 0.003, "seed": 1},
        "target_model": f"models/{model}",
    }


def test_image_classifier_answers_raw_images_of_another_size(stack, client, tmp_path):
    archive, test_x, test_y = digits_png_zip()
    dataset = client.upload_dataset("digit-images", archive, fmt="archive")
    assert dataset.kind == rpb.DatasetKind.DATASET_KIND_IMAGE and len(dataset.classes) == 10
    assert dataset.image_stats.max_width == 32 and dataset.invalid_count == 0
    version = train(client, image_spec(dataset.name, "digit-cnn", epochs=12))
    assert [t.datatype for t in version.signature.inputs] == ["UINT8"]
    report = version.classification_report
    assert list(report.class_names) == [str(i) for i in range(10)] and len(report.confusion_matrix) == 100
    assert sum(report.support) == sum(report.confusion_matrix) == 288 and report.samples[0].thumbnail_png
    client.set_alias("digit-cnn", "production", version.version)

    # 24x24 grey and 40x40 colour: neither is the 32x32 the model trained on.
    grey = np.stack([digit_image(p, 24) for p in test_x])[..., None]
    metadata, labels = probe(stack, client, "digit-cnn", "images", "UINT8", grey, tmp_path, "grey")
    assert metadata["inputs"] == [["images", "UINT8", [-1, -1, -1, -1]]]
    accuracy = float(np.mean(np.array(labels) == test_y.astype(str)))
    colour = np.repeat(np.stack([digit_image(p, 40) for p in test_x[:64]])[..., None], 3, axis=-1)
    _, colour_labels = probe(stack, client, "digit-cnn", "images", "UINT8", colour, tmp_path, "colour")
    colour_accuracy = float(np.mean(np.array(colour_labels) == test_y[:64].astype(str)))
    print(f"image_classifier held-out accuracy: {accuracy:.4f} on {len(test_y)} 24x24 digits, "
          f"{colour_accuracy:.4f} on 64 40x40 RGB digits; validation {version.metrics['accuracy']:.4f}")  # fmt: skip
    assert accuracy >= 0.95 and colour_accuracy >= 0.9


def test_text_classifier_answers_raw_strings_over_grpc_and_rest(stack, client, tmp_path):
    texts, labels = topic_texts(1200, seed=0)
    rows = ["text,label", *(f'"{t}",{label}' for t, label in zip(texts, labels))]
    dataset = client.upload_dataset("topics", "\n".join(rows).encode(), fmt="csv", kind="text")
    assert dataset.kind == rpb.DatasetKind.DATASET_KIND_TEXT and len(dataset.classes) == 4
    spec = {
        "dataset": {"dataset": dataset.name},
        "template": {"name": "text_classifier", "parameters": {"encoder": "transformer", "sequence_length": 24}},
        "hyperparameters": {"epochs": 4, "batch_size": 32, "learning_rate": 0.003},
        "target_model": "models/topics",
    }
    version = train(client, spec)
    assert [(t.name, t.datatype) for t in version.signature.inputs] == [("text", "BYTES")]
    assert version.classification_report.samples[0].text
    client.set_alias("topics", "production", version.version)

    test_texts, test_labels = topic_texts(300, seed=7)
    strings = np.array([t.encode() for t in test_texts], dtype=object)
    _, grpc_labels = probe(stack, client, "topics", "text", "BYTES", strings, tmp_path, "text")
    grpc_accuracy = float(np.mean(np.array(grpc_labels) == np.array(test_labels)))
    body = {"inputs": [{"name": "text", "shape": [len(test_texts)], "datatype": "BYTES", "data": test_texts}]}
    reply = httpx.post(
        f"{stack.http_url}/v2/models/topics/infer",
        json=body,
        headers={"authorization": f"Bearer {client.key}"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    outputs = {o["name"]: o for o in reply.json()["outputs"]}
    assert outputs["probabilities"]["shape"] == [len(test_texts), 4]
    rest_accuracy = float(np.mean(np.array(outputs["label"]["data"]) == np.array(test_labels)))
    print(f"text_classifier held-out accuracy: gRPC {grpc_accuracy:.4f}, REST {rest_accuracy:.4f} "
          f"on {len(test_texts)} texts of 4 topics (chance 0.25)")  # fmt: skip
    assert grpc_accuracy == rest_accuracy >= 0.8


def test_fine_tuning_digits_0_to_4_on_5_to_9_with_a_new_head(stack, client, tmp_path):
    low, _, _ = digits_png_zip(classes=(0, 1, 2, 3, 4))
    high, test_x, test_y = digits_png_zip(classes=(5, 6, 7, 8, 9))
    low_set = client.upload_dataset("digits-low", low, fmt="archive")
    high_set = client.upload_dataset("digits-high", high, fmt="archive")
    base = train(client, image_spec(low_set.name, "digits-low", epochs=15))
    client.set_alias("digits-low", "production", base.version)
    spec = image_spec(high_set.name, "digits-high", epochs=10)
    del spec["template"]
    spec["base_model"] = {"model_version": "models/digits-low/versions/production", "frozen_epochs": 2}
    tuned = train(client, spec)
    assert tuned.lineage.base_model_version == base.name
    assert list(tuned.classification_report.class_names) == ["5", "6", "7", "8", "9"]
    client.set_alias("digits-high", "production", tuned.version)
    images = np.stack([digit_image(p, 32) for p in test_x])[..., None]
    _, labels = probe(stack, client, "digits-high", "images", "UINT8", images, tmp_path, "tuned")
    accuracy = float(np.mean(np.array(labels) == test_y.astype(str)))
    print(f"fine-tuned {base.name} -> {tuned.name}: held-out accuracy on digits 5-9 {accuracy:.4f} "
          f"(base validation accuracy on 0-4 {base.metrics['accuracy']:.4f})")  # fmt: skip
    assert accuracy >= 0.9
