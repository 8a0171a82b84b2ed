"""A job that trains `image_classifier` or `text_classifier` on an image or text dataset, or
fine-tunes a registered version of one: pipelines, resume, the frozen-then-unfrozen schedule,
evaluation with the per-class report, export and registration."""

from __future__ import annotations

import tarfile
import zipfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import grpc
import keras
import numpy as np
import tensorflow as tf

from maas.registry.v1 import registry_pb2 as rpb
from maas.trainer.v1 import trainer_pb2 as pb
from services.common.archives import extract_archive, extract_tar
from services.trainer import classifiers, multiworker
from services.trainer.class_report import classification_report
from services.trainer.export import tar_directory
from services.trainer.failures import JobFailure
from services.trainer.keras_types import load_model
from services.trainer.lineage import hyperparameters, register_trained
from services.trainer.phases import Phases
from services.trainer.progress import log_event, nan_failure, training_callbacks
from services.trainer.registry_client import RegistryClient
from services.trainer.spec import template_parameters
from services.trainer.store import JobStore
from services.trainer.supervisor import Task
from services.trainer.tabular_data import fetch_dataset
from services.trainer.templates import OPTIMIZERS

Kind = rpb.DatasetKind
# Fine-tuning after the frozen epochs runs at this fraction of the learning rate.
UNFROZEN_LEARNING_RATE = 0.1


def _examples(
    client: RegistryClient,
    spec_input: pb.DatasetInput,
    kind: str,
    class_names: list[str] | None,
    workdir: Path,
    role: str,
) -> tuple[rpb.Dataset, classifiers.Examples]:
    dataset = fetch_dataset(client, spec_input, role)
    wanted = Kind.DATASET_KIND_IMAGE if kind == "image" else Kind.DATASET_KIND_TEXT
    if dataset.kind != wanted:
        raise JobFailure(
            f"{role} dataset {dataset.name} is {Kind.Name(dataset.kind).removeprefix('DATASET_KIND_').lower()}; "
            f"the {kind} classifier trains on {kind} datasets"
        )
    class_names = class_names or [c.name for c in dataset.classes]
    path = workdir / f"{role}-{dataset.sha256}"
    client.download(dataset.artifact, dataset.sha256, path)
    if kind == "text":
        jsonl = dataset.format == rpb.DatasetFormat.DATASET_FORMAT_JSONL
        return dataset, classifiers.text_split(path, jsonl, dataset.text_column, dataset.label_column, class_names)
    unpacked = workdir / f"{role}-files"
    unpacked.mkdir()
    try:
        extract_archive(path, unpacked)
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:  # the archive checks raise TarErrors
        raise JobFailure(f"{role} dataset {dataset.name}: the archive does not unpack ({error})") from None
    path.unlink()
    return dataset, classifiers.image_split(unpacked, class_names)


def _base_model(client: RegistryClient, name: str, workdir: Path) -> tuple[rpb.ModelVersion, keras.Model]:
    try:
        base = client.model_version(name)
    except grpc.RpcError as error:
        raise JobFailure(f"base model {name!r}: {error.details()}") from None
    if classifiers.base_template(base) not in ("image_classifier", "text_classifier"):
        raise JobFailure(
            f"base model {base.name} was not trained from image_classifier or text_classifier; "
            "only those can be fine-tuned",
            "invalid_model",
        )
    archive = workdir / "base.tar"
    client.download(base.artifact, base.artifact.removeprefix("artifacts/"), archive)
    unpacked = workdir / "base"
    unpacked.mkdir()
    with tarfile.open(archive) as tar:
        extract_tar(tar, unpacked)
    keras_file = unpacked / classifiers.KERAS_MEMBER
    if not keras_file.is_file():
        raise JobFailure(f"base model {base.name} holds no Keras model to fine-tune", "invalid_model")
    return base, load_model(keras_file)


def train_classifier(
    store: JobStore,
    job: pb.TrainingJob,
    client: RegistryClient,
    workdir: Path,
    phases: Phases,
    strategy: tf.distribute.Strategy | None = None,
    task: Task | None = None,
) -> rpb.ModelVersion | None:
    """Train, then (on the chief or a single worker) evaluate, export and register; returns the
    registered version, or None on a worker that is not the chief. Under `strategy` (a template
    job, not fine-tuning) every worker reads the whole dataset, adapts the same vocabulary from
    the same texts, builds the model in the strategy's scope and keeps its share of each batch."""
    spec, hp = job.spec, job.spec.hyperparameters
    job_id = job.name.split("/")[1]
    chief = task is None or task.chief

    def note(message: str) -> None:
        if chief:
            log_event(store, job_id, message)

    base, model = None, None
    with phases.timed("data"):
        if spec.WhichOneof("model") == "base_model":
            base, model = _base_model(client, spec.base_model.model_version, workdir)
            template, params = classifiers.base_template(base), {}
        else:
            template, params = spec.template.name, template_parameters(spec.template)
        kind = "image" if template == "image_classifier" else "text"
        dataset, train = _examples(client, spec.dataset, kind, None, workdir, "training")
        class_names = [c.name for c in dataset.classes]
        if len(class_names) < 2:
            raise JobFailure(
                f"training dataset {dataset.name} has {len(class_names)} class; a classifier needs 2 or more"
            )
        if spec.HasField("validation_dataset"):
            _, validation = _examples(client, spec.validation_dataset, kind, class_names, workdir, "validation")
        else:
            if len(train) < 2:
                raise JobFailure(f"the dataset has {len(train)} examples: too few to hold out a validation split")
            train, validation = classifiers.hold_out(train, spec.validation_split, hp.seed)

    checkpoint, initial_epoch = store.checkpoint(job_id)
    frozen = spec.base_model.frozen_epochs if base else 0

    def compile_model(learning_rate: float) -> None:
        assert model is not None  # compiled once built or loaded
        model.compile(
            optimizer=OPTIMIZERS[hp.optimizer](learning_rate=learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    # Under a strategy the model's and the optimizer's variables are mirrored on every worker.
    with phases.timed("build"), strategy.scope() if strategy else nullcontext():
        if checkpoint:
            path = workdir / "resume.keras"
            with phases.timed("data"):
                client.download(checkpoint, checkpoint.removeprefix("artifacts/"), path)
            model = load_model(path)
            note(f"resuming from the checkpoint of epoch {initial_epoch} (attempt {job.attempt})")
        else:
            initial_epoch = 0
            if base is not None:
                if list(base.classification_report.class_names) != class_names:
                    model = classifiers.with_new_head(model, len(class_names))
                    note(f"fine-tuning {base.name} with a new head for {len(class_names)} classes")
                classifiers.set_base_trainable(model, not frozen)
            elif kind == "image":
                channels = int(params.get("channels") or (1 if dataset.image_stats.channels <= 2 else 3))
                model = classifiers.build_image_classifier(params, len(class_names), channels)
            else:
                texts = classifiers.pipeline(train, "text", 256, hp.seed, shuffle=False).map(lambda text, _: text)
                model = classifiers.build_text_classifier(params, len(class_names), texts)
            compile_model(hp.learning_rate)
    assert model is not None  # every branch above loads or builds one

    image_size, channels = classifiers.image_settings(model) if kind == "image" else (0, 0)

    def batches(examples: classifiers.Examples, batch_size: int, shuffle: bool):
        return classifiers.pipeline(examples, kind, batch_size, hp.seed, shuffle, image_size, channels)

    validation_data = batches(validation, hp.batch_size, False)
    progress, callbacks = training_callbacks(store, client, job, workdir, phases)
    note(
        f"training on {len(train)} {kind}s of {len(class_names)} classes"
        + (f" with {task.workers} workers" if task else "")
        + f", validating on {len(validation)}"
        + (f"; base frozen for {frozen} epochs" if frozen else "")
    )
    if strategy is not None:
        assert task is not None  # a strategy is made for a multi-worker task only
        batch = multiworker.global_batch(strategy, hp.batch_size)
        with phases.timed("fit"):
            multiworker.fit(
                strategy,
                task,
                model,
                batches(train, batch, True),
                batches(validation, batch, False),
                initial_epoch=initial_epoch,
                epochs=hp.epochs,
                callbacks=callbacks,
            )
        if not chief:
            return None
        model = multiworker.plain_copy(model, workdir)
    else:
        train_data = batches(train, hp.batch_size, True)
        fit_options: dict[str, Any] = dict(validation_data=validation_data, callbacks=callbacks, verbose=0)
        if initial_epoch < frozen:
            with phases.timed("fit"):
                model.fit(train_data, initial_epoch=initial_epoch, epochs=frozen, **fit_options)
            if progress.nan_epoch:
                raise nan_failure(progress.nan_epoch)
            initial_epoch = frozen
            # A resumed job past this point has it in its checkpoint (all layers, the low rate).
            classifiers.set_base_trainable(model, True)
            compile_model(hp.learning_rate * UNFROZEN_LEARNING_RATE)
        if initial_epoch < hp.epochs and not model.stop_training:
            with phases.timed("fit"):
                model.fit(train_data, initial_epoch=initial_epoch, epochs=hp.epochs, **fit_options)
    if progress.nan_epoch:
        raise nan_failure(progress.nan_epoch)

    with phases.timed("evaluation"):
        # One pass over the validation split: the report, loss and accuracy together.
        report, evaluation = classification_report(model, validation_data, class_names, classifiers.sample_content)
        evaluation["macro_recall"] = float(np.mean(report.recall))
    export_dir = workdir / "saved_model"
    with phases.timed("export"):
        signature = classifiers.export(model, class_names, export_dir)
        archive = tar_directory(export_dir)
    version = rpb.ModelVersion(signature=signature, metrics=evaluation, classification_report=report)
    values = {**hyperparameters(spec), "template": template}
    return register_trained(client, job, phases, archive, version, dataset, values, base)
