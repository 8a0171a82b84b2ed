"""A service's Unix socket (`MAAS_UNIX_SOCKET`): refused beside TLS and when too long for a socket
path, and served with the same handlers as the TCP port; a stack's path for it fits."""

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

from maas.stack import socket_path
from services.registry.config import RegistrySettings
from services.registry.server import build_server
from tests.conftest import service_settings


def test_a_unix_socket_does_not_go_with_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("x")
    with pytest.raises(ValidationError, match="MAAS_UNIX_SOCKET is plaintext"):
        RegistrySettings(unix_socket=tmp_path / "r.sock", tls_cert_file=cert, tls_key_file=key)


def test_a_unix_socket_path_longer_than_a_socket_holds_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="longer than a Unix socket path"):
        RegistrySettings(unix_socket=tmp_path / ("x" * 120))


def test_a_stack_socket_path_fits_even_under_a_long_data_dir(tmp_path):
    short = socket_path(tmp_path, "gateway")
    assert short == tmp_path.resolve() / "gateway.sock"
    deep = tmp_path / ("d" * 90)
    long = socket_path(deep, "gateway")
    assert len(str(long)) <= 107 and long != socket_path(tmp_path / ("e" * 90), "gateway")
    RegistrySettings(unix_socket=long)  # valid


def test_the_server_answers_on_its_unix_socket_as_on_its_port(tmp_path):
    path = socket_path(tmp_path, "registry")
    settings = service_settings(RegistrySettings, tmp_path, unix_socket=path)

    async def check() -> tuple[int, int]:
        server = await build_server(settings)
        await server.start()
        try:
            statuses = []
            for target in (f"127.0.0.1:{server.port}", f"unix:{path}"):
                async with grpc.aio.insecure_channel(target) as channel:
                    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                    statuses.append(reply.status)
            return statuses[0], statuses[1]
        finally:
            await server.stop(0)

    assert asyncio.run(check()) == (health_pb2.HealthCheckResponse.SERVING,) * 2
