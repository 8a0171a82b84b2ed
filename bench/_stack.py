"""Helpers the benchmarks share: a local stack on free ports and a tenant key."""

from __future__ import annotations

import argparse
import secrets
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import grpc

from maas.client import MaasClient, MaasError
from maas.stack import LocalStack

SMOKE_HELP = (
    "tiny sizes that finish in seconds: checks that the benchmark runs (the test suite runs it); figures meaningless"
)


def parse_args(parser: argparse.ArgumentParser, **smoke) -> argparse.Namespace:
    """Parse the benchmark's arguments; `--smoke` replaces the named ones with `smoke`'s values."""
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        for name, value in smoke.items():
            setattr(args, name, value)
    return args


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C, so the stack's services are stopped


@contextmanager
def local_stack(envoy_concurrency: int = 1, **env: str):
    """A stack on free ports for the `with` block; stopped on the way out, also on Ctrl-C or SIGTERM
    (SIGTERM's default would end the benchmark and leave its services running)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="maas-bench-") as tmp:
        extra_env = {"MAAS_ADMIN_KEY": "maas_admin_bench", **env}
        door = env.get("MAAS_DOOR") or None
        kwargs = {"door": door} if door else {}
        stack = LocalStack.on_free_ports(Path(tmp), extra_env=extra_env, envoy_concurrency=envoy_concurrency, **kwargs)
        try:
            stack.start(timeout=180)  # inside: a signal while starting stops what already runs
            yield stack
        finally:
            stack.stop()


def unlimited_plan(stack: LocalStack) -> str:
    """A plan with no quota or rate limit: a benchmark measures the work, not the refusals."""
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        try:
            return admin.create_plan("bench", display_name="bench").name
        except MaasError as error:  # the SDK raises MaasError, never a bare RpcError
            if error.code != grpc.StatusCode.ALREADY_EXISTS:
                raise
            return "plans/bench"


def tenant_key(stack: LocalStack, tenant: str = "") -> str:
    """An API key of a new tenant on the unlimited plan."""
    plan = unlimited_plan(stack)
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        tenant = tenant or f"bench-{secrets.token_hex(3)}"
        admin.create_tenant(tenant, plan=plan)
        return admin.create_api_key(tenant).secret


def latency_ms(call: Callable[[], object], repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "mean": statistics.fmean(samples),
    }
