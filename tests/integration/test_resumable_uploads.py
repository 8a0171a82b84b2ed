"""Resumable artifact uploads at the registry: a broken stream keeps what arrived, the status
says where to resume, the rest completes the artifact with the right sha256; a wrong offset,
a second stream of the same upload and bytes that do not hash as announced are refused."""

import hashlib
import os
import time

import grpc
import pytest

from maas.client.uploads import upload_resumable
from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server
from tests.conftest import running, service_settings, tenant_md

MD = tenant_md("up")
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with (
        running(build_server, service_settings(RegistrySettings, tmp_path_factory.mktemp("uploads"))) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        yield registry_pb2_grpc.RegistryServiceStub(channel)


def _header(data: bytes, offset: int = 0, sha256: str = "") -> pb.UploadArtifactRequest:
    header = pb.UploadArtifactRequest.Header(
        sha256=sha256 or hashlib.sha256(data).hexdigest(), size_bytes=len(data), resumable=True, offset=offset
    )
    return pb.UploadArtifactRequest(header=header)


def _stream(data: bytes, offset: int = 0, stop_at: int | None = None, sha256: str = "", before_dying=None):
    yield _header(data, offset, sha256)
    for start in range(offset, len(data), CHUNK):
        if stop_at is not None and start >= stop_at:
            if before_dying is not None:
                before_dying()
            raise ConnectionAbortedError("the client died")  # breaks the stream half-way
        yield pb.UploadArtifactRequest(chunk=data[start : start + CHUNK])


def _status(registry, data: bytes) -> int:
    name = f"uploads/{hashlib.sha256(data).hexdigest()}"
    return registry.GetUploadStatus(pb.GetUploadStatusRequest(name=name), metadata=MD).received_bytes


def _break_half_way(registry, data: bytes) -> int:
    def written() -> None:
        # A cancelled stream drops what the server has not read yet, so the client dies only once
        # the registry has written some of what was sent: what is kept is then known to be > 0.
        deadline = time.monotonic() + 10
        while _status(registry, data) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)

    with pytest.raises(grpc.RpcError):
        registry.UploadArtifact(_stream(data, stop_at=len(data) // 2, before_dying=written), metadata=MD)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if (held := _status(registry, data)) > 0:
                return held
        except grpc.RpcError:
            pass
        time.sleep(0.05)
    raise AssertionError("the registry kept nothing of the broken upload")


def test_a_broken_upload_resumes_from_what_the_registry_holds(registry):
    data = os.urandom(40 * CHUNK + 123)
    held = _break_half_way(registry, data)
    assert 0 < held <= len(data) // 2 + CHUNK  # the client sent every chunk that starts before half-way
    artifact = registry.UploadArtifact(_stream(data, offset=held), metadata=MD)
    assert artifact.sha256 == hashlib.sha256(data).hexdigest() and artifact.size_bytes == len(data)
    blob = b"".join(
        r.chunk for r in registry.DownloadArtifact(pb.DownloadArtifactRequest(name=artifact.name), metadata=MD)
    )
    assert blob == data
    with pytest.raises(grpc.RpcError) as gone:
        _status(registry, data)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_sdk_loop_resumes_by_itself(registry, tmp_path):
    data = os.urandom(20 * CHUNK)
    held = _break_half_way(registry, data)
    (tmp_path / "model.tar").write_bytes(data)
    sent = []
    artifact = upload_resumable(
        registry, lambda timeout: {"metadata": MD, "timeout": timeout or 30}, tmp_path / "model.tar",
        lambda done, total: sent.append(done),
    )  # fmt: skip
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert sent[0] > held and sent[-1] == len(data), "the resumed stream sends only the rest"


def test_an_offset_past_what_the_registry_holds_is_refused(registry):
    data = os.urandom(8 * CHUNK)
    held = _break_half_way(registry, data)
    with pytest.raises(grpc.RpcError) as error:
        registry.UploadArtifact(_stream(data, offset=held + CHUNK), metadata=MD)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"resume from {held}" in error.value.details()


def test_bytes_that_do_not_hash_as_announced_are_refused_and_dropped(registry):
    data = os.urandom(8 * CHUNK)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(grpc.RpcError) as error:
        registry.UploadArtifact(_stream(data, sha256=wrong), metadata=MD)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "hash to" in error.value.details()
    with pytest.raises(grpc.RpcError) as gone:
        registry.GetUploadStatus(pb.GetUploadStatusRequest(name=f"uploads/{wrong}"), metadata=MD)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_resumable_upload_needs_its_digest_and_size(registry):
    header = pb.UploadArtifactRequest.Header(resumable=True, size_bytes=10)
    with pytest.raises(grpc.RpcError) as error:
        registry.UploadArtifact(iter([pb.UploadArtifactRequest(header=header)]), metadata=MD)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "sha256" in error.value.details()
