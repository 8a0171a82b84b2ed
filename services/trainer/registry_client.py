"""A training job's calls to the registry, on behalf of the job's tenant: datasets, versions,
artifacts and the registration of what it trained. Receives its channel and identity from the
job's bootstrap (`services.common.clients`); blocking, as a job process is."""

from __future__ import annotations

from pathlib import Path

import grpc

from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from services.common import tracing
from services.common.clients import (
    LOOKUP_TIMEOUT,
    TRANSFER_TIMEOUT,
    WRITE_TIMEOUT,
    Metadata,
    download_verified,
    traced,
    upload_chunks,
)


class RegistryClient:
    """The few registry calls a job needs; `metadata` says who calls (the trainer) for whom."""

    def __init__(self, channel: grpc.Channel, metadata: Metadata) -> None:
        self._channel = channel
        self._stub = registry_pb2_grpc.RegistryServiceStub(channel)
        self._identity = metadata

    @property
    def _metadata(self) -> Metadata:
        # The registry's spans join the job's trace.
        return traced(self._identity)

    def dataset(self, name: str) -> rpb.Dataset:
        return self._stub.GetDataset(rpb.GetDatasetRequest(name=name), metadata=self._metadata, timeout=LOOKUP_TIMEOUT)

    def model_version(self, name: str) -> rpb.ModelVersion:
        request = rpb.GetModelVersionRequest(name=name)
        return self._stub.GetModelVersion(request, metadata=self._metadata, timeout=LOOKUP_TIMEOUT)

    def download(self, artifact: str, sha256: str, target: Path) -> None:
        """The artifact's bytes into `target`, checked against `sha256` (ChecksumMismatch)."""

        def stream():
            request = rpb.DownloadArtifactRequest(name=artifact)
            return self._stub.DownloadArtifact(request, metadata=self._metadata, timeout=TRANSFER_TIMEOUT)

        download_verified(stream, artifact, sha256, target)

    def upload(self, data: bytes) -> rpb.Artifact:
        messages = upload_chunks(data, rpb.UploadArtifactRequest.Header, rpb.UploadArtifactRequest)
        with tracing.span("artifact upload", size_bytes=len(data)):
            return self._stub.UploadArtifact(messages, metadata=self._metadata, timeout=TRANSFER_TIMEOUT)

    def delete(self, artifact: str) -> None:
        request = rpb.DeleteArtifactRequest(name=artifact)
        self._stub.DeleteArtifact(request, metadata=self._metadata, timeout=LOOKUP_TIMEOUT)

    def register(self, parent: str, version: rpb.ModelVersion, request_id: str) -> rpb.ModelVersion:
        return self._stub.CreateModelVersion(
            rpb.CreateModelVersionRequest(parent=parent, model_version=version, request_id=request_id),
            metadata=self._metadata,
            timeout=WRITE_TIMEOUT,
        )

    def close(self) -> None:
        self._channel.close()
