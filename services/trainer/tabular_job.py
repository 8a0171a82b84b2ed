"""The tabular job: a template or Keras-JSON model trained on a CSV or NPZ dataset, on one
worker or under a multi-worker strategy, resumed from its checkpoint after a crash, then (on
the chief) evaluated, exported and registered."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2 as pb
from services.common.drift import reference_statistics
from services.trainer import multiworker
from services.trainer.class_report import classification_report, feature_row
from services.trainer.export import export_saved_model, reference_scores
from services.trainer.failures import JobFailure
from services.trainer.keras_types import load_model
from services.trainer.lineage import hyperparameters, register_trained
from services.trainer.phases import Phases
from services.trainer.progress import log_event, nan_failure, training_callbacks
from services.trainer.registry_client import RegistryClient
from services.trainer.spec import template_parameters
from services.trainer.store import JobStore
from services.trainer.supervisor import Task
from services.trainer.tabular_data import training_and_validation, typed_labels
from services.trainer.templates import OPTIMIZERS, build_model, is_classification


def train_tabular(
    store: JobStore,
    job: pb.TrainingJob,
    client: RegistryClient,
    workdir: Path,
    phases: Phases,
    strategy: tf.distribute.Strategy | None,
    task: Task | None,
) -> rpb.ModelVersion | None:
    """Train, then (on the chief or a single worker) evaluate, export and register; returns the
    registered version, or None on a worker that is not the chief."""
    spec = job.spec
    job_id = job.name.split("/")[1]
    template = spec.template.name if spec.WhichOneof("model") == "template" else None
    params = template_parameters(spec.template) if template else {}
    with phases.timed("data"):
        x, y, x_val, y_val, dataset = training_and_validation(client, spec, workdir)
    y, y_val, classes = typed_labels(y, y_val, is_classification(template, params))
    checkpoint, initial_epoch = store.checkpoint(job_id)
    # Under a strategy the model's and the optimizer's variables are mirrored on every worker.
    with strategy.scope() if strategy else nullcontext():
        if checkpoint:
            model = _resumed(store, job, client, checkpoint, initial_epoch, workdir, task)
        else:
            initial_epoch = 0
            model = _compiled(job, template, params, x, classes, is_classification(template, params))
    progress, callbacks = training_callbacks(store, client, job, workdir, phases)
    model = _fit(store, job, model, (x, y), (x_val, y_val), initial_epoch, callbacks, phases, strategy, task, workdir)
    if model is None:
        return None
    if progress.nan_epoch:
        raise nan_failure(progress.nan_epoch)
    return _export_and_register(client, job, phases, model, x, (x_val, y_val), classes, dataset, workdir)


def _resumed(
    store: JobStore,
    job: pb.TrainingJob,
    client: RegistryClient,
    checkpoint: str,
    epoch: int,
    workdir: Path,
    task: Task | None,
) -> keras.Model:
    """The model of the last checkpoint: weights, optimizer state and normalisation statistics."""
    path = workdir / "resume.keras"
    client.download(checkpoint, checkpoint.removeprefix("artifacts/"), path)
    model = load_model(path)
    if task is None or task.chief:
        log_event(
            store, job.name.split("/")[1], f"resuming from the checkpoint of epoch {epoch} (attempt {job.attempt})"
        )
    return model


def _compiled(
    job: pb.TrainingJob, template: str | None, params: dict, x: np.ndarray, classes: int, classification: bool
) -> keras.Model:
    """A new model from the template or the Keras JSON, normalising with the training data's statistics."""
    spec, hp = job.spec, job.spec.hyperparameters
    normalizer = keras.layers.Normalization(name="normalize")
    normalizer.adapt(x)
    try:
        model = build_model(template, params, spec.keras_model_json, x.shape[1], classes, normalizer)
    except (ValueError, TypeError, KeyError) as error:
        raise JobFailure(f"the Keras model JSON does not build: {error}", "invalid_model") from None
    loss = hp.loss or ("sparse_categorical_crossentropy" if classification else "mse")
    metrics = list(hp.metrics) or (["accuracy"] if classification else ["mae"])
    model.compile(optimizer=OPTIMIZERS[hp.optimizer](learning_rate=hp.learning_rate), loss=loss, metrics=metrics)
    return model


def _fit(
    store: JobStore,
    job: pb.TrainingJob,
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    initial_epoch: int,
    callbacks: list[keras.callbacks.Callback],
    phases: Phases,
    strategy: tf.distribute.Strategy | None,
    task: Task | None,
    workdir: Path,
) -> keras.Model | None:
    """The trained model (a plain copy under a strategy), or None on a worker that is not the chief."""
    hp, job_id = job.spec.hyperparameters, job.name.split("/")[1]
    (x, y), (x_val, _) = train, validation
    if strategy is None:
        log_event(store, job_id, f"training on {len(x)} rows, validating on {len(x_val)}, {x.shape[1]} features")
        with phases.timed("fit"):
            model.fit(
                x,
                y,
                validation_data=validation,
                initial_epoch=initial_epoch,
                epochs=hp.epochs,
                batch_size=hp.batch_size,
                callbacks=callbacks,
                verbose=0,  # pyright: ignore[reportArgumentType] - unannotated in keras, its "auto" default reads as str
            )
        return model
    assert task is not None  # a strategy is made for a multi-worker task only
    if task.chief:
        log_event(
            store,
            job_id,
            f"training on {len(x)} rows with {task.workers} workers, validating on {len(x_val)}, {x.shape[1]} features",
        )
    with phases.timed("fit"):
        batches, validation_batches = multiworker.array_datasets(strategy, x, y, validation, hp.batch_size, hp.seed)
        multiworker.fit(
            strategy,
            task,
            model,
            batches,
            validation_batches,
            initial_epoch=initial_epoch,
            epochs=hp.epochs,
            callbacks=callbacks,
        )
    return multiworker.plain_copy(model, workdir) if task.chief else None


def _export_and_register(
    client: RegistryClient,
    job: pb.TrainingJob,
    phases: Phases,
    model: keras.Model,
    x: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
    classes: int,
    dataset: rpb.Dataset,
    workdir: Path,
) -> rpb.ModelVersion:
    """Evaluate on the held-out data, export a SavedModel and register it with its lineage."""
    x_val, y_val = validation
    report = None
    with phases.timed("evaluation"):
        scores = model.evaluate(x_val, y_val, verbose=0, return_dict=True)  # pyright: ignore[reportArgumentType] - as in fit
        evaluation = {k: float(v) for k, v in scores.items()}
        # A template classifier outputs probabilities over `classes`: the per-class report, as
        # the image and text classifiers have (a Keras-JSON model's output may be anything).
        if classes and job.spec.WhichOneof("model") == "template":
            report = _classification_report(model, validation, classes, job.spec.hyperparameters.batch_size)
            evaluation["macro_recall"] = float(np.mean(report.recall))
    output_name = "probabilities" if classes else "predictions"
    with phases.timed("export"):
        archive = export_saved_model(model, x.shape[1], output_name, workdir)
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
    version = rpb.ModelVersion(
        signature=signature, metrics=evaluation, reference_statistics=statistics, classification_report=report
    )
    return register_trained(client, job, phases, archive, version, dataset, hyperparameters(job.spec))


def _classification_report(
    model: keras.Model, validation: tuple[np.ndarray, np.ndarray], classes: int, batch_size: int
) -> rpb.ClassificationReport:
    """The per-class report on the validation rows; classes are named by their ids, and a sample
    shows its row's feature values. (Loss and accuracy come from `evaluate`, with the job's metrics.)"""
    x_val, y_val = validation
    step = batch_size or 256
    batches = ((x_val[i : i + step], y_val[i : i + step]) for i in range(0, len(x_val), step))
    report, _ = classification_report(model, batches, [str(c) for c in range(classes)], feature_row)
    return report
