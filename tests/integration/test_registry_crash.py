"""A registry killed with SIGKILL in the middle of a 100 MB upload leaves nothing behind."""

import hashlib
import os
import signal
import subprocess
import sys

import grpc
import pytest

from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from maas.stack import wait_serving
from services.common.ports import PORTS_FILE_ENV, wait_ports_file
from tests.conftest import SERVICE_SECRET, tenant_md

pytestmark = pytest.mark.slow
CHUNK = 1024 * 1024


def start_registry(data_dir, port=0):
    """A registry process on `port` (any free one when 0); returns it and the port it bound."""
    ports_file = data_dir / "registry-ports.json"
    ports_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        "MAAS_DATA_DIR": str(data_dir),
        "MAAS_PORT": str(port),
        "MAAS_METRICS_PORT": "-1",
        "MAAS_SERVICE_SECRET": SERVICE_SECRET,  # tenant_md calls as the deployment's operator
        PORTS_FILE_ENV: str(ports_file),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.registry"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    port = wait_ports_file(ports_file, process, 60)["port"]
    assert wait_serving(f"127.0.0.1:{port}", 60), "registry did not start"
    return process, port


def chunks(data: bytes, on_chunk=None):
    yield pb.UploadArtifactRequest(header=pb.UploadArtifactRequest.Header(size_bytes=len(data)))
    for index, offset in enumerate(range(0, len(data), CHUNK)):
        if on_chunk:
            on_chunk(index)
        yield pb.UploadArtifactRequest(chunk=data[offset : offset + CHUNK])


def test_sigkill_mid_upload_leaves_no_bytes_and_a_later_upload_round_trips(tmp_path):
    data = os.urandom(100 * CHUNK)
    process, port = start_registry(tmp_path)

    def kill_midway(index):
        if index == 40:
            process.send_signal(signal.SIGKILL)
            process.wait()

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.UploadArtifact(chunks(data, kill_midway), metadata=tenant_md("acme"), timeout=60)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert any((tmp_path / "artifacts" / "tmp").iterdir()), "the kill should have left a partial upload"

    process, _ = start_registry(tmp_path, port)  # the same port: the client's channel reconnects there
    try:
        assert not any((tmp_path / "artifacts" / "tmp").iterdir())
        assert not any(p.is_file() for p in (tmp_path / "artifacts" / "blobs").rglob("*"))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            artifact = stub.UploadArtifact(chunks(data), metadata=tenant_md("acme"), timeout=120)
            assert artifact.sha256 == hashlib.sha256(data).hexdigest()
            digest = hashlib.sha256()
            size = 0
            for response in stub.DownloadArtifact(
                pb.DownloadArtifactRequest(name=artifact.name), metadata=tenant_md("acme"), timeout=120
            ):
                digest.update(response.chunk)
                size += len(response.chunk)
            assert (size, digest.hexdigest()) == (len(data), artifact.sha256)
            versions = stub.ListModels(pb.ListModelsRequest(), metadata=tenant_md("acme"))
            assert list(versions.models) == []
    finally:
        process.terminate()
        process.wait(20)
