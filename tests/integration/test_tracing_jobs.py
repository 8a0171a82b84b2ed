"""A training job is one trace: the client's `traceparent` on CreateTrainingJob is kept with the job,
and the job's own process (an OS process of the trainer's worker) continues it, so the registry
calls it makes (dataset, download, upload, registration) are spans of that trace, and the job's log
lines carry its id. The registry runs in-process with an in-memory exporter; the trainer and its
job process export to the console, into the trainer's log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest

from maas.demo import digits_csv
from maas.registry.v1 import registry_pb2_grpc
from maas.trainer.v1 import trainer_pb2 as pb
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests.conftest import running, service_settings, tenant_md
from tests.integration.test_registry_service import upload_dataset
from tests.integration.test_trainer_jobs import Trainer

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
TRACE_ID = "5c1e8d0a9b7f4e3c8a2d6f1b0e9c7a35"
TRACEPARENT = f"00-{TRACE_ID}-1f2e3d4c5b6a7988-01"
REGISTRY = "maas.registry.v1.RegistryService"


def test_a_training_job_continues_the_trace_of_its_creation_into_the_registry(spans, tmp_path):
    data_dir = tmp_path / "maas"
    with (
        running(build_registry, service_settings(RegistrySettings, data_dir)) as registry,
        grpc.insecure_channel(registry.address) as channel,
    ):
        csv, _, _ = digits_csv()
        upload_dataset(registry_pb2_grpc.RegistryServiceStub(channel), "acme", csv, dataset_id="digits")
        trainer = Trainer(data_dir, registry.address, OTEL_TRACES_EXPORTER="console", OTEL_BSP_SCHEDULE_DELAY="100")
        try:
            spec = pb.TrainingJobSpec(
                dataset=pb.DatasetInput(dataset="datasets/digits", label_column="label"),
                template=pb.TemplateModel(name="mlp"),
                hyperparameters=pb.Hyperparameters(epochs=1, batch_size=64, learning_rate=0.01),
                target_model="models/digits",
            )
            job = trainer.stub.CreateTrainingJob(
                pb.CreateTrainingJobRequest(training_job=pb.TrainingJob(spec=spec)),
                metadata=(*MD, ("traceparent", TRACEPARENT)),
            )
            deadline = time.monotonic() + 120
            while job.state != pb.TrainingJob.STATE_SUCCEEDED and time.monotonic() < deadline:
                assert job.state != pb.TrainingJob.STATE_FAILED, job.state_reason
                time.sleep(0.2)
                job = trainer.stub.GetTrainingJob(pb.GetTrainingJobRequest(name=job.name), metadata=MD)
            assert job.state == pb.TrainingJob.STATE_SUCCEEDED, job.state_reason
            # The job's process ends a moment after its job did (its last line, its spans flushed).
            log_path = Path(trainer.log.name)
            while "job process ended" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            trainer.stop()
    # The job process's registry calls are spans of the creating call's trace.
    traced = {s.name for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID}
    expected = {f"{REGISTRY}/{m}" for m in ("GetDataset", "DownloadArtifact", "UploadArtifact", "CreateModelVersion")}
    assert expected <= traced, traced
    # The trainer's and the job's own spans and log lines, in the trainer's log.
    log = log_path.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith('{"')]
    succeeded = next(line for line in lines if line.get("event") == "job succeeded")
    assert succeeded["trace_id"] == TRACE_ID
    assert '"name": "training job"' in log and f'"trace_id": "0x{TRACE_ID}"' in log
