"""Soak benchmark: drive a local stack for a set time with mixed traffic (predictions from several
threads, dataset uploads, training jobs, alias moves between two versions) and print, per service,
resident memory and open file descriptors at the start, after warm-up and at the end; errors by
status code; and latency percentiles of predictions per window. Growth after warm-up is what to
look at: the target is at most 10 % of resident memory and no descriptor leak.

Usage (from the repository root): python -m bench.soak [--minutes 10] [--threads 8] [--smoke]
"""

from __future__ import annotations

import argparse
import collections
import os
import threading
import time
from pathlib import Path

import grpc
import numpy as np

from bench._stack import local_stack, parse_args, tenant_key
from maas.client import MaasClient, MaasError
from maas.demo import digits_csv
from maas.trainer.v1 import trainer_pb2

# Codes a client or the load itself causes; anything else is the platform's fault.
EXPECTED = {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"}


def process_figures(pid: int) -> tuple[float, int]:
    """(resident MiB, open descriptors) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def snapshot(stack) -> dict[str, tuple[float, int]]:
    return {name: process_figures(process.pid) for name, process in stack.processes.items()}


def train(client: MaasClient, dataset: str, epochs: int) -> int:
    job = client.create_training_job(
        dataset=dataset, label_column="label", target_model="digits", parameters={"hidden_units": [32]}, epochs=epochs
    )
    for _ in client.watch_training_job(job.name):
        pass
    job = client.get_training_job(job.name)
    if job.state != trainer_pb2.TrainingJob.State.STATE_SUCCEEDED:
        raise RuntimeError(f"training failed: {job.state_reason}")
    return client.get_model_version(job.model_version).version


class Load:
    """The mixed traffic and what it met: codes by operation, prediction latencies by window."""

    def __init__(self, client: MaasClient, features: np.ndarray, window_seconds: float) -> None:
        self.client, self.features, self.window = client, features, window_seconds
        self.codes: collections.Counter[tuple[str, str]] = collections.Counter()
        self.latencies: dict[int, list[float]] = collections.defaultdict(list)
        self.stop = threading.Event()
        self.started = time.perf_counter()
        self._lock = threading.Lock()

    def _record(self, operation: str, call) -> None:
        began = time.perf_counter()
        try:
            call()
            code = "OK"
        except MaasError as error:
            code = error.code.name
        except grpc.RpcError as error:
            code = error.code().name
        with self._lock:
            self.codes[(operation, code)] += 1
            if operation == "predict" and code == "OK":
                self.latencies[int((began - self.started) // self.window)].append(time.perf_counter() - began)

    def predictions(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        while not self.stop.is_set():
            rows = self.features[rng.integers(0, len(self.features), size=int(rng.integers(1, 16)))]
            self._record("predict", lambda rows=rows: self.client.predict("digits", rows))

    def chores(self, csv: bytes, versions: tuple[int, int], job_every: float, epochs: int) -> None:
        """Uploads and alias moves all along; a training job every `job_every` seconds."""
        count, last_job = 0, time.perf_counter()
        while not self.stop.wait(1.0):
            count += 1
            name, version = f"soak-{count % 5}", versions[count % 2]
            self._record("upload", lambda name=name: self.client.upload_dataset(name, csv, "csv"))
            self._record("alias", lambda version=version: self.client.set_alias("digits", "production", version))
            if time.perf_counter() - last_job > job_every:
                last_job = time.perf_counter()
                self._record("train", lambda: train(self.client, "datasets/soak-0", epochs))


def main() -> None:
    # The docstring's first paragraph, whole (its first line ends mid-sentence).
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8, help="prediction threads")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per latency window")
    parser.add_argument("--job-every", type=float, default=120.0, help="seconds between training jobs")
    parser.add_argument("--epochs", type=int, default=3)
    args = parse_args(parser, minutes=0.4, threads=2, window=8.0, job_every=10.0, epochs=1)

    csv, test_x, _ = digits_csv()
    with local_stack() as stack, MaasClient(stack.address("gateway"), tenant_key(stack, "soak")) as client:
        client.upload_dataset("digits", csv, "csv")
        versions = (train(client, "datasets/digits", args.epochs), train(client, "datasets/digits", args.epochs))
        client.set_alias("digits", "production", versions[0])
        start = snapshot(stack)
        load = Load(client, test_x, args.window)
        workers = [threading.Thread(target=load.predictions, args=(i,), daemon=True) for i in range(args.threads)]
        workers.append(
            threading.Thread(target=load.chores, args=(csv, versions, args.job_every, args.epochs), daemon=True)
        )
        for worker in workers:
            worker.start()
        duration = args.minutes * 60
        time.sleep(min(args.window, duration / 2))
        warm = snapshot(stack)
        time.sleep(max(0.0, duration - min(args.window, duration / 2)))
        load.stop.set()
        for worker in workers:
            worker.join(timeout=300)
        end = snapshot(stack)

    print(f"soak: {args.minutes:g} min, {args.threads} prediction threads, job every {args.job_every:g} s")
    header = ("service", "rss start", "warm", "end", "growth", "fds start", "warm", "end")
    print("{:<10} {:>10} {:>8} {:>8} {:>8}   {:>9} {:>5} {:>5}".format(*header))
    worst = 0.0
    for name in start:
        growth = (end[name][0] - warm[name][0]) / warm[name][0] * 100
        worst = max(worst, growth)
        print(
            f"{name:<10} {start[name][0]:>8.0f}Mi {warm[name][0]:>6.0f}Mi {end[name][0]:>6.0f}Mi {growth:>+7.1f}%"
            f"   {start[name][1]:>9} {warm[name][1]:>5} {end[name][1]:>5}"
        )
    print("calls by operation and code:")
    for (operation, code), count in sorted(load.codes.items()):
        flag = "" if code in EXPECTED else "   <- not a client's or the load's"
        print(f"  {operation:<8} {code:<20} {count:>8}{flag}")
    print("prediction latency per window (ms):")
    for window, samples in sorted(load.latencies.items()):
        p50, p99 = np.percentile(np.array(samples) * 1000, [50, 99])
        print(f"  {window * args.window:>6.0f}s  n={len(samples):>6}  p50 {p50:7.2f}  p99 {p99:7.2f}")
    unexpected = sum(count for (_, code), count in load.codes.items() if code not in EXPECTED)
    print(f"largest rss growth after warm-up: {worst:+.1f}% (target at most +10%); unexpected errors: {unexpected}")


if __name__ == "__main__":
    main()
