"""Training benchmark: the same data, model and epochs
(a) as a job through the gateway, from submission to a registered version, and
(b) as a plain Python script doing `model.fit` and the SavedModel export in one process,
and the ratio a/b (target at most 1.3). Both include starting Python and importing TensorFlow.
Two models: the digits MLP on the CSV, and `image_classifier` on the digits as 32x32 PNG files
in class folders (the plain script reads them with `image_dataset_from_directory` and fits the
same network).

Each job is followed to its end; its breakdown is the job's own time by phase (its last log
line) with the wait for a worker before and the news of its end reaching the client after.

Usage (from the repository root): python -m bench.training [--epochs 30] [--image-epochs 10] [--gap 15] [--smoke]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench._stack import local_stack, parse_args, tenant_key
from maas.client import MaasClient
from maas.demo import digits_csv, digits_png_zip
from maas.trainer.v1 import trainer_pb2
from services.trainer import phases

PLAIN = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    import tensorflow as tf

    csv_path, export_dir, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = np.loadtxt(csv_path, delimiter=",", skiprows=1, dtype="float32")
    x, y = data[:, :-1], data[:, -1].astype("int64")
    order = np.random.default_rng(0).permutation(len(x))
    held = round(len(x) * 0.2)
    x, y, x_val, y_val = x[order[held:]], y[order[held:]], x[order[:held]], y[order[:held]]
    keras.utils.set_random_seed(0)
    normalizer = keras.layers.Normalization()
    normalizer.adapt(x)
    inputs = keras.Input(shape=(x.shape[1],), name="features")
    hidden = keras.layers.Dense(64, activation="relu")(normalizer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.002), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=32, verbose=0)
    print(model.evaluate(x_val, y_val, verbose=0, return_dict=True)["accuracy"])
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=lambda features: {"probabilities": model(features)},
                         input_signature=[tf.TensorSpec([None, x.shape[1]], tf.float32, name="features")])
    archive.write_out(export_dir, verbose=False)
    """
)


PLAIN_IMAGES = textwrap.dedent(
    """
    import sys
    import zipfile
    import keras
    import tensorflow as tf
    from services.trainer.classifiers import build_image_classifier

    archive, workdir, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(workdir + "/images")
    train, validation = keras.utils.image_dataset_from_directory(
        workdir + "/images/digits", color_mode="grayscale", image_size=(32, 32), batch_size=32,
        validation_split=0.2, subset="both", seed=0)
    keras.utils.set_random_seed(0)
    model = build_image_classifier({}, 10, 1)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train.prefetch(tf.data.AUTOTUNE), validation_data=validation, epochs=epochs, verbose=0)
    print(model.evaluate(validation, verbose=0, return_dict=True)["accuracy"])
    export = keras.export.ExportArchive()
    export.track(model)
    export.add_endpoint(name="serving_default",
                        fn=lambda images: {"probabilities": model(tf.cast(images, tf.float32))},
                        input_signature=[tf.TensorSpec([None, None, None, 1], tf.uint8, name="images")])
    export.write_out(workdir + "/export", verbose=False)
    """
)


def run_image_job(stack, key: str, archive: bytes, epochs: int) -> tuple[float, float, dict[str, float]]:
    with MaasClient(stack.address("gateway"), key) as client:
        dataset = client.upload_dataset("digit-images", archive, "archive")
        started = time.perf_counter()
        job = client.create_training_job_from_spec(
            {
                "dataset": {"dataset": dataset.name},
                "template": {"name": "image_classifier"},
                "hyperparameters": {"epochs": epochs, "batch_size": 32, "learning_rate": 0.003},
                "target_model": "models/digit-images",
            }
        )
        return _finished(client, job.name, started)


def _finished(client: MaasClient, name: str, started: float) -> tuple[float, float, dict[str, float]]:
    """Follow job `name` to its end: seconds since `started`, its validation accuracy, and where
    the time went (the job's own phases, and around them the wait for a worker and for the end
    to reach this client)."""
    submitted = time.time() - (time.perf_counter() - started)
    breakdown: dict[str, float] = {}
    for event in client.watch_training_job(name):
        if event.HasField("log") and (job_phases := phases.parse(event.log.message)):
            breakdown.update(job_phases)
    elapsed = time.perf_counter() - started
    job = client.get_training_job(name)
    assert job.state == trainer_pb2.TrainingJob.State.STATE_SUCCEEDED, job.state_reason
    claimed = job.start_time.ToDatetime(dt.UTC).timestamp()
    ended = job.end_time.ToDatetime(dt.UTC).timestamp()
    in_job = sum(breakdown.values())
    breakdown = {
        "queue (submit -> claimed)": claimed - submitted,
        **breakdown,
        "rest of the job process": ended - claimed - in_job,
        "end -> client": elapsed - (ended - submitted),
    }
    return elapsed, job.evaluation["accuracy"], breakdown


def run_plain_images(archive: bytes, epochs: int, workdir: Path) -> tuple[float, float]:
    (workdir / "digits.zip").write_bytes(archive)
    (workdir / "plain_images.py").write_text(PLAIN_IMAGES)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(workdir / "plain_images.py"), str(workdir / "digits.zip"), str(workdir), str(epochs)],
        capture_output=True,
        text=True,
        check=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path.cwd())},
    )
    return time.perf_counter() - started, float(out.stdout.strip().splitlines()[-1])


def report(title: str, job: tuple[float, float, dict[str, float]], plain: tuple[float, float]) -> None:
    print(title)
    print(f"  (a) job through the gateway, submit -> registered: {job[0]:6.2f} s  (val accuracy {job[1]:.3f})")
    print(f"  (b) plain script, fit + export in one process:     {plain[0]:6.2f} s  (val accuracy {plain[1]:.3f})")
    print(f"  ratio a/b: {job[0] / plain[0]:.2f}  (target <= 1.3)")
    print("  (a) by phase: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in job[2].items()))


def run_job(stack, key: str, csv: bytes, epochs: int) -> tuple[float, float, dict[str, float]]:
    with MaasClient(stack.address("gateway"), key) as client:
        dataset = client.upload_dataset("digits", csv, "csv")
        started = time.perf_counter()
        job = client.create_training_job(
            dataset=dataset.name,
            label_column="label",
            target_model="digits",
            parameters={"hidden_units": [64]},
            epochs=epochs,
            learning_rate=0.002,
        )
        return _finished(client, job.name, started)


def run_plain(csv: bytes, epochs: int, workdir: Path) -> tuple[float, float]:
    (workdir / "digits.csv").write_bytes(csv)
    (workdir / "plain.py").write_text(PLAIN)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(workdir / "plain.py"), str(workdir / "digits.csv"), str(workdir / "export"), str(epochs)],
        capture_output=True,
        text=True,
        check=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    return time.perf_counter() - started, float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--image-epochs", type=int, default=10)
    parser.add_argument("--gap", type=float, default=15.0, help="seconds the trainer is left idle before each job")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs of each model (figures of each pair)")
    args = parse_args(parser, epochs=2, image_epochs=1, gap=0.0, repeat=1)
    csv, _, _ = digits_csv()
    archive, _, _ = digits_png_zip()
    results: list[tuple[str, tuple[float, float, dict[str, float]], tuple[float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp, local_stack() as stack:
        key = tenant_key(stack)
        for _ in range(args.repeat):
            # Each job then its plain script, one right after the other, so that both meet the
            # same load on a shared machine. Each job arrives at an idle trainer, whose job process
            # started ahead is ready (a job right behind another waits for part of that start-up:
            # its breakdown shows it as start-up); the plain script is idle meanwhile.
            time.sleep(args.gap)
            job = run_job(stack, key, csv, args.epochs)
            plain = run_plain(csv, args.epochs, Path(tmp))
            results.append((f"digits MLP (64 hidden), {args.epochs} epochs, batch 32:", job, plain))
            time.sleep(args.gap)
            job = run_image_job(stack, key, archive, args.image_epochs)
            results.append(
                (
                    f"digits image_classifier (32x32 PNG files, conv 32-64), {args.image_epochs} epochs, batch 32:",
                    job,
                    run_plain_images(archive, args.image_epochs, Path(tmp)),
                )
            )
    for title, job, plain in results:
        report(title, job, plain)


if __name__ == "__main__":
    main()
