"""Inference benchmark: batch-1 requests of the digits MLP with 64 in flight, in one run, for
(a) our inference service, (b) KServe's Python ModelServer serving the same SavedModel over
gRPC, (c) a bare grpc.aio server that parses the request and returns a fixed response (the
floor of Python gRPC here), and (d) ours with batching off. The load comes from h2load (C,
Debian package nghttp2-client) sending a gRPC-framed ModelInferRequest, so the load generator
takes little of the servers' CPU; every server's answer is checked with a gRPC client first.

Then two models a user brings (issue #14), uploaded through the gateway: (e) a text model with
TextVectorization inside taking one string, and (g) an image CNN taking uint8 [28, 28, 1], each
against KServe's ModelServer serving the same SavedModel, (f) and (h), batch-1 in the same run.

(a2) is (a) again while the alias mirrors 10% of its requests to a shadow version (issue #17);
the primary's p99 with and without the shadow is the median of three runs of each, alternating,
printed with the inference processes' CPU per request in each (what the shadow costs them).

Targets: (a) >= 2x (b) requests/s, (a) >= 75% of (c), p99 of (a) <= half of (b)'s; (e) >= 2x (f),
(g) >= 2x (h); p99 of (a2) at most 5% above (a)'s.
KServe needs its own virtual environment (it pins an older protobuf); it is created under
bench/.kserve-venv on first use. Usage (repository root): python -m bench.inference [--requests 20000] [--smoke]
[--shadow-only]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from bench._stack import local_stack, parse_args, unlimited_plan
from maas.client import MaasClient
from maas.demo import digits_csv, run_demo
from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2 as rpb
from maas.stack import free_port, wait_serving
from services.common.archives import extract_tar
from services.common.ports import PORTS_FILE_ENV, wait_ports_file

BENCH = Path(__file__).resolve().parent
KSERVE_VENV = BENCH / ".kserve-venv"
METHOD = "/inference.GRPCInferenceService/ModelInfer"
IN_FLIGHT = (4, 16)  # connections x streams per connection = 64
OURS = "(a) maas inference"
SHADOW_PERCENT = 10
SHADOWED = f"(a2) maas, {SHADOW_PERCENT}% shadow"
SHADOW_ROUNDS = 3  # (a) without and with the shadow, alternating
USER_ROWS = (("(e) maas, text model", "(f) kserve, text model"), ("(g) maas, image CNN", "(h) kserve, image CNN"))


def digits_request() -> tuple[np.ndarray, pb.ModelInferRequest]:
    """The held-out digits and a batch-1 ModelInferRequest of the first; exits without h2load."""
    if shutil.which("h2load") is None:
        sys.exit("h2load is required: apt-get install nghttp2-client")
    _, test_x, _ = digits_csv()
    request = pb.ModelInferRequest(model_name="digits")
    request.inputs.add(name="features", datatype="FP32", shape=[1, 64])
    request.raw_input_contents.append(test_x[:1].tobytes())
    return test_x, request


def frame(message) -> bytes:
    payload = message.SerializeToString()
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def check(address: str, request: pb.ModelInferRequest, metadata, expected: np.ndarray | None) -> None:
    """The server's first output is the expected one (the digits' shape when no answer is known)."""
    with grpc.insecure_channel(address) as channel:
        response = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            request, metadata=metadata, timeout=60
        )
    got = np.frombuffer(response.raw_output_contents[0], np.float32).reshape(tuple(response.outputs[0].shape))
    if expected is None:
        assert got.shape == (1, 10), got.shape
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> tuple[int, ...]:
    """A process and its descendants (the inference workers it spawned), from /proc."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += process_tree(int(child))
    return tuple(found)


def h2load(
    port: int, body: Path, headers: dict[str, str], requests: int, workdir: Path, cpu_pid: int | tuple[int, ...] = ()
) -> dict[str, float]:
    """Warm up, then time `requests` calls; with `cpu_pid` (one or several), also the CPU seconds
    those processes used (`cpu_s`, and each in `cpu_each`), and h2load's own (`load_cpu_s`)."""
    pids = (cpu_pid,) if isinstance(cpu_pid, int) else tuple(cpu_pid or ())
    log = workdir / f"h2load-{port}.log"
    connections, streams = IN_FLIGHT
    command = [
        "h2load",
        "-n",
        str(requests),
        "-c",
        str(connections),
        "-m",
        str(streams),
        "-t",
        "1",
        f"--data={body}",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        f"--log-file={log}",
    ]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    command.append(f"http://127.0.0.1:{port}{METHOD}")
    warm = [c if c != str(requests) else str(min(2000, requests)) for c in command]
    subprocess.run(warm, check=True, capture_output=True)
    log.unlink(missing_ok=True)
    before = [cpu_seconds(pid) for pid in pids]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    each = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
    succeeded = int(re.search(r"(\d+) succeeded", out).group(1))
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    latencies = sorted(int(line.split()[2]) / 1000 for line in log.read_text().splitlines() if line.strip())
    return {
        "rps": rps,
        "ok": succeeded,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "cpu_s": sum(each),
        "cpu_each": each,
        "load_cpu_s": (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime),
    }


def mean_batch(metrics_urls: list[str]) -> float:
    """Rows per model call, from the inference processes' batch-size histograms."""
    total = count = 0.0
    for url in metrics_urls:
        for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
            if line.startswith("maas_inference_batch_size_sum{"):
                total += float(line.rsplit(" ", 1)[1])
            elif line.startswith("maas_inference_batch_size_count{"):
                count += float(line.rsplit(" ", 1)[1])
    return total / count if count else 0.0


def runtimes(metrics_urls: list[str], model: str, version: str = "") -> list[str]:
    """The runtime each inference process runs `model` (that `version` of it, if given) on (""
    while it has not loaded it)."""
    found = []
    for url in metrics_urls:
        lines = urllib.request.urlopen(url, timeout=5).read().decode().splitlines()
        found.append(
            next(
                (
                    re.search(r'runtime="(\w+)"', ln).group(1)
                    for ln in lines
                    if ln.startswith("maas_inference_model_runtime{")
                    and f'model="{model}"' in ln
                    and (not version or f'version="{version}"' in ln)
                    and ln.endswith(" 1.0")
                ),
                "",
            )
        )
    return found


def settle(address: str, request, metadata, metrics_urls: list[str], expected=None, timeout: float = 60) -> str:
    """Send requests on new connections (so every worker process loads the model) until each has
    moved off TensorFlow, or `timeout` passes (the model does not convert); returns the runtime."""
    deadline = time.monotonic() + timeout
    while True:
        check(address, request, metadata, expected)
        found = runtimes(metrics_urls, request.model_name, request.model_version)
        if all(r == "lite" for r in found) or time.monotonic() > deadline:
            return "/".join(sorted(set(found)))
        time.sleep(0.2)


@contextlib.contextmanager
def on_any_port(command: list[str], env: dict[str, str], workdir: Path, name: str, log: Path | None = None):
    """`process(command)` with `MAAS_PORTS_FILE` set, for a server started on port 0: yields the
    process and the ports it wrote there, once it listens."""
    ports_file = workdir / f"{name}.ports.json"
    ports_file.unlink(missing_ok=True)
    with process(command, {**env, PORTS_FILE_ENV: str(ports_file)}, log) as proc:
        yield proc, wait_ports_file(ports_file, proc, 120)


def wait_port(port: int, timeout: float = 120) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class UserModel:
    """A model a user brings: its .keras file, the SavedModel KServe gets, a batch-1 request and
    the local model's answer to it."""

    name: str
    keras_file: Path
    saved_model: Path
    request: pb.ModelInferRequest
    expected: np.ndarray


def user_models(workdir: Path) -> list[UserModel]:
    """The text model and the CNN of the BYOM tests, built here; KServe gets the SavedModel our
    inference makes of the same .keras file."""
    import tensorflow as tf

    from services.common.datatypes import encode_bytes_elements
    from services.inference.artifact import export_keras
    from tests.integration import byom_models

    review = np.array([b"a great film"], dtype=object)
    image = byom_models.images(1)
    built = []
    for name, build, datatype, value, local_input in (
        ("text", byom_models.text, "BYTES", review, tf.constant(review)),
        ("cnn", byom_models.cnn, "UINT8", image, image),
    ):
        keras_file = workdir / f"{name}.keras"
        model = build(keras_file)
        export_keras(keras_file, workdir / f"{name}-savedmodel")
        request = pb.ModelInferRequest(model_name=name)
        input_name = model.inputs[0].name.split(":")[0]
        request.inputs.add(name=input_name, datatype=datatype, shape=value.shape)
        request.raw_input_contents.append(encode_bytes_elements(value) if datatype == "BYTES" else value.tobytes())
        built.append(UserModel(name, keras_file, workdir / f"{name}-savedmodel", request, model(local_input).numpy()))
    return built


def kserve_h2load(python: Path, saved_model: Path, name: str, request, expected, workdir: Path, args):
    """KServe's ModelServer on one SavedModel, checked, then loaded with h2load. Its ports are
    chosen here (`free_port`): it takes them as arguments and says nothing of what it bound."""
    port = free_port()
    command = [
        str(python),
        str(BENCH / "kserve_model.py"),
        str(saved_model),
        name,
        str(port),
        str(free_port()),
        # At its best: no per-request logging.
        "--configure_logging",
        "false",
    ]
    body = workdir / f"{name}-kserve.grpc"
    body.write_bytes(frame(request))
    with process(command, {"TF_CPP_MIN_LOG_LEVEL": "2"}, workdir / f"kserve-{name}.log"):
        wait_port(port)
        check(f"127.0.0.1:{port}", request, (), expected)
        return h2load(port, body, {}, args.requests, workdir)


def kserve_python() -> Path:
    python = KSERVE_VENV / "bin" / "python"
    if not python.exists():
        print("creating bench/.kserve-venv with kserve and tensorflow (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(KSERVE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "kserve", "tensorflow"], check=True)
    return python


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str] | None = None, log: Path | None = None):
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()


def mirrored_rows(metrics_urls: list[str]) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for url in metrics_urls
        for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines()
        if line.startswith("maas_inference_shadow_rows_total{")
    )


def figures(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" if v < 100 else f"{v:.0f}" for v in values)


def shadowed(client: MaasClient, stack, primary: rpb.ModelVersion, request, body, tenant, args, workdir, metrics_urls):
    """(a) without and with `production` mirroring SHADOW_PERCENT of its requests to a second
    version (the same SavedModel registered again), SHADOW_ROUNDS times each, alternating (ABBA),
    so that both see the same machine (its other load comes and goes); checks that the shadow ran.
    Returns the last shadowed run's figures with the p99s of every round of each."""
    candidate = client.registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(
            parent="models/digits",
            model_version=rpb.ModelVersion(artifact=primary.artifact, signature=primary.signature),
        ),
        **client.call_options(),
    )
    # The candidate stays loaded, on its converted runtime, between the rounds (another alias routes
    # to it): the rounds with the shadow measure the mirroring, not its load and runtime switch.
    client.set_alias("digits", "candidate", candidate.version)
    warm = pb.ModelInferRequest()
    warm.CopyFrom(request)
    warm.model_version = str(candidate.version)
    settle(stack.address("inference"), warm, tuple(tenant.items()), metrics_urls)
    p99s: dict[bool, list[float]] = {False: [], True: []}
    # The inference processes' CPU per request: what the shadow costs, whatever else the machine runs.
    cpu: dict[bool, list[float]] = {False: [], True: []}
    pids = process_tree(stack.processes["inference"].pid)
    before = mirrored_rows(metrics_urls)
    for round_ in range(SHADOW_ROUNDS):
        # Without, with; with, without; ...: a trend in the machine's other load falls on both.
        for shadow in (False, True) if round_ % 2 == 0 else (True, False):
            shadow_of = (candidate.version, SHADOW_PERCENT) if shadow else None
            client.set_alias("digits", "production", primary.version, shadow=shadow_of)
            time.sleep(1)  # the inference processes follow the change on their watch streams
            result = h2load(stack.ports["inference"][0], body, tenant, args.requests, workdir, pids)
            p99s[shadow].append(result["p99"])
            cpu[shadow].append(result["cpu_s"] / result["ok"] * 1e6)
    client.set_alias("digits", "production", primary.version)
    mirrored = mirrored_rows(metrics_urls) - before
    assert mirrored > 0, "no request was mirrored to the shadow"
    return {
        **result,
        "mirrored": mirrored,
        "p99_without": p99s[False],
        "p99_with": p99s[True],
        "cpu_us_without": cpu[False],
        "cpu_us_with": cpu[True],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--skip-kserve", action="store_true", help="leave out (b), e.g. without network access")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="inference processes for (a) (MAAS_WORKERS)"
    )
    parser.add_argument(
        "--tf-threads", type=int, default=1, help="TensorFlow intra- and inter-op threads per worker (0: its default)"
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs of the digits model served")
    parser.add_argument(
        "--shadow-only", action="store_true", help="only (a) and (a2): the primary's p99 without and with a shadow"
    )
    args = parse_args(parser, requests=300, skip_kserve=True, epochs=2)
    test_x, request = digits_request()
    results: dict[str, dict[str, float]] = {}
    ours = {
        "MAAS_WORKERS": str(args.workers),
        "MAAS_INTRA_OP_THREADS": str(args.tf_threads),
        "MAAS_INTER_OP_THREADS": str(args.tf_threads),
    }
    with tempfile.TemporaryDirectory() as tmp, local_stack(**ours) as stack:
        workdir = Path(tmp)
        body = workdir / "request.grpc"
        body.write_bytes(frame(request))
        with contextlib.redirect_stdout(io.StringIO()):
            demo = run_demo(
                stack.address("gateway"),
                stack.admin_key,
                epochs=args.epochs,
                tenant="bench",
                plan=unlimited_plan(stack),
            )
        with MaasClient(stack.address("gateway"), demo.api_key) as client:
            version = client.get_model_version(demo.model_version)
            chunks = client.registry.DownloadArtifact(
                rpb.DownloadArtifactRequest(name=version.artifact), **client.call_options()
            )
            with tarfile.open(fileobj=io.BytesIO(b"".join(c.chunk for c in chunks))) as tar:
                extract_tar(tar, workdir / "saved_model")
            expected = client.predict("digits", test_x[:1])["probabilities"]
        # Inference authenticates (and meters) its callers itself: the key goes straight to it.
        tenant = {"authorization": f"Bearer {demo.api_key}"}

        check(stack.address("inference"), request, tuple(tenant.items()), expected)
        metrics_urls = stack.metrics_urls("inference")
        assert len(metrics_urls) == args.workers, metrics_urls
        runtime = {OURS: settle(stack.address("inference"), request, tuple(tenant.items()), metrics_urls)}
        results[OURS] = h2load(stack.ports["inference"][0], body, tenant, args.requests, workdir)
        batch = mean_batch(metrics_urls)
        with MaasClient(stack.address("gateway"), demo.api_key) as client:
            results[SHADOWED] = shadowed(client, stack, version, request, body, tenant, args, workdir, metrics_urls)

        if not args.shadow_only:
            # The same service as separate processes: one worker, and batching off.
            for name, extra in (
                ("(a1) maas, 1 worker", {**ours, "MAAS_WORKERS": "1"}),
                ("(d) maas, batching off", {**ours, "MAAS_BATCHING": "false"}),
            ):
                env = {
                    "MAAS_PORT": "0",
                    "MAAS_METRICS_PORT": "0",
                    "MAAS_REGISTRY_ADDR": stack.address("registry"),
                    # Where the keys come from, and the identity it calls the registry with.
                    "MAAS_GATEWAY_ADDR": stack.service_address("gateway"),
                    "MAAS_SERVICE_SECRET": stack.service_secret,
                    "MAAS_DATA_DIR": str(workdir / name.split()[0].strip("()")),
                    "TF_CPP_MIN_LOG_LEVEL": "2",
                    **extra,
                }
                label = name.split()[0].strip("()")
                with on_any_port([sys.executable, "-m", "services.inference"], env, workdir, label) as (_, bound):
                    port, metrics_port = bound["port"], bound["metrics_port"]
                    assert wait_serving(f"127.0.0.1:{port}", 120)
                    check(f"127.0.0.1:{port}", request, tuple(tenant.items()), expected)
                    metrics_urls = [f"http://127.0.0.1:{metrics_port}/metrics"]
                    runtime[name] = settle(f"127.0.0.1:{port}", request, tuple(tenant.items()), metrics_urls)
                    results[name] = h2load(port, body, tenant, args.requests, workdir)

            with on_any_port([sys.executable, "-m", "bench.floor_server", "0"], {}, workdir, "floor") as (_, bound):
                port = bound["port"]
                check(f"127.0.0.1:{port}", request, (), None)
                results["(c) bare grpc.aio floor"] = h2load(port, body, {}, args.requests, workdir)

            python = None if args.skip_kserve else kserve_python()
            if python is not None:
                results["(b) kserve ModelServer"] = kserve_h2load(
                    python, workdir / "saved_model", "digits", request, expected, workdir, args
                )

            # Models brought by a user, uploaded through the gateway: ours against KServe on each.
            metrics_urls = stack.metrics_urls("inference")
            with MaasClient(stack.address("gateway"), demo.api_key) as client:
                for (ours_row, theirs_row), user in zip(USER_ROWS, user_models(workdir)):
                    client.upload_model(user.name, user.keras_file, alias="production")
                    address = stack.address("inference")
                    check(address, user.request, tuple(tenant.items()), user.expected)
                    runtime[ours_row] = settle(
                        address, user.request, tuple(tenant.items()), metrics_urls, user.expected, timeout=20
                    )
                    user_body = workdir / f"{user.name}.grpc"
                    user_body.write_bytes(frame(user.request))
                    results[ours_row] = h2load(stack.ports["inference"][0], user_body, tenant, args.requests, workdir)
                    if python is not None:
                        results[theirs_row] = kserve_h2load(
                            python, user.saved_model, user.name, user.request, user.expected, workdir, args
                        )

    print(
        f"digits MLP, batch-1 ModelInfer, {IN_FLIGHT[0] * IN_FLIGHT[1]} in flight, {args.requests} requests "
        f"(h2load), {os.cpu_count()} CPUs; (a) and (d) with {args.workers} inference worker processes, "
        f"TensorFlow threads {args.tf_threads or 'default'}"
    )
    print(f"  {'server':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ok':>7}  model runtime")
    for name, r in sorted(results.items()):
        print(
            f"  {name:<26} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {int(r['ok']):7d}  {runtime.get(name, '')}"
        )
    print(f"  (a) mean rows per model call: {batch:.1f}")
    ours, floor = results[OURS], results.get("(c) bare grpc.aio floor")
    if floor is not None:
        print(f"  (a)/(c) = {ours['rps'] / floor['rps']:.2f}  (target >= 0.75)")
    shadow = results[SHADOWED]
    without, with_shadow = statistics.median(shadow["p99_without"]), statistics.median(shadow["p99_with"])
    print(
        f"  primary p99, median of {SHADOW_ROUNDS} alternating runs: without shadow {without:.2f} ms "
        f"({figures(shadow['p99_without'])}), with {SHADOW_PERCENT}% mirrored {with_shadow:.2f} ms "
        f"({figures(shadow['p99_with'])}; {int(shadow['mirrored'])} rows compared): "
        f"{(with_shadow / without - 1) * 100:+.1f}%  (target <= +5%)"
    )
    cpu_without, cpu_with = statistics.median(shadow["cpu_us_without"]), statistics.median(shadow["cpu_us_with"])
    print(
        f"  inference CPU per primary request, medians: without shadow {cpu_without:.0f} us "
        f"({figures(shadow['cpu_us_without'])}), with {cpu_with:.0f} us ({figures(shadow['cpu_us_with'])}): "
        f"{(cpu_with / cpu_without - 1) * 100:+.1f}%"
    )
    if "(b) kserve ModelServer" in results:
        kserve = results["(b) kserve ModelServer"]
        print(f"  (a)/(b) = {ours['rps'] / kserve['rps']:.2f}  (target >= 2)")
        print(f"  p99 (a)/(b) = {ours['p99'] / kserve['p99']:.2f}  (target <= 0.5)")
    for ours_row, theirs_row in USER_ROWS:
        if theirs_row in results:
            ratio = results[ours_row]["rps"] / results[theirs_row]["rps"]
            print(f"  {ours_row[:3]}/{theirs_row[:3]} = {ratio:.2f}  (target >= 2)")


if __name__ == "__main__":
    main()
