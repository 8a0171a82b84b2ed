"""Real backends behind a real gateway, for the gateway's quota and authorisation tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2, admin_pb2_grpc
from maas.registry.v1 import registry_pb2, registry_pb2_grpc
from maas.stack import socket_path
from maas.trainer.v1 import trainer_pb2_grpc
from services.gateway.config import GatewaySettings
from services.gateway.server import build_server as build_gateway
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from services.trainer.config import TrainerSettings
from services.trainer.server import build_server as build_trainer
from tests.conftest import ServerThread, running, service_settings, test_door

ADMIN_KEY = "maas_admin_test_key"
ADMIN = (("authorization", f"Bearer {ADMIN_KEY}"),)
Scope = api_pb.Scope


def bearer(secret: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {secret}"),)


def started_calls(server: ServerThread) -> float:
    """Calls a server's gate admitted to a handler (authenticated, within the plan), from its own
    `maas_grpc_server_admitted_total`: a refused call reaches the service but touches nothing."""
    return sum(
        sample.value
        for metric in server.server.registry.collect()
        for sample in metric.samples
        if sample.name == "maas_grpc_server_admitted_total"
    )


def error_details(error: grpc.RpcError) -> dict[str, object]:
    """The `google.rpc` details of a failed call, by type name (`QuotaFailure`, `RetryInfo`)."""
    kinds = {"QuotaFailure": error_details_pb2.QuotaFailure, "RetryInfo": error_details_pb2.RetryInfo}
    details = {}
    for detail in rpc_status.from_call(error).details:
        message = kinds[detail.type_url.rsplit(".", 1)[-1]]()
        detail.Unpack(message)
        details[message.DESCRIPTOR.name] = message
    return details


@dataclass
class Stack:
    registry: ServerThread
    trainer: ServerThread
    gateway: ServerThread
    inference: ServerThread | None
    channel: grpc.Channel
    # The public gRPC door: Envoy, or the gateway's fallback proxy (MAAS_TEST_DOOR=python).
    door: str
    replicas: list[ServerThread]

    @property
    def admin(self) -> admin_pb2_grpc.AdminServiceStub:
        return admin_pb2_grpc.AdminServiceStub(self.channel)

    @property
    def models(self) -> registry_pb2_grpc.RegistryServiceStub:
        return registry_pb2_grpc.RegistryServiceStub(self.channel)

    @property
    def jobs(self) -> trainer_pb2_grpc.TrainerServiceStub:
        return trainer_pb2_grpc.TrainerServiceStub(self.channel)

    def tenant(self, tenant_id: str, plan: str = "", scopes=()) -> str:
        """Create a tenant (on `plans/{plan}`) and a key of it; returns the key's secret."""
        self.admin.CreateTenant(
            admin_pb2.CreateTenantRequest(tenant_id=tenant_id, tenant=admin_pb2.Tenant(plan=plan)), metadata=ADMIN
        )
        return self.key(tenant_id, scopes).secret

    def key(self, tenant_id: str, scopes=(), **fields) -> admin_pb2.CreateApiKeyResponse:
        request = admin_pb2.CreateApiKeyRequest(
            parent=f"tenants/{tenant_id}", api_key=admin_pb2.ApiKey(scopes=scopes, **fields)
        )
        return self.admin.CreateApiKey(request, metadata=ADMIN)

    def plan(self, plan_id: str, **limits) -> str:
        self.admin.CreatePlan(
            admin_pb2.CreatePlanRequest(plan_id=plan_id, plan=admin_pb2.Plan(**limits)), metadata=ADMIN
        )
        return f"plans/{plan_id}"

    def usage(self, tenant_id: str, **expected: int) -> admin_pb2.Usage:
        """The tenant's usage; with `expected` figures, once it shows them (replicas report their
        counts every `usage_report_seconds`), or as it is after 3 s."""
        deadline = time.monotonic() + 3
        while True:
            usage = self.admin.GetUsage(admin_pb2.GetUsageRequest(name=f"tenants/{tenant_id}/usage"), metadata=ADMIN)
            if all(getattr(usage, k) == v for k, v in expected.items()) or time.monotonic() > deadline:
                return usage
            time.sleep(0.05)

    def upload_dataset(self, secret: str, data: bytes, dataset_id: str = "d") -> registry_pb2.Dataset:
        header = registry_pb2.CreateDatasetRequest.Header(
            dataset_id=dataset_id, format=registry_pb2.DatasetFormat.DATASET_FORMAT_CSV
        )
        messages = [registry_pb2.CreateDatasetRequest(header=header), registry_pb2.CreateDatasetRequest(chunk=data)]
        return self.models.CreateDataset(iter(messages), metadata=bearer(secret), timeout=10)


@contextmanager
def gateway_stack(
    data_dir: Path, database_url: str = "", inference: bool = False, inference_replicas: int = 1, **gateway_settings
) -> Iterator[Stack]:
    """Registry, trainer without workers and, if asked, inference (`inference_replicas` of it),
    with the gateway service, behind the door, all on `database_url`."""
    with ExitStack() as stack:
        shared = {"database_url": database_url} if database_url else {}
        # The backends learn keys and lease quota from the gateway, which starts last (it needs their
        # addresses) on any free port: they reach it on its Unix socket.
        gateway_socket = socket_path(data_dir, "gateway")
        backend = {"gateway_addr": f"unix:{gateway_socket}", "usage_report_seconds": 0.2, **shared}
        registry = stack.enter_context(running(build_registry, service_settings(RegistrySettings, data_dir, **backend)))
        trainer = stack.enter_context(
            running(build_trainer, service_settings(TrainerSettings, data_dir, local_workers=0, **backend))
        )
        inference_server = None
        replicas: list[ServerThread] = []
        if inference:
            # Imported here: inference brings TensorFlow with it, which only the tests that ask need.
            from services.inference.config import InferenceSettings
            from services.inference.server import build_server as build_inference

            for _ in range(inference_replicas):
                settings = service_settings(InferenceSettings, data_dir, registry_addr=registry.address, **backend)
                replicas.append(stack.enter_context(running(build_inference, settings)))
            inference_server = replicas[0]
        settings = service_settings(
            GatewaySettings,
            data_dir,
            admin_key=ADMIN_KEY,
            unix_socket=gateway_socket,
            registry_addr=registry.address,
            trainer_addr=trainer.address,
            inference_addr="ipv4:" + ",".join(r.address for r in replicas) if replicas else "127.0.0.1:1",
            **{"key_cache_seconds": 0.2, **shared, **gateway_settings},
        )
        gateway = stack.enter_context(running(build_gateway, settings))
        door = stack.enter_context(test_door(gateway, registry, trainer, replicas))
        channel = stack.enter_context(grpc.insecure_channel(door))
        for server in (registry, trainer, *replicas):
            assert server.call(server.server.gate.wait_loaded(10)), "no credentials from the gateway"
        yield Stack(registry, trainer, gateway, inference_server, channel, door, replicas)
