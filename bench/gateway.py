"""Gateway benchmark: batch-1 ModelInfer of the digits MLP with 64 in flight, in one run,
(a) through the gateway (API key, tenant, quota, byte-level proxy) and (b) directly to inference,
and the CPU time per call of (c) the gateway process while proxying and (d) a bare grpc.aio
server returning a fixed response (the cost of one Python gRPC call here).

Targets: (a) >= 75% of (b) requests/s; (c) <= (d). On a small machine the load generator, the
gateway and inference share the cores, so the CPU per call is the figure that carries over to a
bigger one. Load from h2load (Debian package nghttp2-client). Usage (repository root):
python -m bench.gateway [--requests 20000] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

from bench._stack import local_stack, parse_args, unlimited_plan
from bench.inference import IN_FLIGHT, check, digits_request, frame, h2load, process, settle, wait_port
from maas.client import MaasClient
from maas.demo import run_demo
from maas.stack import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=5, help="training epochs of the digits model served")
    args = parse_args(parser, requests=300, epochs=2)
    test_x, request = digits_request()
    with tempfile.TemporaryDirectory() as tmp, local_stack(MAAS_LOG_SUCCESSFUL_CALLS="false") as stack:
        workdir = Path(tmp)
        body = workdir / "request.grpc"
        body.write_bytes(frame(request))
        plan = unlimited_plan(stack)
        with contextlib.redirect_stdout(io.StringIO()):
            demo = run_demo(stack.address("gateway"), stack.admin_key, epochs=args.epochs, tenant="bench", plan=plan)
        with MaasClient(stack.address("gateway"), demo.api_key) as client:
            expected = client.predict("digits", test_x[:1])["probabilities"]
        through_gateway = {"authorization": f"Bearer {demo.api_key}"}
        direct = {"x-maas-tenant": demo.tenant}

        check(stack.address("gateway"), request, tuple(through_gateway.items()), expected)
        check(stack.address("inference"), request, tuple(direct.items()), expected)
        metrics = [f"http://127.0.0.1:{stack.ports['inference'][1]}/metrics"]
        runtime = settle(stack.address("inference"), request, tuple(direct.items()), metrics)
        gateway_pid = stack.processes["gateway"].pid
        gateway = h2load(stack.ports["gateway"][0], body, through_gateway, args.requests, workdir, gateway_pid)
        inference = h2load(stack.ports["inference"][0], body, direct, args.requests, workdir)
        port = free_port()
        with process([sys.executable, "-m", "bench.floor_server", str(port)]) as floor_process:
            wait_port(port)
            check(f"127.0.0.1:{port}", request, (), None)
            floor = h2load(port, body, {}, args.requests, workdir, floor_process.pid)

    print(
        f"digits MLP, batch-1 ModelInfer, {IN_FLIGHT[0] * IN_FLIGHT[1]} in flight, {args.requests} requests "
        f"(h2load), {os.cpu_count()} CPUs; inference runs the model on {runtime}"
    )
    print(f"  {'path':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ok':>7} {'CPU us/call':>12}")
    for name, r, cpu in (
        ("(a) through the gateway", gateway, gateway["cpu_s"]),
        ("(b) directly to inference", inference, None),
        ("(d) bare grpc.aio server", floor, floor["cpu_s"]),
    ):
        per_call = f"{cpu / r['ok'] * 1e6:12.0f}" if cpu is not None else f"{'':>12}"
        print(f"  {name:<30} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {int(r['ok']):7d} {per_call}")
    gateway_cpu = gateway["cpu_s"] / gateway["ok"]
    floor_cpu = floor["cpu_s"] / floor["ok"]
    print(f"  (a)/(b) requests/s = {gateway['rps'] / inference['rps']:.2f}  (target >= 0.75)")
    print(f"  (c) gateway CPU per call / (d) bare server CPU per call = {gateway_cpu / floor_cpu:.2f}  (target <= 1)")


if __name__ == "__main__":
    main()
