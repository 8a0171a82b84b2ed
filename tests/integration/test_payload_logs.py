"""Payload logs through the whole platform: an alias samples 1 % of its requests, inference writes
them as Parquet files the tenant lists, reads and deletes with the SDK, and another tenant sees
none of them. Real gateway, registry and inference servers."""

import asyncio
import math
import threading
import time

import grpc
import numpy as np
import pytest

from maas.client import MaasClient, MaasError
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2_grpc
from tests.integration.gateway_stack import bearer, gateway_stack
from tests.integration.test_inference_service import FEATURES, infer_request, register, tiny_model

pytestmark = pytest.mark.slow
CALLS, PERCENT = 10_000, 1.0


def send(address: str, key: str, calls: int, in_flight: int = 64) -> int:
    """`calls` distinct requests through the gateway; returns how many succeeded."""
    ok = 0

    async def main():
        nonlocal ok
        remaining = iter(range(calls))
        async with grpc.aio.insecure_channel(address) as channel:
            stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)

            async def client():
                nonlocal ok
                for i in remaining:
                    x = np.full((1, FEATURES), i, np.float32)  # the row says which call it was
                    await stub.ModelInfer(infer_request(x), metadata=bearer(key), timeout=30)
                    ok += 1

            await asyncio.gather(*(client() for _ in range(in_flight)))

    thread = threading.Thread(target=lambda: asyncio.run(main()))
    thread.start()
    thread.join(300)
    return ok


def test_one_percent_is_logged_readable_by_its_tenant_alone_and_deletable(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MAAS_PAYLOAD_LOG_FLUSH_SECONDS", "0.5")
    with gateway_stack(data_dir, inference=True) as stack:
        plan = stack.plan("unlimited")  # no quota or rate limit: 10,000 calls are the point
        key = stack.tenant("acme", plan=plan)
        other = stack.tenant("globex", plan=plan)
        with grpc.insecure_channel(stack.registry.address) as channel:
            assert register(registry_pb2_grpc.RegistryServiceStub(channel), tiny_model(1), tmp_path).version == 1
        with MaasClient(stack.gateway.address, key) as client:
            alias = client.set_alias("tiny", "production", 1, payload_log_percent=PERCENT)
            assert alias.payload_log_percent == PERCENT
            client.predict("tiny", np.zeros((1, FEATURES)))  # loads the model and follows the alias
            assert send(stack.gateway.address, key, CALLS) == CALLS
            logged, deadline = -1, time.monotonic() + 30
            while time.monotonic() < deadline:  # until the last batch is written
                time.sleep(1.5)
                logs = client.list_payload_logs("tiny")
                if sum(log.row_count for log in logs) == logged:
                    break
                logged = sum(log.row_count for log in logs)
            expected = CALLS * PERCENT / 100
            spread = 4 * math.sqrt(CALLS * PERCENT / 100 * (1 - PERCENT / 100))
            print(f"\n{logged} of {CALLS} requests logged at {PERCENT}% (expected {expected:.0f} +- {spread:.0f})")
            assert abs(logged - expected) <= spread
            assert {(log.version, log.day) for log in logs} == {(1, time.strftime("%Y-%m-%d", time.gmtime()))}
            table = client.read_payload_log(logs[0], tmp_path)
            assert table.column_names == ["time", "request_id", "input.features", "output.probabilities"]
            inputs = np.array(table.column("input.features").to_pylist(), np.float32)
            outputs = np.array(table.column("output.probabilities").to_pylist(), np.float32)
            # Each logged row is the request it came from, with the model's answer to it.
            np.testing.assert_allclose(outputs, tiny_model(1)(inputs).numpy(), rtol=1e-5, atol=1e-6)
            assert all(row[0] == row[-1] for row in inputs)
        with MaasClient(stack.gateway.address, other) as intruder:
            with pytest.raises(MaasError) as caught:
                intruder.list_payload_logs("tiny")
            assert caught.value.code == grpc.StatusCode.NOT_FOUND
            with pytest.raises(MaasError) as caught:
                intruder.read_payload_log(logs[0], tmp_path / "x")
            assert caught.value.code == grpc.StatusCode.NOT_FOUND
        with MaasClient(stack.gateway.address, key) as client:
            assert client.delete_payload_logs("tiny") == len(logs)
            assert client.list_payload_logs("tiny") == []
            with pytest.raises(MaasError) as caught:
                client.read_payload_log(logs[0], tmp_path)
            assert caught.value.code == grpc.StatusCode.NOT_FOUND
