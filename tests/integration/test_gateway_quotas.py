"""Monthly training time and stored bytes: the trainer and the registry report them, the gateway
refuses new jobs and uploads over the plan with quota details, and GetUsage shows them."""

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from maas.cli import main
from maas.cli.errors import EXIT_USAGE, status_exit_code
from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2 as tpb
from services.common import db
from services.common.timeutil import month_start, next_month_start, now
from services.trainer import tables as trainer_tables
from services.trainer.store import JobStore
from tests.integration.gateway_stack import bearer, error_details, gateway_stack, started_calls

CSV = b"a,b,label\n1,2,0\n3,4,1\n"
JOB = tpb.TrainingJob(
    spec=tpb.TrainingJobSpec(
        dataset=tpb.DatasetInput(dataset="datasets/d", label_column="label"),
        template=tpb.TemplateModel(name="mlp"),
        target_model="models/m",
    )
)


@pytest.fixture
def stack(data_dir, database_url):
    with gateway_stack(data_dir, database_url) as stack:
        yield stack


def trainer_store(stack) -> JobStore:
    return JobStore(db.create_engine(stack.trainer.server.settings.db_url))


def test_training_time_is_the_running_time_of_every_attempt_within_the_month(database_url):
    engine = db.create_engine(database_url)
    db.migrate(engine, "trainer", Path(trainer_tables.__file__).parent / "migrations")
    store = JobStore(engine)
    job_id = store.create("acme", JOB, "m", "").name.removeprefix("trainingJobs/")
    store.claim("w1", lease_seconds=60, max_attempts=5)
    store.requeue(job_id, "worker lost")  # first attempt: a closed run
    store.claim("w2", lease_seconds=60, max_attempts=5)  # second attempt: open, counts up to now
    runs = trainer_tables.runs
    start = month_start(now())
    with engine.begin() as conn:
        attempts = conn.execute(sa.select(runs.c.attempt, runs.c.end_time.is_(None)).order_by(runs.c.attempt)).all()
        assert [tuple(r) for r in attempts] == [(1, False), (2, True)]
        # Earlier runs: one over the month's start (10 s of it count), one ended last month.
        conn.execute(
            runs.insert(),
            [
                {
                    "job_id": job_id,
                    "attempt": 90,
                    "tenant": "acme",
                    "start_time": start - dt.timedelta(hours=1),
                    "end_time": start + dt.timedelta(seconds=10),
                },
                {
                    "job_id": job_id,
                    "attempt": 91,
                    "tenant": "acme",
                    "start_time": start - dt.timedelta(hours=2),
                    "end_time": start - dt.timedelta(hours=1),
                },
            ],
        )
    time.sleep(0.3)
    assert 10.3 <= store.training_seconds("acme", start) < 20
    assert store.training_seconds("globex", start) == 0
    store.finish(job_id, tpb.TrainingJob.State.STATE_SUCCEEDED, "done")
    # Ended: the open run is closed, so the figure stops growing.
    ended = store.training_seconds("acme", start)
    time.sleep(0.2)
    assert store.training_seconds("acme", start) == ended
    engine.dispose()


def test_tenant_whose_monthly_training_time_is_used_up_cannot_start_a_job(stack):
    plan = stack.plan("one-second", training_seconds_per_month=1)
    secret = stack.tenant("acme", plan)
    other = stack.tenant("globex", plan)
    first = stack.jobs.CreateTrainingJob(tpb.CreateTrainingJobRequest(training_job=JOB), metadata=bearer(secret))
    store = trainer_store(stack)
    assert store.claim("worker", lease_seconds=60, max_attempts=3).name == first.name  # as a worker would
    time.sleep(1.3)  # over the plan's second

    with pytest.raises(grpc.RpcError) as error:
        stack.jobs.CreateTrainingJob(tpb.CreateTrainingJobRequest(training_job=JOB), metadata=bearer(secret))

    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = error_details(error.value)
    (violation,) = details["QuotaFailure"].violations
    assert (violation.subject, violation.description) == ("tenants/acme", "training seconds per month: 1")
    # Retrying helps once the month is over.
    retry = details["RetryInfo"].retry_delay.ToTimedelta().total_seconds()
    assert abs(retry - (next_month_start(now()) - now()).total_seconds()) < 5
    listed = stack.jobs.ListTrainingJobs(tpb.ListTrainingJobsRequest(), metadata=bearer(secret))
    assert [job.name for job in listed.training_jobs] == [first.name]
    # The limit is the tenant's, not the plan's: another tenant on it still trains.
    stack.jobs.CreateTrainingJob(tpb.CreateTrainingJobRequest(training_job=JOB), metadata=bearer(other))
    usage = stack.usage("acme")
    assert 1 <= usage.training_seconds < 30
    assert usage.plan.training_seconds_per_month == 1
    store.engine.dispose()


def test_tenant_at_its_storage_limit_cannot_store_more(stack):
    secret = stack.tenant("acme", stack.plan("tiny", stored_bytes=len(CSV)))
    dataset = stack.upload_dataset(secret, CSV)  # admitted: nothing stored yet
    assert stack.usage("acme").stored_bytes == len(CSV)
    artifact = b"model archive"
    upload = [
        rpb.UploadArtifactRequest(header=rpb.UploadArtifactRequest.Header(sha256=hashlib.sha256(artifact).hexdigest())),
        rpb.UploadArtifactRequest(chunk=artifact),
    ]
    # The dataset's own artifact would do for a version; the model would be created with it.
    version = rpb.CreateModelVersionRequest(
        parent="models/m", model_version=rpb.ModelVersion(artifact=f"artifacts/{dataset.sha256}")
    )
    attempts = {
        "CreateDataset": lambda: stack.upload_dataset(secret, CSV + b"5,6,0\n", "e"),
        "UploadArtifact": lambda: stack.models.UploadArtifact(iter(upload), metadata=bearer(secret)),
        "CreateModelVersion": lambda: stack.models.CreateModelVersion(version, metadata=bearer(secret)),
    }
    for method, attempt in attempts.items():
        with pytest.raises(grpc.RpcError) as error:
            attempt()
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, method
        details = error_details(error.value)
        # Waiting frees no space, so no RetryInfo.
        assert set(details) == {"QuotaFailure"}, method
        (violation,) = details["QuotaFailure"].violations
        assert violation.description == f"stored bytes: {len(CSV)}"

    datasets = stack.models.ListDatasets(rpb.ListDatasetsRequest(), metadata=bearer(secret)).datasets
    assert [d.name for d in datasets] == [dataset.name]
    assert not stack.models.ListModels(rpb.ListModelsRequest(), metadata=bearer(secret)).models
    assert stack.usage("acme").stored_bytes == len(CSV)


def test_deleting_a_dataset_with_the_cli_frees_room_under_the_storage_limit(stack, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    secret = stack.tenant("acme", stack.plan("tiny", stored_bytes=len(CSV)))
    stack.upload_dataset(secret, CSV)
    with pytest.raises(grpc.RpcError) as full:
        stack.upload_dataset(secret, CSV + b"5,6,0\n", "e")
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    connection = ["--endpoint", stack.door, "--api-key", secret]
    assert main(["datasets", "delete", "d", *connection]) == EXIT_USAGE  # neither a version nor --all-versions
    assert "--all-versions" in capsys.readouterr().err
    assert main(["datasets", "delete", "d", "--version", "1", "-o", "json", *connection]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "datasets/d/versions/1", "deletedVersions": 1}
    assert main(["datasets", "show", "d", *connection]) == status_exit_code(grpc.StatusCode.NOT_FOUND)
    assert stack.usage("acme").stored_bytes == 0
    assert stack.upload_dataset(secret, CSV + b"5,6,0\n", "e").name == "datasets/e/versions/1"


def test_storage_admission_is_the_registrys_own_check(data_dir):
    """The registry checks stored bytes itself: uploads under a plan cost no usage question."""
    with gateway_stack(data_dir) as stack:
        plan = stack.plan("roomy", stored_bytes=10**9)
        acme, globex = stack.tenant("acme", plan), stack.tenant("globex", plan)
        before = started_calls(stack.registry)
        for i in range(3):
            stack.upload_dataset(acme, CSV, f"d{i}")
        stack.upload_dataset(globex, CSV)
        assert started_calls(stack.registry) - before == 4
        # GetUsage asks the registry (as the gateway service), so it reports the three uploads
        # (one artifact: the same bytes).
        assert stack.usage("acme").stored_bytes == len(CSV)
        assert started_calls(stack.registry) - before == 4 + 1
