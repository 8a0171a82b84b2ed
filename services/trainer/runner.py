"""One training job, in its own process: `python -m services.trainer.runner <job_id>`.

Fetches the dataset from the registry, trains with Keras, reports each epoch, evaluates on
held-out data, exports a SavedModel with a serving signature and registers it as a new
version. Failures a user can act on end the job FAILED with a message, never a traceback.

With `TF_CONFIG` set the process is one worker of a multi-worker job (`services.trainer.cluster`):
every worker trains; only the chief (task 0) reports, checkpoints, exports and registers.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import resource
import sys
import tarfile
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import grpc
import keras
import numpy as np
import structlog
import tensorflow as tf
from google.protobuf import json_format

from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2 as pb
from services.common import db, tracing
from services.common.clients import ChecksumMismatch, PeerChannels, backend_metadata, read_retries
from services.common.credentials import SERVICE_KEY, service_token
from services.common.drift import reference_statistics
from services.common.errors import DomainError, InvalidArgument
from services.common.logging import configure_logging
from services.common.tabular import csv_header, load_csv_numeric
from services.trainer import multiworker
from services.trainer.cluster import Task, die_with_worker, task_from_environment
from services.trainer.config import WAIT_FOR_JOB, TrainerSettings
from services.trainer.failures import JobFailure
from services.trainer.phases import PEAK_MEMORY, Phases
from services.trainer.registry_client import RegistryClient
from services.trainer.spec import CLASSIFIER_TEMPLATES, template_parameters
from services.trainer.store import JobStore, LeaseLost
from services.trainer.templates import OPTIMIZERS, build_model, is_classification

log = structlog.get_logger("maas.trainer.runner")
State = pb.TrainingJob.State
REGISTRY_SERVICE = rpb.DESCRIPTOR.services_by_name["RegistryService"]


def fetch_dataset(client: RegistryClient, spec_input: pb.DatasetInput, role: str) -> rpb.Dataset:
    try:
        return client.dataset(spec_input.dataset)
    except grpc.RpcError as error:
        raise JobFailure(f"{role} dataset {spec_input.dataset!r}: {error.details()}") from None


def _load_table(client: RegistryClient, spec_input: pb.DatasetInput, workdir: Path, role: str):
    """Features and labels of a dataset as float arrays, and its lineage record."""
    dataset = fetch_dataset(client, spec_input, role)
    if dataset.kind == rpb.DatasetKind.DATASET_KIND_IMAGE:
        raise JobFailure(f"{role} dataset {dataset.name} holds images: train it with the image_classifier template")
    if dataset.kind == rpb.DatasetKind.DATASET_KIND_TEXT:
        raise JobFailure(f"{role} dataset {dataset.name} holds texts: train it with the text_classifier template")
    path = workdir / f"{role}-{dataset.sha256}"
    client.download(dataset.artifact, dataset.sha256, path)
    if dataset.format == rpb.DatasetFormat.DATASET_FORMAT_NPZ:
        with np.load(path, allow_pickle=False) as archive:
            for array in (spec_input.features_array, spec_input.labels_array):
                if array not in archive.files:
                    raise JobFailure(f"{role} dataset: array {array!r} not found; it has {archive.files}")
            features = archive[spec_input.features_array].astype("float32")
            labels = archive[spec_input.labels_array]
        return features.reshape(len(features), -1), labels.astype("float64"), dataset
    header = csv_header(path)
    label = spec_input.label_column
    if not label:
        raise JobFailure(f"{role} dataset: label_column is required for CSV datasets")
    if label not in header:
        raise JobFailure(f"{role} dataset: label column {label!r} not found; the dataset has columns {header}")
    feature_columns = list(spec_input.feature_columns) or [c for c in header if c != label]
    try:
        columns = load_csv_numeric(path, [*feature_columns, label])
    except InvalidArgument as error:
        raise JobFailure(f"{role} dataset: {error.message}") from None
    features = np.stack([columns[c] for c in feature_columns], axis=1).astype("float32")
    if np.isnan(features).any():
        raise JobFailure(f"{role} dataset: feature columns have empty cells; fill or drop them first")
    return features, columns[label], dataset


class ProgressCallback(keras.callbacks.Callback):
    """After each epoch: save a checkpoint, then, on a thread while the next epoch trains, write
    it to the artifact store, record the epoch and the checkpoint in one transaction (so a resumed
    job never logs an epoch twice) and drop the checkpoint it replaces. Epochs are recorded in
    order (each waits for the one before), a failed record (LeaseLost, a registry error) surfaces
    at the next epoch's end, and the end of training waits for the last. Stops training on a NaN
    or infinite loss."""

    def __init__(
        self,
        store: JobStore,
        client: RegistryClient,
        job_id: str,
        attempt: int,
        total: int,
        workdir: Path,
        phases: Phases,
    ) -> None:
        super().__init__()
        self.store, self.client, self.job_id, self.attempt, self.total = store, client, job_id, attempt, total
        self.workdir = workdir
        self.phases = phases
        self.nan_epoch = 0
        self.started = time.perf_counter()
        self._recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        with self.phases.timed("checkpoints"):
            self._wait()
            if any(math.isnan(v) or math.isinf(v) for v in metrics.values()):
                self.model.stop_training = True
                self.nan_epoch = epoch + 1
                return
            path = self.workdir / f"checkpoint-{epoch + 1}.keras"
            self.model.save(path)
            seconds = time.perf_counter() - self.started
            self._pending = self._recorder.submit(self._record, epoch + 1, metrics, seconds, path)

    def on_train_end(self, logs=None):
        with self.phases.timed("checkpoints"):
            self._wait()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _record(self, epoch: int, metrics: dict[str, float], seconds: float, path: Path) -> None:
        artifact = self.client.upload(path.read_bytes())
        path.unlink()
        replaced = self.store.save_checkpoint(
            self.job_id, self.attempt, epoch, self.total, metrics, seconds, artifact.name
        )
        if replaced and replaced != artifact.name:
            self.client.delete(replaced)


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
    """Train, then (on the chief or a single worker) evaluate, export and register; returns the
    registered version, or None on a worker that is not the chief."""
    # First of all TensorFlow work in the process: waits for every worker of the job to join.
    strategy = multiworker.create_strategy(settings.collective_timeout_seconds) if task else None
    chief = task is None or task.chief
    spec = job.spec
    hp = spec.hyperparameters
    job_id = job.name.split("/")[1]
    template = spec.template.name if spec.WhichOneof("model") == "template" else None
    params = template_parameters(spec.template) if template else {}
    classification = is_classification(template, params)
    keras.utils.set_random_seed(hp.seed)
    with tempfile.TemporaryDirectory(prefix=f"maas-{job_id}-") as tmp:
        workdir = Path(tmp)
        if spec.WhichOneof("model") == "base_model" or template in CLASSIFIER_TEMPLATES:
            if task is not None and template is None:
                raise JobFailure("fine-tuning jobs train on one worker")
            from services.trainer.classifier_job import train_classifier  # it builds on this module

            return train_classifier(store, job, client, workdir, phases, strategy, task)
        with phases.timed("data"):
            x, y, dataset = _load_table(client, spec.dataset, workdir, "training")
            if spec.HasField("validation_dataset"):
                x_val, y_val, _ = _load_table(client, spec.validation_dataset, workdir, "validation")
        if not spec.HasField("validation_dataset"):
            order = np.random.default_rng(hp.seed).permutation(len(x))
            held = max(1, round(len(x) * spec.validation_split))
            if held >= len(x):
                raise JobFailure(f"the dataset has {len(x)} rows: too few to hold out a validation split")
            x, y, x_val, y_val = x[order[held:]], y[order[held:]], x[order[:held]], y[order[:held]]
        if x.shape[1] != x_val.shape[1]:
            raise JobFailure(f"validation data has {x_val.shape[1]} features, training data {x.shape[1]}")
        classes = 0
        if classification:
            if np.isnan(y).any() or (y != np.round(y)).any() or (y < 0).any():
                raise JobFailure("labels must be non-negative integers (class ids) for classification")
            classes = int(max(y.max(), y_val.max())) + 1
            y, y_val = y.astype("int64"), y_val.astype("int64")
        else:
            y, y_val = y.astype("float32"), y_val.astype("float32")
        checkpoint, initial_epoch = store.checkpoint(job_id)
        # Under a strategy the model's and the optimizer's variables are mirrored on every worker.
        with strategy.scope() if strategy else nullcontext():
            if checkpoint:
                # Resume: weights, optimizer state and normalisation statistics all come back.
                path = workdir / "resume.keras"
                client.download(checkpoint, checkpoint.removeprefix("artifacts/"), path)
                model = keras.models.load_model(path)
                if chief:
                    log_event(
                        store, job_id, f"resuming from the checkpoint of epoch {initial_epoch} (attempt {job.attempt})"
                    )
            else:
                initial_epoch = 0
                normalizer = keras.layers.Normalization(name="normalize")
                normalizer.adapt(x)
                try:
                    model = build_model(template, params, spec.keras_model_json, x.shape[1], classes, normalizer)
                except (ValueError, TypeError, KeyError) as error:
                    raise JobFailure(f"the Keras model JSON does not build: {error}", "invalid_model") from None
                loss = hp.loss or ("sparse_categorical_crossentropy" if classification else "mse")
                metrics = list(hp.metrics) or (["accuracy"] if classification else ["mae"])
                model.compile(
                    optimizer=OPTIMIZERS[hp.optimizer](learning_rate=hp.learning_rate), loss=loss, metrics=metrics
                )
        progress, callbacks = training_callbacks(store, client, job, workdir, phases)
        if strategy is None:
            log_event(store, job_id, f"training on {len(x)} rows, validating on {len(x_val)}, {x.shape[1]} features")
            with phases.timed("fit"):
                model.fit(
                    x,
                    y,
                    validation_data=(x_val, y_val),
                    initial_epoch=initial_epoch,
                    epochs=hp.epochs,
                    batch_size=hp.batch_size,
                    callbacks=callbacks,
                    verbose=0,
                )
        else:
            if chief:
                log_event(
                    store,
                    job_id,
                    f"training on {len(x)} rows with {task.workers} workers, validating on {len(x_val)}, "
                    f"{x.shape[1]} features",
                )
            with phases.timed("fit"):
                train, validation = multiworker.array_datasets(strategy, x, y, (x_val, y_val), hp.batch_size, hp.seed)
                multiworker.fit(
                    strategy,
                    task,
                    model,
                    train,
                    validation,
                    initial_epoch=initial_epoch,
                    epochs=hp.epochs,
                    callbacks=callbacks,
                )
            if not chief:
                return None
            model = multiworker.plain_copy(model, workdir)
        if progress.nan_epoch:
            raise nan_failure(progress.nan_epoch)
        with phases.timed("evaluation"):
            evaluation = {k: float(v) for k, v in model.evaluate(x_val, y_val, verbose=0, return_dict=True).items()}
        output_name = "probabilities" if classes else "predictions"
        with phases.timed("export"):
            archive = export_saved_model(model, x.shape[1], output_name, workdir)
        with phases.timed("upload"):
            artifact = client.upload(archive)
        signature = rpb.Signature(
            method_name="serving_default",
            inputs=[rpb.TensorSpec(name="features", datatype="FP32", shape=[-1, x.shape[1]])],
            outputs=[rpb.TensorSpec(name=output_name, datatype="FP32", shape=[-1, classes or 1])],
        )
        with phases.timed("evaluation"):
            # What served inputs are compared with for drift: the data the model learnt from.
            statistics = reference_statistics(
                x, scores=reference_scores(model, x) if classes else None, output_name=output_name
            )
        return register_trained(
            client,
            job,
            phases,
            rpb.ModelVersion(artifact=artifact.name, signature=signature, metrics=evaluation),
            dataset,
            hyperparameters(spec),
            reference_statistics=statistics,
        )


def register_trained(
    client: RegistryClient,
    job: pb.TrainingJob,
    phases: Phases,
    version: rpb.ModelVersion,
    dataset: rpb.Dataset,
    values: dict[str, object],
    base: rpb.ModelVersion | None = None,
    **fields,
) -> rpb.ModelVersion:
    """Register a job's exported SavedModel (`version`: its artifact, signature and metrics, plus
    `fields`) in the target model, with the lineage to its dataset, settings and base version. The
    job name makes registration idempotent: a retry after a crash returns the same version."""
    version.MergeFrom(
        rpb.ModelVersion(
            format="tf_saved_model",
            lineage=rpb.Lineage(
                training_job=job.name,
                dataset=dataset.name,
                dataset_sha256=dataset.sha256,
                hyperparameters={k: json.dumps(v) for k, v in values.items()},
                base_model_version=base.name if base else "",
            ),
            description=f"trained by {job.name}" + (f" from {base.name}" if base else ""),
            **fields,
        )
    )
    with phases.timed("registration"):
        return client.register(job.spec.target_model, version, request_id=job.name)


# The predicted classes' reference shares come from at most this many training rows, evenly spaced.
REFERENCE_PREDICTION_ROWS = 10_000


def reference_scores(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The trained model's class scores on (a spread of) its training rows: what the share of
    each predicted class looked like before serving."""
    rows = x[:: max(1, len(x) // REFERENCE_PREDICTION_ROWS)]
    return np.asarray(model.predict(rows, batch_size=1024, verbose=0))


def training_callbacks(
    store: JobStore, client: RegistryClient, job: pb.TrainingJob, workdir: Path, phases: Phases
) -> tuple[ProgressCallback, list[keras.callbacks.Callback]]:
    hp = job.spec.hyperparameters
    progress = ProgressCallback(store, client, job.name.split("/")[1], job.attempt, hp.epochs, workdir, phases)
    callbacks: list[keras.callbacks.Callback] = [progress]
    if hp.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(patience=hp.early_stopping_patience, restore_best_weights=True))
    return progress, callbacks


def nan_failure(epoch: int) -> JobFailure:
    return JobFailure(
        f"the loss became NaN at epoch {epoch}; lower the learning rate or check the data for extreme values",
        "nan_loss",
    )


def log_event(store: JobStore, job_id: str, message: str) -> None:
    store.append_event(job_id, pb.TrainingJobEvent(log=pb.TrainingJobEvent.LogLine(message=message)))


def hyperparameters(spec: pb.TrainingJobSpec) -> dict[str, object]:
    values = json_format.MessageToDict(spec.hyperparameters, preserving_proto_field_name=True)
    if spec.WhichOneof("model") == "template":
        values["template"] = spec.template.name
        values.update({f"template.{k}": v for k, v in template_parameters(spec.template).items()})
    values["validation_split"] = spec.validation_split
    return values


def export_saved_model(model, features: int, output_name: str, workdir: Path) -> bytes:
    """Export a SavedModel with a `serving_default` signature and return it as a tar archive."""
    export_dir = workdir / "saved_model"
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda features: {output_name: model(features, training=False)},
        input_signature=[tf.TensorSpec([None, features], tf.float32, name="features")],
    )
    archive.write_out(str(export_dir), verbose=False)
    return tar_directory(export_dir)


def tar_directory(export_dir: Path) -> bytes:
    """A reproducible tar of a directory (same files, same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(export_dir.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(export_dir)))
            info.mtime = 0  # same model, same bytes: reproducible archives dedupe in the registry
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_file():
                with path.open("rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def wait_for_job() -> str:
    """In a job process started ahead (`--wait-for-job`): finish starting up, then wait for the
    worker to write the id of the job to run on stdin ('' when it closes stdin unused)."""
    # Imported here: the classifier job builds on this module, which is __main__ in this process.
    import services.trainer.classifier_job  # noqa: F401

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
