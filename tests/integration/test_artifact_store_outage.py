"""The artifact store lost under the registry: object storage unreachable (a relay in front of a
real S3-protocol server, cut and restored) and the disk under the filesystem store full (a small
tmpfs). Calls that cannot succeed get UNAVAILABLE or RESOURCE_EXHAUSTED with a message, the registry
keeps serving, and what was stored before is intact once the store is back."""

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import boto3
import grpc
import pytest

from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server as build_registry
from tests.conftest import MOTO_LISTENING, logged_port, running, service_settings, tenant_md

pytestmark = pytest.mark.slow
MD = tenant_md("store")


class Relay:
    """A TCP relay from a loopback port to `target`; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.open = threading.Event()
        self.open.set()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            end.close()

    def cut(self) -> None:
        self.open.clear()
        for end in self._sockets:
            end.close()
        self._sockets.clear()

    def restore(self) -> None:
        self.open.set()


def _upload(registry, data: bytes) -> rpb.Artifact:
    header = rpb.UploadArtifactRequest.Header(size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    messages = [rpb.UploadArtifactRequest(header=header), rpb.UploadArtifactRequest(chunk=data)]
    return registry.UploadArtifact(iter(messages), metadata=MD, timeout=60)


def _download(registry, name: str) -> bytes:
    chunks = registry.DownloadArtifact(rpb.DownloadArtifactRequest(name=name), metadata=MD, timeout=60)
    return b"".join(c.chunk for c in chunks)


@pytest.fixture
def moto(tmp_path):
    with (tmp_path / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"], stdout=log, stderr=log
        )
        try:
            yield logged_port(tmp_path / "moto.log", MOTO_LISTENING, process, 15)
        finally:
            process.terminate()
            process.wait(10)


def test_unreachable_object_storage_is_unavailable_and_nothing_stored_is_lost(moto, tmp_path, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    # Fail fast while cut: no long retry loop in botocore between the registry and the relay.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    bucket = f"maas-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=f"http://127.0.0.1:{moto}").create_bucket(Bucket=bucket)
    relay = Relay(moto)
    settings = service_settings(
        RegistrySettings,
        tmp_path,
        artifact_store="s3",
        s3_bucket=bucket,
        s3_endpoint_url=f"http://127.0.0.1:{relay.port}",
    )
    with running(build_registry, settings) as server, grpc.insecure_channel(server.address) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        kept = os.urandom(300_000)
        artifact = _upload(registry, kept)
        relay.cut()
        for attempt in (lambda: _upload(registry, os.urandom(1000)), lambda: _download(registry, artifact.name)):
            with pytest.raises(grpc.RpcError) as refused:
                attempt()
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value.details()
            assert "object storage is unreachable" in refused.value.details()
        listed = registry.ListModels(rpb.ListModelsRequest(), metadata=MD, timeout=5)  # the rest still answers
        assert listed is not None
        relay.restore()
        back = time.monotonic()
        assert _download(registry, artifact.name) == kept
        again = os.urandom(1000)
        assert _download(registry, _upload(registry, again).name) == again
        print(f"object storage back: first download {time.monotonic() - back:.2f} s after the relay reopened")


def test_a_full_disk_under_the_artifact_store_is_resource_exhausted(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a disk that fills up) needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    try:
        settings = service_settings(RegistrySettings, tmp_path, artifact_dir=disk)
        with running(build_registry, settings) as server, grpc.insecure_channel(server.address) as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            small = os.urandom(100_000)
            stored = _upload(registry, small)
            with pytest.raises(grpc.RpcError) as full:
                _upload(registry, os.urandom(3_000_000))
            assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, full.value.details()
            assert "disk is full" in full.value.details()
            assert _download(registry, stored.name) == small  # what was stored is intact
            again = os.urandom(50_000)  # the failed upload left no bytes behind: room for more
            assert _download(registry, _upload(registry, again).name) == again
    finally:
        subprocess.run(["umount", str(disk)], check=True)
