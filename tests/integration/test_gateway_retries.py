"""The gateway retries the registry's and trainer's reads on UNAVAILABLE, and only those."""

import asyncio
import threading
import time

import grpc
import pytest

from maas.registry.v1 import registry_pb2 as rpb
from services.gateway.routes import REGISTRY_SERVICE, TRAINER_SERVICE, read_methods
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests.conftest import ServerThread
from tests.integration.gateway_stack import bearer, gateway_stack


def test_read_methods_come_from_the_contract():
    assert read_methods(REGISTRY_SERVICE) == [
        "GetModel",
        "ListModels",
        "GetModelVersion",
        "ListModelVersions",
        "GetAlias",
        "ListAliases",
        "ListAliasRevisions",
        "ListPayloadLogs",
        "GetDataset",
        "ListDatasets",
        "GetStorageUsage",
    ]
    assert read_methods(TRAINER_SERVICE) == ["GetTrainingJob", "ListTrainingJobs", "GetTrainingUsage"]


# The door retries reads for about 5 s; on a loaded two-core machine the restarted registry can take
# longer to load its credentials and pass Envoy's health check.
@pytest.mark.flaky(reruns=2)
def test_a_read_outlives_a_registry_restart_on_the_same_port_and_a_write_is_not_retried(data_dir):
    with gateway_stack(data_dir) as stack:
        secret = stack.tenant("acme")
        stack.models.CreateModel(rpb.CreateModelRequest(model_id="kept"), metadata=bearer(secret))
        # The port it bound and the same data (any free metrics port: the test needs only the gRPC one).
        settings = RegistrySettings(**{**dict(stack.registry.server.settings), "port": stack.registry.server.port})
        built, go = threading.Event(), threading.Event()

        async def build_then_wait(settings):
            # Built (migrations, storage sweep) before the outage, so the registry is down only
            # from its stop to the new server's start, however slow a loaded machine is.
            server = await build_registry(settings)
            built.set()
            await asyncio.to_thread(go.wait)
            return server

        restarted = ServerThread(build_then_wait, settings)
        starter = threading.Thread(target=restarted.start)
        starter.start()
        assert built.wait(60)
        stack.registry.call(stack.registry.server.stop(grace=1))
        try:
            # A write meets the stopped registry once and fails: retrying it could apply it twice.
            with pytest.raises(grpc.RpcError) as error:
                stack.models.CreateModel(rpb.CreateModelRequest(model_id="lost"), metadata=bearer(secret), timeout=10)
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE

            # A read sent while the registry is down; it is back 0.15 s later.
            result = {}

            def read() -> None:
                try:
                    get = rpb.GetModelRequest(name="models/kept")
                    result["model"] = stack.models.GetModel(get, metadata=bearer(secret), timeout=10)
                except grpc.RpcError as failure:
                    result["error"] = failure.code()

            reader = threading.Thread(target=read)
            reader.start()
            time.sleep(0.15)
            go.set()
            starter.join(30)
            reader.join(15)
            assert "error" not in result, result
            assert result["model"].name == "models/kept"
            listed = stack.models.ListModels(rpb.ListModelsRequest(), metadata=bearer(secret)).models
            assert [m.name for m in listed] == ["models/kept"]
        finally:
            go.set()
            starter.join(30)
            restarted.stop()
