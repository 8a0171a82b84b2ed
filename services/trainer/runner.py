"""The bootstrap of one training job, in its own process: `python -m services.trainer.runner <job_id>`.

Builds the job's registry client, runs the job's kind of training (`tabular_job`, or
`classifier_job`) and records how it ended: SUCCEEDED with its registered version, or FAILED
with a message a user can act on, never a traceback.

With `TF_CONFIG` set the process is one worker of a multi-worker job (`services.trainer.supervisor`):
every worker trains; only the chief (task 0) reports, checkpoints, exports and registers.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import grpc
import keras
import structlog
import tensorflow as tf

from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2 as pb
from services.common import db, tracing
from services.common.clients import ChecksumMismatch, PeerChannels, backend_metadata, read_retries
from services.common.credentials import SERVICE_KEY, service_token
from services.common.errors import DomainError
from services.common.logging import configure_logging
from services.trainer import multiworker
from services.trainer.classifier_job import train_classifier
from services.trainer.config import WAIT_FOR_JOB, TrainerSettings
from services.trainer.failures import JobFailure
from services.trainer.phases import PEAK_MEMORY, Phases
from services.trainer.progress import log_event
from services.trainer.registry_client import RegistryClient
from services.trainer.spec import CLASSIFIER_TEMPLATES
from services.trainer.store import JobStore, LeaseLost
from services.trainer.supervisor import Task, die_with_worker, task_from_environment
from services.trainer.tabular_job import train_tabular

log = structlog.get_logger("maas.trainer.runner")
State = pb.TrainingJob.State
REGISTRY_SERVICE = rpb.DESCRIPTOR.services_by_name["RegistryService"]


def run(job_id: str, settings: TrainerSettings) -> None:
    engine = db.create_engine(settings.db_url)
    store = JobStore(engine)
    tenant = store.tenant_of(job_id)
    tracing.continue_in_process(store.traceparent_of(job_id), "training job", job=job_id)
    job = store.get(None, job_id)
    phases = Phases()
    # From the claim to here: starting the process and importing TensorFlow (unless it was warm).
    phases.add("start-up", max(0.0, time.time() - job.start_time.ToDatetime(dt.UTC).timestamp()))
    task = task_from_environment()
    structlog.contextvars.bind_contextvars(job=job_id, tenant=tenant, worker=task.index if task else 0)
    client = job_registry_client(settings, tenant, job_id)
    if task is not None and not task.chief:
        try:
            _train(store, job, client, settings, task, phases)
        except (JobFailure, DomainError) as failure:
            # The chief meets the same failure and reports it; exit 0 so that the job's
            # supervisor (or Kubernetes) waits for the chief instead of retrying the attempt.
            log.info("worker stopped on a failure the chief reports", reason=str(failure))
        finally:
            client.close()
            engine.dispose()
        return
    attempt = job.attempt

    def fail(reason: str, kind: str) -> None:
        log.info("job failed", reason=reason, kind=kind)
        if store.finish(job_id, State.STATE_FAILED, reason, attempt=attempt, failure_kind=kind):
            _drop_checkpoint(store, client, job_id)

    try:
        version = _train(store, job, client, settings, task, phases)
        assert version is not None  # the chief, or the only worker, registers the version
        log_event(store, job_id, f"{PEAK_MEMORY}{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB")
        log_event(store, job_id, phases.summary())
        if store.finish(
            job_id,
            State.STATE_SUCCEEDED,
            f"registered {version.name}",
            attempt=attempt,
            model_version=version.name,
            evaluation=dict(version.metrics),
        ):
            store.append_event(
                job_id,
                pb.TrainingJobEvent(
                    evaluation=pb.TrainingJobEvent.Evaluation(metrics=dict(version.metrics), model_version=version.name)
                ),
            )
            _drop_checkpoint(store, client, job_id)
        log.info("job succeeded", model_version=version.name)
    except LeaseLost:
        log.info("job no longer ours (cancelled or taken over); stopping")
    except JobFailure as failure:
        fail(str(failure), failure.kind)
    except ChecksumMismatch as error:
        fail(f"{error.message}; retry the job", "storage")
    except DomainError as error:
        fail(error.message, "data")
    except grpc.RpcError as error:
        log.warning("registry call failed", code=error.code().name, details=error.details())
        fail(f"the registry refused a call: {error.details()}", "registry")
    except MemoryError:
        fail("out of memory: use a smaller batch size or model", "out_of_memory")
    finally:
        client.close()
        engine.dispose()


def job_registry_client(settings: TrainerSettings, tenant: str, job_id: str) -> RegistryClient:
    """The job's registry client: it calls as the trainer (its service token, or its mTLS
    certificate) for the job's tenant, its request id the job's."""
    identity = ((SERVICE_KEY, service_token(settings.service_secret, "trainer")),) if settings.service_secret else ()
    channel = PeerChannels(settings).blocking(settings.registry_addr, *read_retries(REGISTRY_SERVICE))
    return RegistryClient(channel, backend_metadata(identity, tenant, job_id))


def _drop_checkpoint(store: JobStore, client: RegistryClient, job_id: str) -> None:
    """A finished job's checkpoint is of no further use."""
    artifact, _ = store.checkpoint(job_id)
    if artifact:
        try:
            client.delete(artifact)
        except grpc.RpcError as error:
            log.warning("could not delete the last checkpoint", artifact=artifact, details=error.details())


def _train(
    store: JobStore,
    job: pb.TrainingJob,
    client: RegistryClient,
    settings: TrainerSettings,
    task: Task | None,
    phases: Phases,
) -> rpb.ModelVersion | None:
    """The job's kind of training (tabular, or a classifier or fine-tuning job) in a scratch
    directory; returns the registered version, or None on a worker that is not the chief."""
    # First of all TensorFlow work in the process: waits for every worker of the job to join.
    strategy = multiworker.create_strategy(settings.collective_timeout_seconds) if task else None
    spec = job.spec
    template = spec.template.name if spec.WhichOneof("model") == "template" else None
    keras.utils.set_random_seed(spec.hyperparameters.seed)
    with tempfile.TemporaryDirectory(prefix=f"maas-{job.name.split('/')[1]}-") as tmp:
        if spec.WhichOneof("model") == "base_model" or template in CLASSIFIER_TEMPLATES:
            if task is not None and template is None:
                raise JobFailure("fine-tuning jobs train on one worker")
            return train_classifier(store, job, client, Path(tmp), phases, strategy, task)
        return train_tabular(store, job, client, Path(tmp), phases, strategy, task)


def wait_for_job() -> str:
    """In a job process started ahead (`--wait-for-job`): finish starting up, then wait for the
    worker to write the id of the job to run on stdin ('' when it closes stdin unused)."""
    tf.constant(0.0).numpy()  # TensorFlow's runtime (thread pools, kernels) starts now, not in the job
    return sys.stdin.readline().strip()


def main() -> None:
    die_with_worker()
    settings = TrainerSettings()
    configure_logging("trainer-job", settings.log_level, settings.log_format)
    tracing.configure_tracing("maas-trainer-job")
    try:
        job_id = wait_for_job() if sys.argv[1] == WAIT_FOR_JOB else sys.argv[1]
        if job_id:
            run(job_id, settings)
    finally:
        tracing.shutdown_tracing()
    # Skip the interpreter's and TensorFlow's teardown (seconds): the job's state is written, its
    # connections closed and its spans sent, and the worker's slot frees as soon as this process is gone.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
