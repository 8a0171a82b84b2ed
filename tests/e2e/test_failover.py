"""Two inference replicas behind the door (Envoy; the gateway's fallback proxy with
MAAS_TEST_DOOR=python): killing one (SIGKILL) under 64 requests in flight fails at most 0.1 % of
them, and the survivor takes all traffic within 2 seconds."""

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest

from maas.door import EnvoyProcess, envoy_binary
from maas.inference.v2 import grpc_service_pb2 as pb
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.stack import wait_serving
from services.common.ports import PORTS_FILE_ENV, wait_ports_file
from tests.e2e.conftest import tenant_with_digits

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


_STARTED = itertools.count()


class ServiceProcess(subprocess.Popen):
    """A service started by a test, on any free ports unless told others; `bound()` says which."""

    ports_file: Path

    def bound(self, timeout: float = 120) -> dict[str, int]:
        return wait_ports_file(self.ports_file, self, timeout)


def start(service: str, stack, **env: str) -> ServiceProcess:
    """`service` as a process of its own over the stack's data (same tenants, keys and models)."""
    ports_file = stack.log_dir / f"{service}-extra-{next(_STARTED)}.ports.json"
    environment = {
        **os.environ,
        "MAAS_DATA_DIR": str(stack.data_dir.resolve()),
        "MAAS_REGISTRY_ADDR": stack.address("registry"),
        "MAAS_GATEWAY_ADDR": stack.service_address("gateway"),
        "MAAS_SERVICE_SECRET": stack.service_secret,
        "MAAS_PORT": "0",
        "MAAS_METRICS_PORT": "0",
        PORTS_FILE_ENV: str(ports_file),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **env,
    }
    process = ServiceProcess(
        [sys.executable, "-m", f"services.{service}"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process.ports_file = ports_file
    return process


def open_door(stack, inference: list[str]):
    """A door in front of the stack's services and the two replicas: Envoy from the generator, or
    (MAAS_TEST_DOOR=python) a second gateway balancing over them. Returns its address and its stop."""
    if os.environ.get("MAAS_TEST_DOOR", "envoy") != "python" and envoy_binary() is not None:
        backends = {name: [stack.service_address(name)] for name in ("gateway", "registry", "trainer")}
        envoy = EnvoyProcess.on_any_port({**backends, "inference": inference}, stack.log_dir)
        envoy.start()
        return envoy.address, envoy.stop
    # The same data dir as the stack's gateway: same tenants and keys.
    gateway = start(
        "gateway",
        stack,
        MAAS_METRICS_PORT="-1",
        MAAS_ADMIN_KEY=stack.admin_key,
        MAAS_INFERENCE_ADDR="ipv4:" + ",".join(inference),
        MAAS_TRAINER_ADDR=stack.address("trainer"),
        MAAS_HTTP_PORT="-1",
    )

    def stop() -> None:
        gateway.terminate()
        gateway.wait(20)

    return f"127.0.0.1:{gateway.bound()['port']}", stop


def served(metrics_port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("maas_inference_requests_total{") and 'code="OK"' in line
    )


def test_killing_one_of_two_replicas_under_load(stack, journey):
    # A plan without rate limits: the load, not the plan, is under test.
    key = tenant_with_digits(stack, journey, "failover", "unmetered")
    replicas = [start("inference", stack) for _ in range(2)]
    stop_door = None
    try:
        ports = [(bound["port"], bound["metrics_port"]) for bound in (replica.bound() for replica in replicas)]
        for port, _ in ports:
            assert wait_serving(f"127.0.0.1:{port}", 120)
        door, stop_door = open_door(stack, [f"127.0.0.1:{p}" for p, _ in ports])
        gateway_port = int(door.rsplit(":", 1)[1])
        assert wait_serving(door, 60)
        request = pb.ModelInferRequest(model_name="digits")
        request.inputs.add(name="features", datatype="FP32", shape=[1, 64])
        request.raw_input_contents.append(np.zeros((1, 64), np.float32).tobytes())
        metadata = (("authorization", f"Bearer {key}"),)
        results: list[tuple[float, str]] = []
        killed_at: list[float] = []

        async def client(stop_at: float) -> None:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_port}") as channel:
                stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
                while time.monotonic() < stop_at:
                    try:
                        await stub.ModelInfer(request, metadata=metadata, timeout=10)
                        results.append((time.monotonic(), "OK"))
                    except grpc.aio.AioRpcError as error:
                        results.append((time.monotonic(), error.code().name))

        async def load() -> None:
            # Warm both replicas (each loads the model on first use) before measuring.
            async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway_port}") as channel:
                stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
                # Until the door has seen both replicas pass a health check (it checks every 0.5 s).
                deadline = time.monotonic() + 30
                while True:
                    try:
                        calls = (stub.ModelInfer(request, metadata=metadata, timeout=60) for _ in range(8))
                        await asyncio.gather(*calls)
                        if all(served(m) > 0 for _, m in ports) or time.monotonic() > deadline:
                            break
                    except grpc.aio.AioRpcError as error:
                        if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                            raise
                    await asyncio.sleep(0.2)
            stop_at = time.monotonic() + 6
            clients = [asyncio.create_task(client(stop_at)) for _ in range(64)]
            await asyncio.sleep(2)
            replicas[0].send_signal(signal.SIGKILL)
            killed_at.append(time.monotonic())
            await asyncio.gather(*clients)

        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(load())
            except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread below
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(90)
        assert not errors, errors
        survivor_before = served(ports[1][1])
        failures = [code for _, code in results if code != "OK"]
        assert len(results) > 1000
        assert len(failures) <= len(results) * 0.001, (len(failures), len(results), failures[:5])
        late = [code for t, code in results if t > killed_at[0] + 2]
        assert late and all(code == "OK" for code in late)
        assert survivor_before >= len(late)
    finally:
        if stop_door is not None:
            stop_door()
        for process in replicas:
            if process.poll() is None:
                process.terminate()
                process.wait(20)
