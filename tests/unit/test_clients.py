"""services.common.clients: channels, retries from the contract, metadata, chunked upload and verified download."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from maas.registry.v1 import registry_pb2 as rpb
from services.common.clients import (
    CHUNK_BYTES,
    ChecksumMismatch,
    PeerChannels,
    adownload_verified,
    aupload_chunks,
    backend_metadata,
    balanced,
    download_verified,
    read_retries,
    upload_chunks,
)
from services.common.metadata import REQUEST_ID_KEY, TENANT_KEY
from services.common.settings import ServiceSettings

REGISTRY = rpb.DESCRIPTOR.services_by_name["RegistryService"]


def _chunks(*parts: bytes):
    return [SimpleNamespace(chunk=p) for p in parts]


def test_read_retries_name_the_contracts_reads_and_no_write():
    options = dict(read_retries(REGISTRY))
    assert options["grpc.enable_retries"] == 1
    (config,) = json.loads(options["grpc.service_config"])["methodConfig"]
    methods = {n["method"] for n in config["name"]}
    assert {"GetModelVersion", "GetDataset", "GetAlias"} <= methods
    assert not methods & {"CreateModelVersion", "UploadArtifact", "DeleteArtifact", "SetAlias", "DownloadArtifact"}
    assert config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


def test_backend_metadata_carries_identity_tenant_and_request_id():
    identity = (("x-maas-service", "token"),)
    assert backend_metadata(identity, "acme", "req-1") == (
        ("x-maas-service", "token"),
        (TENANT_KEY, "acme"),
        (REQUEST_ID_KEY, "req-1"),
    )


def test_upload_chunks_send_a_header_with_the_digest_then_the_bytes():
    data = b"x" * (2 * CHUNK_BYTES + 5)
    requests = list(upload_chunks(data, rpb.UploadArtifactRequest.Header, rpb.UploadArtifactRequest))
    assert requests[0].header.sha256 == hashlib.sha256(data).hexdigest()
    assert requests[0].header.size_bytes == len(data)
    assert [len(r.chunk) for r in requests[1:]] == [CHUNK_BYTES, CHUNK_BYTES, 5]
    assert b"".join(r.chunk for r in requests[1:]) == data


@pytest.mark.asyncio
async def test_async_upload_chunks_are_the_same_requests():
    data = b"abc" * 1000
    header, request = rpb.UploadArtifactRequest.Header, rpb.UploadArtifactRequest
    assert [r async for r in aupload_chunks(data, header, request)] == list(upload_chunks(data, header, request))


def test_download_verified_writes_matching_bytes(tmp_path):
    target = tmp_path / "a"
    download_verified(
        lambda: _chunks(b"hello ", b"world"), "artifacts/x", hashlib.sha256(b"hello world").hexdigest(), target
    )
    assert target.read_bytes() == b"hello world"


def test_download_that_fails_its_checksum_raises_data_loss_and_leaves_nothing(tmp_path):
    target = tmp_path / "a"
    with pytest.raises(ChecksumMismatch) as caught:
        download_verified(lambda: _chunks(b"tampered"), "artifacts/x", hashlib.sha256(b"original").hexdigest(), target)
    assert caught.value.code == grpc.StatusCode.DATA_LOSS
    assert "artifacts/x" in caught.value.message
    assert not target.exists()


def test_broken_download_stream_leaves_nothing(tmp_path):
    def stream():
        yield SimpleNamespace(chunk=b"part")
        raise ConnectionError("cut")

    target = tmp_path / "a"
    with pytest.raises(ConnectionError):
        download_verified(stream, "artifacts/x", "0" * 64, target)
    assert not target.exists()


@pytest.mark.asyncio
async def test_async_download_verifies_too(tmp_path):
    async def stream(*parts):
        for part in parts:
            yield SimpleNamespace(chunk=part)

    target = tmp_path / "a"
    await adownload_verified(lambda: stream(b"ok"), "artifacts/x", hashlib.sha256(b"ok").hexdigest(), target)
    assert target.read_bytes() == b"ok"
    with pytest.raises(ChecksumMismatch):
        await adownload_verified(lambda: stream(b"no"), "artifacts/x", hashlib.sha256(b"ok").hexdigest(), target)
    assert not target.exists()


@pytest.fixture
def health_server():
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def test_peer_channels_reach_a_plaintext_peer(health_server):
    channels = PeerChannels(ServiceSettings())
    with channels.blocking(health_server, *read_retries(REGISTRY)) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.asyncio
async def test_async_peer_channel_reaches_a_plaintext_peer(health_server):
    channel = PeerChannels(ServiceSettings()).aio(health_server)
    try:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        await channel.close()
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_balanced_spreads_over_healthy_replicas_and_retries_only_the_named_services():
    options = dict(balanced("inference.GRPCInferenceService"))
    config = json.loads(options["grpc.service_config"])
    assert options["grpc.enable_retries"] == 1
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": ""}
    (method,) = config["methodConfig"]
    assert method["name"] == [{"service": "inference.GRPCInferenceService"}]
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


@pytest.mark.asyncio
async def test_loopback_channel_is_plaintext_even_with_a_peer_ca(health_server, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read: a loopback channel has no TLS")
    channel = PeerChannels(ServiceSettings(), (ca, None, None)).loopback(health_server)
    try:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        await channel.close()
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
