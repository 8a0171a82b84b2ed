"""The trainer's job API on a real server (no workers: this is the API process's part)."""

import json

import grpc
import pytest

from maas.trainer.v1 import trainer_pb2 as pb
from maas.trainer.v1 import trainer_pb2_grpc
from services.trainer.config import TrainerSettings
from services.trainer.server import build_server
from tests.conftest import running, service_settings, status_of, tenant_md


@pytest.fixture
def trainer(data_dir):
    with (
        running(build_server, service_settings(TrainerSettings, data_dir, local_workers=0)) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        yield trainer_pb2_grpc.TrainerServiceStub(channel)


def job(**spec_fields) -> pb.TrainingJob:
    spec = pb.TrainingJobSpec(
        dataset=pb.DatasetInput(dataset="datasets/digits", label_column="label"),
        template=pb.TemplateModel(name="mlp"),
        target_model="models/digits",
    )
    for key, value in spec_fields.items():
        setattr(spec, key, value)
    return pb.TrainingJob(spec=spec)


def test_create_is_idempotent_by_request_id_and_queued(trainer):
    md = tenant_md("acme")
    first = trainer.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job(), request_id="r1"), metadata=md)
    again = trainer.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job(), request_id="r1"), metadata=md)
    other = trainer.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job(), request_id="r2"), metadata=md)
    assert first.name == again.name != other.name
    assert first.state == pb.TrainingJob.State.STATE_QUEUED
    listed = trainer.ListTrainingJobs(pb.ListTrainingJobsRequest(filter="state=QUEUED"), metadata=md)
    assert {j.name for j in listed.training_jobs} == {first.name, other.name}


def test_lambda_layer_is_refused_at_submission(trainer):
    model_json = json.dumps(
        {
            "class_name": "Sequential",
            "config": {"layers": [{"module": "keras.layers", "class_name": "Lambda", "config": {"function": "exec"}}]},
        }
    )
    with pytest.raises(grpc.RpcError) as error:
        trainer.CreateTrainingJob(
            pb.CreateTrainingJobRequest(training_job=job(keras_model_json=model_json)), metadata=tenant_md("acme")
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Lambda" in error.value.details()


def test_cancel_queued_job_and_watch_ends_with_the_state(trainer):
    md = tenant_md("acme")
    created = trainer.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job()), metadata=md)
    cancelled = trainer.CancelTrainingJob(pb.CancelTrainingJobRequest(name=created.name), metadata=md)
    assert cancelled.state == pb.TrainingJob.State.STATE_CANCELLED
    events = list(trainer.WatchTrainingJob(pb.WatchTrainingJobRequest(name=created.name), metadata=md, timeout=10))
    states = [e.state_change.state for e in events if e.HasField("state_change")]
    assert states == [pb.TrainingJob.State.STATE_QUEUED, pb.TrainingJob.State.STATE_CANCELLED]
    again = status_of(lambda: trainer.CancelTrainingJob(pb.CancelTrainingJobRequest(name=created.name), metadata=md))
    assert again == grpc.StatusCode.FAILED_PRECONDITION


def test_jobs_are_invisible_to_other_tenants(trainer):
    created = trainer.CreateTrainingJob(pb.CreateTrainingJobRequest(training_job=job()), metadata=tenant_md("acme"))
    code = status_of(
        lambda: trainer.GetTrainingJob(pb.GetTrainingJobRequest(name=created.name), metadata=tenant_md("globex"))
    )
    assert code == grpc.StatusCode.NOT_FOUND


def test_api_process_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, services.trainer.server; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == (
        "False"
    )
