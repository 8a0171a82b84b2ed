"""Inference with several worker processes on one port (SO_REUSEPORT): both take calls, each
serves its own /metrics, and SIGTERM to the first drains and stops them all."""

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest

from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.stack import wait_serving
from services.common.ports import PORTS_FILE_ENV, wait_ports_file
from tests.conftest import SERVICE_SECRET, tenant_md

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Worker processes, not multiprocessing's resource tracker.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                children.append(int(entry.name))
    return children


def _handled(metrics_port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("grpc_server_handled_total{") and 'grpc_method="ServerMetadata"' in line
    )


def test_two_workers_share_the_port_and_stop_together(tmp_path):
    env = {
        **os.environ,
        "MAAS_PORT": "0",
        "MAAS_METRICS_PORT": "0",
        PORTS_FILE_ENV: str(tmp_path / "ports.json"),
        "MAAS_WORKERS": "2",
        "MAAS_DATA_DIR": str(tmp_path),
        "MAAS_REGISTRY_ADDR": "127.0.0.1:1",
        # Callers are authenticated: the test calls as the deployment's operator (no gateway needed).
        "MAAS_SERVICE_SECRET": SERVICE_SECRET,
        "MAAS_GATEWAY_ADDR": "127.0.0.1:1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log = (tmp_path / "inference.log").open("wb")
    parent = subprocess.Popen([sys.executable, "-m", "services.inference"], env=env, stdout=log, stderr=log)
    try:
        # The first process reports the shared port and every worker's metrics port once all serve.
        bound = wait_ports_file(tmp_path / "ports.json", parent, 120)
        port, metrics = bound["port"], (bound["metrics_port"], bound["worker_1_metrics_port"])
        assert len(set(metrics)) == 2
        assert wait_serving(f"127.0.0.1:{port}", 120), (tmp_path / "inference.log").read_text()[-3000:]
        # SERVING on the first process means the second serves too.
        assert _handled(metrics[1]) == 0
        assert len(_children(parent.pid)) == 1
        # New connections are spread by the kernel: after enough of them, both workers answered.
        for _ in range(40):
            with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
                reply = stub.ServerMetadata(pb.ServerMetadataRequest(), metadata=tenant_md("t"), timeout=10)
                assert reply.name == "maas-inference"
            if _handled(metrics[0]) and _handled(metrics[1]):
                break
        assert _handled(metrics[0]) > 0 and _handled(metrics[1]) > 0
        workers = _children(parent.pid)
    finally:
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(60)
        log.close()
    assert code == 0
    assert workers and not any(Path(f"/proc/{pid}").exists() for pid in workers)
