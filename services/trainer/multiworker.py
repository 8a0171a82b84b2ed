"""Training loop for multi-worker jobs under `MultiWorkerMirroredStrategy` (job processes only).

Keras 3's `fit` does not run under this strategy (keras-team/keras#20585), so this loop does
what `fit` does with the pieces that do: the model's own `train_step` and `test_step` run by
`strategy.run` over a distributed dataset, the compiled metrics aggregated across workers,
and the same callbacks and logs (`loss`, `accuracy`, `val_loss`, ...). Callbacks run on the
chief only; whether to stop (NaN loss, early stopping) is the chief's decision, broadcast to
every worker so that all leave the loop at the same epoch.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from services.trainer.keras_types import load_model
from services.trainer.supervisor import Task


def create_strategy(collective_timeout_seconds: float) -> tf.distribute.MultiWorkerMirroredStrategy:
    """The strategy for this process's `TF_CONFIG`; blocks until every worker has joined.
    Must come before any other TensorFlow work in the process."""
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def global_batch(strategy: tf.distribute.Strategy, batch_size: int) -> int:
    """`batch_size` is per worker, so a step trains on `batch_size * workers` examples."""
    return batch_size * strategy.num_replicas_in_sync


def array_datasets(
    strategy: tf.distribute.Strategy,
    x: np.ndarray,
    y: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray],
    batch_size: int,
    seed: int,
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Training (shuffled with the job's seed) and validation datasets of in-memory arrays, for `fit`."""
    batch = global_batch(strategy, batch_size)
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return train.batch(batch), tf.data.Dataset.from_tensor_slices(validation_data).batch(batch)


def fit(
    strategy: tf.distribute.Strategy,
    task: Task,
    model: keras.Model,
    train: tf.data.Dataset,
    validation: tf.data.Dataset,
    *,
    initial_epoch: int,
    epochs: int,
    callbacks: list[keras.callbacks.Callback],
) -> None:
    """`model.fit` for a model built and compiled in `strategy.scope()`. `train` and `validation`
    yield batches of `global_batch` examples, in the same order on every worker (shuffled, if at
    all, with the job's seed): each worker keeps its share of each batch."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train = strategy.experimental_distribute_dataset(train.with_options(options))
    validation = strategy.experimental_distribute_dataset(validation.with_options(options))

    @tf.function
    def train_epoch(dataset):
        for batch in dataset:
            strategy.run(model.train_step, args=(batch,))

    @tf.function
    def test_epoch(dataset):
        for batch in dataset:
            strategy.run(model.test_step, args=(batch,))

    @tf.function
    def from_chief(value):
        # Peers contribute 0, so the sum is the chief's value on every worker.
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(value,)), axis=None)

    hooks = keras.callbacks.CallbackList(callbacks if task.chief else [], model=model, epochs=epochs)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        hooks.on_epoch_begin(epoch)
        model.reset_metrics()
        train_epoch(train)
        # Reading the metrics sums them across workers (a collective every worker takes part in).
        logs = {name: float(value) for name, value in model.get_metrics_result().items()}
        model.reset_metrics()
        test_epoch(validation)
        logs.update({f"val_{name}": float(value) for name, value in model.get_metrics_result().items()})
        hooks.on_epoch_end(epoch, logs)
        stop = task.chief and model.stop_training
        if from_chief(tf.constant(1.0 if stop else 0.0)) > 0:
            break
    hooks.on_train_end()


def plain_copy(model: keras.Model, workdir: Path) -> keras.Model:
    """The trained model outside the strategy (for the chief alone to evaluate and export as a
    single worker would): saved and loaded back, so early stopping's restored weights come too."""
    path = workdir / "final.keras"
    model.save(path)
    return load_model(path)
