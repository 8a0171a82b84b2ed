"""Image and text classifier jobs on a real trainer process beside an in-process registry (as in
test_trainer_jobs): killed mid-training they resume from their checkpoints and register one
version, with each epoch logged once; a template on the wrong kind of dataset fails naming the
template to use; images that decode to more than the job's memory limit train, streamed."""

import io
import os
import signal
import zipfile
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from maas.demo import digits_png_zip, topic_texts
from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from maas.trainer.v1 import trainer_pb2 as pb
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from services.trainer.phases import PEAK_MEMORY
from tests.conftest import running, service_settings
from tests.integration.test_trainer_jobs import MD, State, Trainer, epochs_logged, runner_pid, wait_for

pytestmark = pytest.mark.slow
EPOCHS = 8


def upload(stub, dataset_id: str, data: bytes | Path, **header) -> None:
    def chunks():
        if isinstance(data, bytes):
            yield from (data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20))
        else:
            with data.open("rb") as file:
                yield from iter(lambda: file.read(1 << 20), b"")

    def messages():
        yield rpb.CreateDatasetRequest(header=rpb.CreateDatasetRequest.Header(dataset_id=dataset_id, **header))
        yield from (rpb.CreateDatasetRequest(chunk=chunk) for chunk in chunks())

    stub.CreateDataset(messages(), metadata=MD, timeout=300)


@pytest.fixture
def trainer(tmp_path):
    data_dir = tmp_path / "maas"
    with (
        running(build_registry, service_settings(RegistrySettings, data_dir)) as registry,
        grpc.insecure_channel(registry.address) as channel,
    ):
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        archive, _, _ = digits_png_zip(classes=(0, 1, 2))
        upload(stub, "digits", archive, format=rpb.DatasetFormat.DATASET_FORMAT_ARCHIVE)
        texts, labels = topic_texts(600)
        rows = "\n".join(["text,label", *(f'"{t}",{label}' for t, label in zip(texts, labels))])
        upload(
            stub,
            "topics",
            rows.encode(),
            format=rpb.DatasetFormat.DATASET_FORMAT_CSV,
            kind=rpb.DatasetKind.DATASET_KIND_TEXT,
        )
        process = Trainer(data_dir, registry.address)
        yield process, stub
        process.stop()


def create(process: Trainer, spec: pb.TrainingJobSpec) -> str:
    request = pb.CreateTrainingJobRequest(training_job=pb.TrainingJob(spec=spec))
    return process.stub.CreateTrainingJob(request, metadata=MD).name


def test_a_template_on_the_wrong_kind_of_dataset_fails_naming_the_right_one(trainer):
    process, _ = trainer
    for template, dataset, reason in [
        (
            "image_classifier",
            "topics",
            "datasets/topics/versions/1 is text; the image classifier trains on image datasets",
        ),
        ("mlp", "digits", "holds images: train it with the image_classifier template"),
        ("", "digits", "base model 'models/none/versions/1': model 'none' not found"),
    ]:
        spec = pb.TrainingJobSpec(
            dataset=pb.DatasetInput(dataset=f"datasets/{dataset}", label_column="label"),
            hyperparameters=pb.Hyperparameters(epochs=2),
            target_model="models/wrong",
        )
        if template:
            spec.template.name = template
        else:
            spec.base_model.model_version = "models/none/versions/1"
        job = wait_for(process, create(process, spec), lambda j: j.state == State.STATE_FAILED, timeout=120)
        assert reason in job.state_reason


@pytest.mark.parametrize(
    ("template", "dataset", "parameters"),
    [("image_classifier", "digits", {"filters": [16, 32]}), ("text_classifier", "topics", {"encoder": "gru"})],
)
def test_a_killed_classifier_job_resumes_from_its_checkpoint(trainer, template, dataset, parameters):
    process, registry = trainer
    spec = pb.TrainingJobSpec(
        dataset=pb.DatasetInput(dataset=f"datasets/{dataset}"),
        template=pb.TemplateModel(name=template),
        hyperparameters=pb.Hyperparameters(epochs=EPOCHS, batch_size=32, learning_rate=0.003),
        target_model=f"models/{dataset}",
    )
    spec.template.parameters.update(parameters)
    name = create(process, spec)
    wait_for(process, name, lambda j: j.epoch >= 2, timeout=180)
    os.kill(runner_pid(name), signal.SIGKILL)
    job = wait_for(process, name, lambda j: j.state in (State.STATE_SUCCEEDED, State.STATE_FAILED), timeout=300)
    assert job.state == State.STATE_SUCCEEDED, job.state_reason
    assert job.attempt == 2
    assert epochs_logged(process, name) == list(range(1, EPOCHS + 1))
    listed = registry.ListModelVersions(rpb.ListModelVersionsRequest(parent=f"models/{dataset}"), metadata=MD)
    assert [v.version for v in listed.model_versions] == [1]
    assert len(listed.model_versions[0].classification_report.class_names) in (3, 4)


def write_big_pngs(path: Path, count: int, side: int) -> None:
    """A zip of `count` grey PNGs of side x side, stored uncompressed (so the archive is as large
    as the pixels), in two class folders: dark and light."""
    ramp = np.tile(np.linspace(0, 90, side, dtype=np.uint8), (side, 1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            label = i % 2
            png = io.BytesIO()
            Image.fromarray(ramp + np.uint8(150 * label + i % 7), mode="L").save(png, format="PNG", compress_level=0)
            archive.writestr(f"pictures/{'light' if label else 'dark'}/{i:05d}.png", png.getvalue())


def test_an_image_archive_larger_than_the_job_memory_limit_trains_streaming(tmp_path):
    # The job process is killed above LIMIT of resident memory (MAAS_JOB_MEMORY_LIMIT_BYTES), and
    # the archive is larger: a job that read it, or its images, into memory would never finish.
    limit = 1 << 30
    archive = tmp_path / "big.zip"
    write_big_pngs(archive, 1100, 1024)
    archive_bytes = archive.stat().st_size
    assert archive_bytes > 1.05 * limit
    data_dir = tmp_path / "maas"
    with (
        running(build_registry, service_settings(RegistrySettings, data_dir)) as registry,
        grpc.insecure_channel(registry.address) as channel,
    ):
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        upload(stub, "big", archive, format=rpb.DatasetFormat.DATASET_FORMAT_ARCHIVE)
        archive.unlink()
        process = Trainer(data_dir, registry.address, MAAS_JOB_MEMORY_LIMIT_BYTES=str(limit), MAAS_MAX_ATTEMPTS="1")
        try:
            spec = pb.TrainingJobSpec(
                dataset=pb.DatasetInput(dataset="datasets/big"),
                template=pb.TemplateModel(name="image_classifier"),
                hyperparameters=pb.Hyperparameters(epochs=1, batch_size=32, learning_rate=0.003),
                target_model="models/big",
            )
            spec.template.parameters.update({"filters": [8], "augmentation": False, "image_size": 16})
            name = create(process, spec)
            job = wait_for(process, name, lambda j: j.state in (State.STATE_SUCCEEDED, State.STATE_FAILED), 300)
            assert job.state == State.STATE_SUCCEEDED, job.state_reason
            assert job.attempt == 1
            assert job.evaluation["accuracy"] > 0.9
            # The limit is checked every poll; the process's own peak says no spike went past it.
            events = process.stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=name), metadata=MD, timeout=30)
            (peak,) = [e.log.message for e in events if e.log.message.startswith(PEAK_MEMORY)]
            print(f"{archive_bytes >> 20} MiB archive trained with {peak}")
            assert int(peak.removeprefix(PEAK_MEMORY).split()[0]) < limit >> 20
        finally:
            process.stop()
