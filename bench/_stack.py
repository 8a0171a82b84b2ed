"""Helpers the benchmarks share: a local stack on free ports and a tenant key."""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from maas.client import MaasClient
from maas.stack import LocalStack


@contextmanager
def local_stack(**env: str):
    with tempfile.TemporaryDirectory(prefix="maas-bench-") as tmp:
        stack = LocalStack.on_free_ports(Path(tmp), extra_env={"MAAS_ADMIN_KEY": "maas_admin_bench", **env})
        stack.start(timeout=180)
        try:
            yield stack
        finally:
            stack.stop()


def tenant_key(stack: LocalStack, tenant: str = "") -> str:
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        tenant = tenant or f"bench-{secrets.token_hex(3)}"
        admin.create_tenant(tenant)
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
