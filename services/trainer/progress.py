"""A job's progress while it trains: per-epoch checkpoints and their records, early stopping,
the NaN-loss failure and the job's log lines."""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import keras

from maas.trainer.v1 import trainer_pb2 as pb
from services.trainer.failures import JobFailure
from services.trainer.phases import Phases
from services.trainer.registry_client import RegistryClient
from services.trainer.store import JobStore


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
            model = self.model
            assert model is not None  # keras sets it before training starts
            if any(math.isnan(v) or math.isinf(v) for v in metrics.values()):
                model.stop_training = True
                self.nan_epoch = epoch + 1
                return
            path = self.workdir / f"checkpoint-{epoch + 1}.keras"
            model.save(path)
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
