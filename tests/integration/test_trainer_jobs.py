"""Real training jobs on digits: resume after SIGKILL (of the job process and of the whole
worker), failures a user can act on, cancel, and watch. The trainer runs as a process of its
own, as in production, beside an in-process registry."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest

from maas.demo import digits_csv
from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from maas.stack import wait_serving
from maas.trainer.v1 import trainer_pb2 as pb
from maas.trainer.v1 import trainer_pb2_grpc
from services.common.ports import PORTS_FILE_ENV, wait_ports_file
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from services.trainer import phases
from services.trainer.config import WAIT_FOR_JOB
from tests.conftest import SERVICE_SECRET, running, service_settings, tenant_md
from tests.integration.test_registry_service import upload_dataset

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
State = pb.TrainingJob.State


class Trainer:
    """A trainer process (API + local workers) on the test's database."""

    def __init__(self, data_dir: Path, registry: str, **env: str) -> None:
        ports_file = data_dir / f"trainer-{uuid.uuid4().hex[:8]}.ports.json"
        environment = {
            **os.environ,
            "MAAS_DATA_DIR": str(data_dir),
            "MAAS_PORT": "0",
            PORTS_FILE_ENV: str(ports_file),
            "MAAS_METRICS_PORT": "-1",
            "MAAS_REGISTRY_ADDR": registry,
            "MAAS_POLL_SECONDS": "0.2",
            # The deployment secret of the test servers (the registry takes the job's calls as the
            # trainer's), and no gateway.
            "MAAS_SERVICE_SECRET": SERVICE_SECRET,
            "MAAS_GATEWAY_ADDR": "127.0.0.1:1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # Job processes start per job, named by the job (runner_pids); one test runs them warm.
            "MAAS_WARM_JOB_PROCESS": "false",
            **env,
        }
        self.log = ports_file.with_suffix("").with_suffix(".log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.trainer"], env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.port = wait_ports_file(ports_file, self.process, 60)["port"]
        assert wait_serving(f"127.0.0.1:{self.port}", 60), "trainer did not start"
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = trainer_pb2_grpc.TrainerServiceStub(self.channel)

    def stop(self, sig=signal.SIGTERM) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)
        self.log.close()


@pytest.fixture
def setup(tmp_path):
    data_dir = tmp_path / "maas"
    with (
        running(build_registry, service_settings(RegistrySettings, data_dir)) as registry,
        grpc.insecure_channel(registry.address) as channel,
    ):
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        csv, _, _ = digits_csv()
        upload_dataset(stub, "acme", csv, dataset_id="digits", chunk=64 * 1024)
        started: list[Trainer] = []

        def start_trainer(**env):
            trainer = Trainer(data_dir, registry.address, **env)
            started.append(trainer)
            return trainer

        yield start_trainer, stub
        for trainer in started:
            trainer.stop()


def submit(trainer: Trainer, epochs=40, label="label", learning_rate=0.002, workers=0, **hp) -> str:
    spec = pb.TrainingJobSpec(
        dataset=pb.DatasetInput(dataset="datasets/digits", label_column=label),
        template=pb.TemplateModel(name="mlp"),
        hyperparameters=pb.Hyperparameters(epochs=epochs, batch_size=32, learning_rate=learning_rate, **hp),
        resources=pb.Resources(workers=workers),
        target_model="models/digits",
    )
    return trainer.stub.CreateTrainingJob(
        pb.CreateTrainingJobRequest(training_job=pb.TrainingJob(spec=spec)), metadata=MD
    ).name


def wait_for(trainer: Trainer, name: str, condition, timeout=120) -> pb.TrainingJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = trainer.stub.GetTrainingJob(pb.GetTrainingJobRequest(name=name), metadata=MD)
        if condition(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"timed out; job is {job}")


def epochs_logged(trainer: Trainer, name: str) -> list[int]:
    events = trainer.stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=name), metadata=MD, timeout=30)
    return [e.epoch_end.epoch for e in events if e.HasField("epoch_end")]


def runner_pids(job_name: str) -> dict[int, int]:
    """The job's processes: worker index (0 for a single-worker job) -> pid."""
    job_id = job_name.split("/")[1]
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"services.trainer.runner" in cmdline and job_id.encode() in cmdline:
                tf_config = next((e for e in environ if e.startswith(b"TF_CONFIG=")), None)
                index = json.loads(tf_config.split(b"=", 1)[1])["task"]["index"] if tf_config else 0
                found[index] = int(proc.name)
    return found


def spare_pids(trainer: Trainer) -> set[int]:
    """The trainer's job processes started ahead (waiting for a job, or running the one given)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == trainer.process.pid and WAIT_FOR_JOB.encode() in cmdline and alive(int(proc.name)):
                found.add(int(proc.name))
    return found


def wait_until(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped by whoever inherited it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def runner_pid(job_name: str) -> int:
    pids = runner_pids(job_name)
    assert pids, "no runner process found"
    return pids[0]


def versions(registry_stub) -> list[int]:
    try:
        listed = registry_stub.ListModelVersions(rpb.ListModelVersionsRequest(parent="models/digits"), metadata=MD)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
        return []
    return [v.version for v in listed.model_versions]


def test_killed_job_process_resumes_from_its_checkpoint(setup):
    start_trainer, registry = setup
    trainer = start_trainer()
    name = submit(trainer)
    wait_for(trainer, name, lambda j: j.epoch >= 3)
    os.kill(runner_pid(name), signal.SIGKILL)
    job = wait_for(trainer, name, lambda j: j.state in (State.STATE_SUCCEEDED, State.STATE_FAILED))
    assert job.state == State.STATE_SUCCEEDED, job.state_reason
    assert job.attempt == 2
    logged = epochs_logged(trainer, name)
    # Each epoch logged once, in order: the second attempt went on from the checkpoint.
    assert logged == list(range(1, 41))
    assert versions(registry) == [1]
    assert job.evaluation["accuracy"] > 0.9
    # The version keeps what drift is measured against: its features' bins and the trained
    # model's predicted classes on its training rows (digits: ten classes, none rare).
    version = registry.GetModelVersion(rpb.GetModelVersionRequest(name="models/digits/versions/1"), metadata=MD)
    reference = version.reference_statistics
    assert len(reference.features) == 64 and reference.prediction_output == "probabilities"
    assert len(reference.prediction_shares) == 10 and abs(sum(reference.prediction_shares) - 1) < 1e-6
    assert min(reference.prediction_shares) > 0.05, reference.prediction_shares
    # The per-class report of the validation split (a fifth of the rows, held out by the job), as
    # the image and text classifiers have: classes named by their ids, samples showing the row.
    report = version.classification_report
    assert list(report.class_names) == [str(d) for d in range(10)]
    rows = registry.GetDataset(rpb.GetDatasetRequest(name="datasets/digits"), metadata=MD).row_count
    assert sum(report.confusion_matrix) == sum(report.support) == round(rows * 0.2)
    assert len(report.confusion_matrix) == 100 and min(report.recall) > 0.7, report.recall
    assert len(report.samples) == 8 and len(report.samples[0].text.split(", ")) == 64
    assert job.evaluation["macro_recall"] == pytest.approx(sum(report.recall) / 10)


def test_killed_worker_has_its_job_resumed_by_another_after_the_lease(setup):
    start_trainer, registry = setup
    first = start_trainer(MAAS_LEASE_SECONDS="2")
    name = submit(first)
    wait_for(first, name, lambda j: j.epoch >= 3)
    runner = runner_pid(name)
    first.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{runner}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{runner}").exists(), "the job process outlived its worker"
    second = start_trainer(MAAS_LEASE_SECONDS="2")
    job = wait_for(second, name, lambda j: j.state in (State.STATE_SUCCEEDED, State.STATE_FAILED))
    assert job.state == State.STATE_SUCCEEDED, job.state_reason
    assert job.attempt == 2
    logged = epochs_logged(second, name)
    assert logged[0] == 1 and logged == sorted(set(logged)) and logged[-1] == 40
    assert versions(registry) == [1]


def test_failures_name_their_cause(setup):
    start_trainer, _ = setup
    trainer = start_trainer()
    missing = submit(trainer, epochs=2, label="digit")
    job = wait_for(trainer, missing, lambda j: j.state == State.STATE_FAILED)
    assert "label column 'digit' not found" in job.state_reason and job.failure_kind == "data"
    exploding = submit(trainer, epochs=5, learning_rate=10, optimizer="sgd")
    job = wait_for(trainer, exploding, lambda j: j.state in (State.STATE_FAILED, State.STATE_SUCCEEDED))
    assert job.state == State.STATE_FAILED and "NaN" in job.state_reason and job.failure_kind == "nan_loss"


def test_cancel_stops_a_running_job_within_five_seconds(setup):
    start_trainer, registry = setup
    trainer = start_trainer()
    name = submit(trainer, epochs=400)
    wait_for(trainer, name, lambda j: j.epoch >= 1)
    asked = time.monotonic()
    trainer.stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=name), metadata=MD)
    job = wait_for(trainer, name, lambda j: j.state == State.STATE_CANCELLED, timeout=10)
    assert time.monotonic() - asked < 5
    assert job.epoch < 400
    assert versions(registry) == []


def test_watch_resumes_after_a_dropped_stream(setup):
    start_trainer, _ = setup
    trainer = start_trainer()
    name = submit(trainer, epochs=6)
    stream = trainer.stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=name), metadata=MD, timeout=60)
    first = [next(stream) for _ in range(3)]
    stream.cancel()
    rest = list(
        trainer.stub.WatchTrainingJob(
            pb.WatchTrainingJobRequest(name=name, after_sequence=first[-1].sequence), metadata=MD, timeout=60
        )
    )
    events = first + rest
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences))
    assert [e.epoch_end.epoch for e in events if e.HasField("epoch_end")] == [1, 2, 3, 4, 5, 6]
    assert events[-1].HasField("evaluation") and events[-1].evaluation.model_version == "models/digits/versions/1"


def test_jobs_run_in_the_process_started_ahead_which_is_replaced_after_each(setup):
    start_trainer, registry = setup
    trainer = start_trainer(MAAS_WARM_JOB_PROCESS="true")
    (spare,) = wait_until(lambda: spare_pids(trainer), what="a job process started ahead")
    name = submit(trainer, epochs=400)
    wait_for(trainer, name, lambda j: j.epoch >= 1)
    # The job runs in that process: none was started for it, and no other is started ahead
    # while the only slot is busy.
    assert not runner_pids(name)
    assert spare_pids(trainer) == {spare}
    trainer.stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=name), metadata=MD)
    wait_for(trainer, name, lambda j: j.state == State.STATE_CANCELLED, timeout=10)
    wait_until(lambda: not alive(spare), timeout=10, what="the cancelled job's process to end")
    (replacement,) = wait_until(lambda: spare_pids(trainer), what="a new job process started ahead")
    assert replacement != spare
    second = submit(trainer, epochs=3)
    job = wait_for(trainer, second, lambda j: j.state in (State.STATE_SUCCEEDED, State.STATE_FAILED))
    assert job.state == State.STATE_SUCCEEDED, job.state_reason
    assert versions(registry) == [1]
    # The job's own account of its time, one line at its end.
    events = trainer.stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=second), metadata=MD, timeout=30)
    (timed,) = [p for e in events if e.HasField("log") and (p := phases.parse(e.log.message))]
    assert {"start-up", "data", "fit", "checkpoints", "evaluation", "export", "upload", "registration"} <= set(timed)


def test_two_worker_job_trains_as_two_processes_and_registers_one_version(setup):
    start_trainer, registry = setup
    trainer = start_trainer()
    started = time.monotonic()
    name = submit(trainer, epochs=15, workers=2)
    wait_for(trainer, name, lambda j: j.epoch >= 1, timeout=180)
    # Two cooperating processes, told their places by TF_CONFIG.
    assert sorted(runner_pids(name)) == [0, 1]
    job = wait_for(trainer, name, lambda j: j.state in (State.STATE_SUCCEEDED, State.STATE_FAILED), timeout=300)
    assert job.state == State.STATE_SUCCEEDED, job.state_reason
    print(f"2-worker job: {time.monotonic() - started:.1f}s, accuracy {job.evaluation['accuracy']:.3f}")
    assert job.evaluation["accuracy"] > 0.9
    # The chief alone reported each epoch once and registered once.
    assert epochs_logged(trainer, name) == list(range(1, 16))
    assert versions(registry) == [1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(job.metrics)
    deadline = time.monotonic() + 10
    while runner_pids(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runner_pids(name), "a worker process outlived its job"


def test_a_killed_peer_fails_the_attempt_which_resumes_from_its_checkpoint(setup):
    start_trainer, registry = setup
    trainer = start_trainer()
    name = submit(trainer, epochs=12, workers=2)
    wait_for(trainer, name, lambda j: j.epoch >= 3, timeout=180)
    os.kill(runner_pids(name)[1], signal.SIGKILL)
    # Well within the collective timeout (300 s): the dead peer ended the attempt at once.
    job = wait_for(trainer, name, lambda j: j.state in (State.STATE_SUCCEEDED, State.STATE_FAILED), timeout=150)
    assert job.state == State.STATE_SUCCEEDED, job.state_reason
    # The second attempt went on from the checkpoint.
    assert job.attempt == 2
    logged = epochs_logged(trainer, name)
    assert logged[0] == 1 and logged == sorted(set(logged)) and logged[-1] == 12
    assert versions(registry) == [1]


def test_cancel_stops_every_process_of_a_two_worker_job(setup):
    start_trainer, registry = setup
    trainer = start_trainer()
    name = submit(trainer, epochs=400, workers=2)
    wait_for(trainer, name, lambda j: j.epoch >= 1, timeout=180)
    pids = runner_pids(name)
    assert sorted(pids) == [0, 1]
    asked = time.monotonic()
    trainer.stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=name), metadata=MD)
    wait_for(trainer, name, lambda j: j.state == State.STATE_CANCELLED, timeout=10)
    assert time.monotonic() - asked < 5
    # The supervisor's end takes both workers down (parent-death signal), not only the chief.
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids.values() if alive(pid)]
    assert versions(registry) == []
