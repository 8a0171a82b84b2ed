"""Data-plane benchmark: batch-1 ModelInfer of the digits MLP with 64 in flight, in one run,
(a) through the front door (Envoy, which routes straight to inference; inference authenticates
the key and meters the call), (b) directly to inference as the deployment's operator (a service
token: no key lookup, no metering: the service's cheapest caller), (c) directly to inference
with the tenant's key (its own authentication, rate limit and quota lease on), and (d) a bare
grpc.aio server returning a fixed response (the cost of one Python gRPC call here).

Targets: (a) >= 0.75 (b) and (c) >= 0.95 (b) in requests/s; the data plane's CPU per call (Envoy's
in (a), plus what authentication and metering add to inference: (c) - (b)) <= 0.75 of (d)'s.
On a small machine the load generator, Envoy and inference share the cores, so each process's
CPU seconds are printed. Load from h2load (Debian package nghttp2-client). Usage (repository root):
python -m bench.gateway [--requests 20000] [--rounds 3] [--envoy-concurrency 1] [--smoke]

The paths run in interleaved rounds ((b), (c), (a), (d), then again), so a burst of other work on
the machine lands on every path alike; each row is the round with the median requests/s, and each
ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench._stack import local_stack, parse_args
from bench.inference import IN_FLIGHT, check, digits_request, frame, h2load, on_any_port, settle
from maas.client import MaasClient
from maas.demo import run_demo
from services.common.credentials import SERVICE_KEY, service_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=5, help="training epochs of the digits model served")
    parser.add_argument("--envoy-concurrency", type=int, default=1, help="Envoy worker threads")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every path (median reported)")
    args = parse_args(parser, requests=300, epochs=2, rounds=1)
    test_x, request = digits_request()
    env = {"MAAS_LOG_SUCCESSFUL_CALLS": "false", "MAAS_DOOR": "envoy"}
    with tempfile.TemporaryDirectory() as tmp, local_stack(envoy_concurrency=args.envoy_concurrency, **env) as stack:
        workdir = Path(tmp)
        body = workdir / "request.grpc"
        body.write_bytes(frame(request))
        with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
            # Metered: a daily quota (leased) and a rate limit, both far above what the run asks.
            plan = admin.create_plan(
                "metered", display_name="metered", predictions_per_day=10**12, requests_per_second=1e6, burst=10**6
            ).name
        with contextlib.redirect_stdout(io.StringIO()):
            demo = run_demo(stack.address("gateway"), stack.admin_key, epochs=args.epochs, tenant="bench", plan=plan)
        with MaasClient(stack.address("gateway"), demo.api_key) as client:
            expected = client.predict("digits", test_x[:1])["probabilities"]
        key = {"authorization": f"Bearer {demo.api_key}"}
        operator = {SERVICE_KEY: service_token(stack.service_secret, "operator"), "x-maas-tenant": demo.tenant}

        check(stack.address("gateway"), request, tuple(key.items()), expected)
        check(stack.address("inference"), request, tuple(operator.items()), expected)
        metrics = [f"http://127.0.0.1:{stack.ports['inference'][1]}/metrics"]
        runtime = settle(stack.address("inference"), request, tuple(operator.items()), metrics)
        envoy_pid = stack.envoy.process.pid
        inference_pid = stack.processes["inference"].pid
        gateway_pid = stack.processes["gateway"].pid
        door_port = stack.ports["gateway"][0]
        inference_port = stack.ports["inference"][0]
        rounds: dict[str, list[dict]] = {"door": [], "direct": [], "metered": [], "floor": []}
        floor = [sys.executable, "-m", "bench.floor_server", "0"]
        with on_any_port(floor, {}, Path(tmp), "floor") as (floor_process, bound):
            port = bound["port"]
            check(f"127.0.0.1:{port}", request, (), None)
            paths = {
                "direct": (inference_port, operator, (inference_pid,)),
                "metered": (inference_port, key, (inference_pid,)),
                "door": (door_port, key, (envoy_pid, inference_pid, gateway_pid)),
                "floor": (port, {}, (floor_process.pid,)),
            }
            for _ in range(args.rounds):
                for name, (target, headers, pids) in paths.items():
                    rounds[name].append(h2load(target, body, headers, args.requests, workdir, pids))
    report(args, runtime, rounds)


def _median_round(results: list[dict]) -> dict:
    return sorted(results, key=lambda r: r["rps"])[len(results) // 2]


def report(args: argparse.Namespace, runtime: str, rounds: dict[str, list[dict]]) -> None:
    door, direct, metered, floor = (_median_round(rounds[name]) for name in ("door", "direct", "metered", "floor"))

    def ratio(over: str, under: str) -> float:
        return statistics.median(o["rps"] / u["rps"] for o, u in zip(rounds[over], rounds[under], strict=True))

    print(
        f"digits MLP, batch-1 ModelInfer, {IN_FLIGHT[0] * IN_FLIGHT[1]} in flight, {args.requests} requests "
        f"(h2load), {args.rounds} interleaved round(s), {os.cpu_count()} CPUs, "
        f"Envoy --concurrency {args.envoy_concurrency}; "
        f"inference runs the model on {runtime}"
    )
    print(
        f"  {'path':<36} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ok':>6}  CPU s: "
        f"{'h2load':>6} {'envoy':>6} {'infer':>6} {'gatewy':>6} {'floor':>6}"
    )

    def cpu(value: float | None) -> str:
        return f"{value:6.2f}" if value is not None else f"{'':>6}"

    rows = (
        ("(a) through the door (Envoy)", door, (door["cpu_each"][0], door["cpu_each"][1], door["cpu_each"][2], None)),
        ("(b) direct, operator (no key, unmetered)", direct, (None, direct["cpu_each"][0], None, None)),
        ("(c) direct, key + metering", metered, (None, metered["cpu_each"][0], None, None)),
        ("(d) bare grpc.aio server", floor, (None, None, None, floor["cpu_each"][0])),
    )
    for name, r, (envoy, infer, gateway, bare) in rows:
        print(
            f"  {name:<36} {r['rps']:8.0f} {r['p50']:7.2f} {r['p99']:7.2f} {int(r['ok']):6d}         "
            f"{r['load_cpu_s']:6.2f} {cpu(envoy)} {cpu(infer)} {cpu(gateway)} {cpu(bare)}"
        )

    def per_call_us(seconds: float, r: dict) -> float:
        return seconds / r["ok"] * 1e6

    envoy_us = per_call_us(door["cpu_each"][0], door)
    gate_us = per_call_us(metered["cpu_each"][0], metered) - per_call_us(direct["cpu_each"][0], direct)
    floor_us = per_call_us(floor["cpu_each"][0], floor)
    print(
        f"  CPU per call: Envoy {envoy_us:.0f} us, inference's auth + metering {gate_us:.0f} us "
        f"(inference {per_call_us(metered['cpu_each'][0], metered):.0f} us with, "
        f"{per_call_us(direct['cpu_each'][0], direct):.0f} us without), bare grpc.aio call {floor_us:.0f} us"
    )
    for name in ("door", "direct", "metered"):
        print(f"  rounds {name}: " + ", ".join(f"{r['rps']:.0f}" for r in rounds[name]) + " req/s")
    print(f"  (a)/(b) requests/s = {ratio('door', 'direct'):.2f}  (target >= 0.75; median of the rounds)")
    print(f"  (c)/(b) requests/s = {ratio('metered', 'direct'):.2f}  (target >= 0.95; median of the rounds)")
    print(
        f"  data plane CPU per call / bare grpc.aio call = {(envoy_us + max(0.0, gate_us)) / floor_us:.2f}  "
        "(target <= 0.75)"
    )


if __name__ == "__main__":
    main()
