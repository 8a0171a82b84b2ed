"""Inference's calls to the registry, in one place: the tenant and request-id metadata, timeouts,
the cache of immutable version lookups, downloads checked against their sha256, and the report
of a version's validation. Receives its channel from the server (`services.common.clients`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc

from maas.registry.v1 import registry_pb2 as rpb
from maas.registry.v1 import registry_pb2_grpc
from services.common.clients import LOOKUP_TIMEOUT, TRANSFER_TIMEOUT, adownload_verified, aupload_chunks
from services.common.errors import UpstreamError


class RegistryClient:
    def __init__(self, channel: grpc.aio.Channel, acting_for: Callable[[str], tuple]) -> None:
        # Inference calls as itself, for the tenant whose model it serves.
        self._metadata = acting_for
        self._stub = registry_pb2_grpc.RegistryServiceStub(channel)
        # Versions are immutable once validated, so their lookups are kept; a version still
        # waiting for validation is looked up again.
        self._versions: dict[tuple[str, str, int], rpb.ModelVersion] = {}

    async def version(self, tenant: str, model: str, number: int) -> rpb.ModelVersion:
        key = (tenant, model, number)
        version = self._versions.get(key)
        if version is None:
            version = await self._stub.GetModelVersion(
                rpb.GetModelVersionRequest(name=f"models/{model}/versions/{number}"),
                metadata=self._metadata(tenant),
                timeout=LOOKUP_TIMEOUT,
            )
            if version.state != rpb.ModelVersion.State.STATE_PENDING:
                self._versions[key] = version
        return version

    async def alias(self, tenant: str, model: str, alias: str) -> rpb.Alias:
        return await self._stub.GetAlias(
            rpb.GetAliasRequest(name=f"models/{model}/aliases/{alias}"),
            metadata=self._metadata(tenant),
            timeout=LOOKUP_TIMEOUT,
        )

    async def set_alias(self, tenant: str, alias: rpb.Alias, expected_revision: int) -> rpb.Alias:
        """Change an alias only if it is still at `expected_revision` (the rollout controller)."""
        try:
            return await self._stub.SetAlias(
                rpb.SetAliasRequest(alias=alias, expected_revision=expected_revision),
                metadata=self._metadata(tenant),
                timeout=LOOKUP_TIMEOUT,
            )
        except grpc.aio.AioRpcError as error:
            raise UpstreamError.from_rpc_error(error) from None

    async def upload_artifact(self, tenant: str, data: bytes) -> str:
        """Store bytes as an artifact of the tenant; returns its name."""
        messages = aupload_chunks(data, rpb.UploadArtifactRequest.Header, rpb.UploadArtifactRequest)
        try:
            artifact = await self._stub.UploadArtifact(
                messages, metadata=self._metadata(tenant), timeout=TRANSFER_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            raise UpstreamError.from_rpc_error(error) from None
        return artifact.name

    async def create_payload_log(
        self, tenant: str, model: str, version: int, day: str, rows: int, artifact: str
    ) -> rpb.PayloadLog:
        request = rpb.CreatePayloadLogRequest(
            parent=f"models/{model}",
            payload_log=rpb.PayloadLog(version=version, day=day, row_count=rows, artifact=artifact),
        )
        try:
            return await self._stub.CreatePayloadLog(request, metadata=self._metadata(tenant), timeout=LOOKUP_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            raise UpstreamError.from_rpc_error(error) from None

    async def report_drift(self, tenant: str, model: str, version: int, drift: rpb.DriftReport) -> None:
        request = rpb.ReportModelVersionDriftRequest(name=f"models/{model}/versions/{version}", drift=drift)
        try:
            await self._stub.ReportModelVersionDrift(request, metadata=self._metadata(tenant), timeout=LOOKUP_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            raise UpstreamError.from_rpc_error(error, "the registry") from None

    def watch(self, tenant: str, after_revision: int) -> AsyncIterator[rpb.RegistryEvent]:
        return self._stub.WatchRegistryEvents(
            rpb.WatchRegistryEventsRequest(after_revision=after_revision), metadata=self._metadata(tenant)
        )

    async def download(self, tenant: str, artifact: str, path: Path) -> None:
        """Stream an artifact into `path`, verifying its sha256 (the name's digest)."""

        def stream():
            request = rpb.DownloadArtifactRequest(name=artifact)
            return self._stub.DownloadArtifact(request, metadata=self._metadata(tenant), timeout=TRANSFER_TIMEOUT)

        try:
            await adownload_verified(stream, artifact, artifact.removeprefix("artifacts/"), path)
        except grpc.aio.AioRpcError as error:
            raise UpstreamError.from_rpc_error(error, "the registry") from None

    async def report(
        self, tenant: str, version: rpb.ModelVersion, signature: rpb.Signature | None, fmt: str, reason: str
    ) -> rpb.ModelVersion:
        """Tell the registry that a version passed validation (with its derived signature) or failed."""
        state = rpb.ModelVersion.State
        request = rpb.ReportModelVersionValidationRequest(
            name=version.name, state=state.STATE_FAILED if reason else state.STATE_READY, reason=reason, format=fmt
        )
        if signature is not None:
            request.signature.CopyFrom(signature)
        try:
            reported = await self._stub.ReportModelVersionValidation(
                request, metadata=self._metadata(tenant), timeout=LOOKUP_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            raise UpstreamError.from_rpc_error(error, "the registry") from None
        self._versions[(tenant, version.name.split("/")[1], reported.version)] = reported
        return reported
