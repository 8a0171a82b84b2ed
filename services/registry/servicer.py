"""gRPC servicer of the registry: translates requests to catalogue, dataset, artifact and event-log calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import grpc

from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.common.errors import DomainError, InvalidArgument
from services.common.metadata import tenant_of
from services.common.validation import check_id, is_number, page_size, parse_dataset_name, parse_name
from services.registry.aliases import AliasCatalogue
from services.registry.archive import set_archived
from services.registry.artifacts import ArtifactStore
from services.registry.catalogue import ModelCatalogue
from services.registry.config import RegistrySettings
from services.registry.datasets import DatasetCatalogue, inspect_upload
from services.registry.events import EventLog
from services.registry.payload_logs import PayloadLogs
from services.registry.uploads import Uploads

_MODEL = ("models", None)
_VERSION = ("models", None, "versions", None)
_ALIAS = ("models", None, "aliases", None)
_UPDATABLE_MODEL_FIELDS = {"description", "labels", "task_type"}
# How often a watch looks for new events; the event log is the source, so a watcher
# that reconnects with its last revision misses nothing.
WATCH_POLL_SECONDS = 0.2


def _version_number(ref: str) -> int:
    if not is_number(ref) or int(ref) <= 0:
        raise InvalidArgument(f"name: version {ref!r} must be a positive number here")
    return int(ref)


def _sha256_of(name: str, field: str) -> str:
    (sha256,) = parse_name(name, ("artifacts", None), field)
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidArgument(f"{field}: {name!r} must be artifacts/<64 lowercase hex digits>")
    return sha256


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(
        self,
        catalogue: ModelCatalogue,
        aliases: AliasCatalogue,
        datasets: DatasetCatalogue,
        artifacts: ArtifactStore,
        events: EventLog,
        settings: RegistrySettings,
    ) -> None:
        self.catalogue = catalogue
        self.aliases = aliases
        self.datasets = datasets
        self.artifacts = artifacts
        self.events = events
        self.settings = settings
        self.uploads = Uploads(artifacts.blobs, settings.max_artifact_bytes)
        self.payload_logs = PayloadLogs(catalogue.engine, catalogue, artifacts)

    # models
    async def CreateModel(self, request, context):
        return await asyncio.to_thread(self.catalogue.create_model, tenant_of(context), request.model_id, request.model)

    async def GetModel(self, request, context):
        (model_id,) = parse_name(request.name, _MODEL)
        return await asyncio.to_thread(self.catalogue.get_model, tenant_of(context), model_id)

    async def ListModels(self, request, context):
        models, token = await asyncio.to_thread(
            self.catalogue.list_models,
            tenant_of(context),
            page_size(request.page_size),
            request.page_token,
            request.filter,
            request.order_by,
        )
        return pb.ListModelsResponse(models=models, next_page_token=token)

    async def UpdateModel(self, request, context):
        (model_id,) = parse_name(request.model.name, _MODEL, "model.name")
        unknown = set(request.update_mask.paths) - _UPDATABLE_MODEL_FIELDS
        if unknown:
            raise InvalidArgument(
                f"update_mask: cannot update {sorted(unknown)}; updatable: {sorted(_UPDATABLE_MODEL_FIELDS)}"
            )
        return await asyncio.to_thread(
            self.catalogue.update_model, tenant_of(context), model_id, request.model, list(request.update_mask.paths)
        )

    async def DeleteModel(self, request, context):
        (model_id,) = parse_name(request.name, _MODEL)
        await asyncio.to_thread(self.catalogue.delete_model, tenant_of(context), model_id, request.etag)
        return pb.DeleteModelResponse()

    # versions
    async def CreateModelVersion(self, request, context):
        (model_id,) = parse_name(request.parent, _MODEL, "parent")
        if not request.model_version.artifact:
            raise InvalidArgument("model_version.artifact: required (upload the SavedModel archive first)")
        _sha256_of(request.model_version.artifact, "model_version.artifact")
        return await asyncio.to_thread(
            self.catalogue.create_version, tenant_of(context), model_id, request.model_version, request.request_id
        )

    async def GetModelVersion(self, request, context):
        model_id, ref = parse_name(request.name, _VERSION)
        return await asyncio.to_thread(self.catalogue.get_version, tenant_of(context), model_id, ref)

    async def ListModelVersions(self, request, context):
        (model_id,) = parse_name(request.parent, _MODEL, "parent")
        versions, token = await asyncio.to_thread(
            self.catalogue.list_versions,
            tenant_of(context),
            model_id,
            page_size(request.page_size),
            request.page_token,
            request.filter,
            request.order_by,
        )
        return pb.ListModelVersionsResponse(model_versions=versions, next_page_token=token)

    async def DeleteModelVersion(self, request, context):
        model_id, ref = parse_name(request.name, _VERSION)
        await asyncio.to_thread(self.catalogue.delete_version, tenant_of(context), model_id, _version_number(ref))
        return pb.DeleteModelVersionResponse()

    async def ArchiveModelVersion(self, request, context):
        model_id, ref = parse_name(request.name, _VERSION)
        number = _version_number(ref)
        return await asyncio.to_thread(set_archived, self.catalogue, tenant_of(context), model_id, number, True)

    async def UnarchiveModelVersion(self, request, context):
        model_id, ref = parse_name(request.name, _VERSION)
        number = _version_number(ref)
        return await asyncio.to_thread(set_archived, self.catalogue, tenant_of(context), model_id, number, False)

    # aliases
    async def SetAlias(self, request, context):
        model_id, alias = parse_name(request.alias.name, _ALIAS, "alias.name")
        return await asyncio.to_thread(
            self.aliases.set_alias, tenant_of(context), model_id, alias, request.alias, request.expected_revision
        )

    async def GetAlias(self, request, context):
        model_id, alias = parse_name(request.name, _ALIAS)
        return await asyncio.to_thread(self.aliases.get_alias, tenant_of(context), model_id, alias)

    async def ListAliases(self, request, context):
        (model_id,) = parse_name(request.parent, _MODEL, "parent")
        aliases = await asyncio.to_thread(self.aliases.list_aliases, tenant_of(context), model_id)
        return pb.ListAliasesResponse(aliases=aliases)

    async def DeleteAlias(self, request, context):
        model_id, alias = parse_name(request.name, _ALIAS)
        await asyncio.to_thread(self.aliases.delete_alias, tenant_of(context), model_id, alias)
        return pb.DeleteAliasResponse()

    async def ListAliasRevisions(self, request, context):
        model_id, alias = parse_name(request.name, _ALIAS)
        revisions, next_token = await asyncio.to_thread(
            self.aliases.list_revisions,
            tenant_of(context),
            model_id,
            alias,
            page_size(request.page_size),
            request.page_token,
        )
        return pb.ListAliasRevisionsResponse(revisions=revisions, next_page_token=next_token)

    # payload logs
    async def CreatePayloadLog(self, request, context):
        (model_id,) = parse_name(request.parent, _MODEL, "parent")
        return await asyncio.to_thread(self.payload_logs.create, tenant_of(context), model_id, request.payload_log)

    async def ListPayloadLogs(self, request, context):
        (model_id,) = parse_name(request.parent, _MODEL, "parent")
        logs, next_token = await asyncio.to_thread(
            self.payload_logs.list,
            tenant_of(context),
            model_id,
            request.version,
            request.day,
            page_size(request.page_size),
            request.page_token,
        )
        return pb.ListPayloadLogsResponse(payload_logs=logs, next_page_token=next_token)

    async def DeletePayloadLogs(self, request, context):
        (model_id,) = parse_name(request.parent, _MODEL, "parent")
        deleted = await asyncio.to_thread(
            self.payload_logs.delete, tenant_of(context), model_id, request.version, request.day
        )
        return pb.DeletePayloadLogsResponse(deleted_count=deleted)

    async def RollbackAlias(self, request, context):
        model_id, alias = parse_name(request.name, _ALIAS)
        return await asyncio.to_thread(
            self.aliases.rollback, tenant_of(context), model_id, alias, request.revision, request.reason
        )

    # uploads
    async def _receive(
        self,
        tenant: str,
        request_iterator: AsyncIterator,
        header_field: str,
        open_writer: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, Any, str]:
        """Read a header-then-chunks stream into a blob writer; returns (header, writer, sha256).
        `open_writer(header)` makes the writer (a plain temporary file by default). A resumable
        writer keeps its bytes when the stream breaks; any other ending discards them."""
        header = None
        writer = None if open_writer else self.artifacts.blobs.writer(tenant, self.settings.max_artifact_bytes)
        write = None
        try:
            async for message in request_iterator:
                kind = message.WhichOneof("payload")
                if header is None:
                    if kind != "header":
                        raise InvalidArgument(f"{header_field}: the first message must carry the header")
                    header = message.header
                    if writer is None:  # then open_writer was given
                        writer = await asyncio.to_thread(cast(Callable[[Any], Any], open_writer), header)
                elif kind == "chunk":
                    assert writer is not None  # opened with the header
                    # Shielded: a cancel must not close the file under a write still running.
                    write = asyncio.ensure_future(asyncio.to_thread(writer.write, message.chunk))
                    await asyncio.shield(write)
                else:
                    raise InvalidArgument(f"{header_field}: only the first message may carry a header")
            if header is None or writer is None:
                raise InvalidArgument(f"{header_field}: the stream was empty")
            sha256 = await asyncio.to_thread(writer.finish)
            if header.sha256 and header.sha256 != sha256:
                raise InvalidArgument(
                    f"{header_field}.sha256: the bytes received hash to {sha256}, not {header.sha256}"
                )
            return header, writer, sha256
        except DomainError:
            if writer is not None:
                writer.abort()
            raise
        except BaseException:  # the stream broke (the client went away, a cancel)
            if write is not None:
                await asyncio.wait([write])
            if writer is not None:
                writer.suspend() if writer.resumable else writer.abort()
            raise

    async def UploadArtifact(self, request_iterator, context):
        tenant = tenant_of(context)
        opened: list = []

        def open_writer(header):
            writer = self.uploads.writer(tenant, header)
            opened.append(header)
            return writer

        try:
            header, writer, sha256 = await self._receive(tenant, request_iterator, "header", open_writer)
        finally:
            for header in opened:
                self.uploads.closed(tenant, header)
        try:
            if header.size_bytes and header.size_bytes != writer.size:
                raise InvalidArgument(f"header.size_bytes: received {writer.size} bytes, not {header.size_bytes}")
            writer.commit(sha256)
        finally:
            writer.abort()
        return await asyncio.to_thread(self.artifacts.commit, tenant, sha256, writer.size)

    async def GetUploadStatus(self, request, context):
        (sha256,) = parse_name(request.name, ("uploads", None))
        return await asyncio.to_thread(self.uploads.status, tenant_of(context), sha256)

    async def ReportModelVersionValidation(self, request, context):
        model_id, ref = parse_name(request.name, _VERSION)
        return await asyncio.to_thread(
            self.catalogue.report_validation, tenant_of(context), model_id, _version_number(ref), request
        )

    async def ReportModelVersionDrift(self, request, context):
        model_id, ref = parse_name(request.name, _VERSION)
        return await asyncio.to_thread(
            self.catalogue.report_drift, tenant_of(context), model_id, _version_number(ref), request.drift
        )

    async def CreateDataset(self, request_iterator, context):
        tenant = tenant_of(context)
        header, writer, sha256 = await self._receive(tenant, request_iterator, "header")
        try:
            check_id(header.dataset_id, "header.dataset_id")
            info, profile = await asyncio.to_thread(inspect_upload, header, writer.path)
            writer.commit(sha256)
        finally:
            writer.abort()
        return await asyncio.to_thread(self.datasets.create, tenant, header, sha256, writer.size, info, profile)

    async def GetDataset(self, request, context):
        dataset_id, version = parse_dataset_name(request.name)
        return await asyncio.to_thread(self.datasets.get, tenant_of(context), dataset_id, version)

    async def ListDatasets(self, request, context):
        datasets, token = await asyncio.to_thread(
            self.datasets.list,
            tenant_of(context),
            request.dataset_id,
            page_size(request.page_size),
            request.page_token,
        )
        return pb.ListDatasetsResponse(datasets=datasets, next_page_token=token)

    async def DeleteDataset(self, request, context):
        dataset_id, version = parse_dataset_name(request.name)
        deleted = await asyncio.to_thread(self.datasets.delete, tenant_of(context), dataset_id, version)
        return pb.DeleteDatasetResponse(deleted_versions=deleted)

    # downloads and watch
    async def DownloadArtifact(self, request, context):
        tenant = tenant_of(context)
        sha256 = _sha256_of(request.name, "name")
        artifact = await asyncio.to_thread(self.artifacts.get, tenant, sha256)
        if not 0 <= request.offset <= artifact.size_bytes:
            raise InvalidArgument(f"offset: {request.offset} is outside 0..{artifact.size_bytes}")
        chunks = self.artifacts.blobs.read(tenant, sha256, request.offset, self.settings.chunk_bytes)
        offset = request.offset
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                break
            yield pb.DownloadArtifactResponse(chunk=chunk, offset=offset, size_bytes=artifact.size_bytes, sha256=sha256)
            offset += len(chunk)

    async def DeleteArtifact(self, request, context):
        sha256 = _sha256_of(request.name, "name")
        await asyncio.to_thread(self.artifacts.delete, tenant_of(context), sha256)
        return pb.DeleteArtifactResponse()

    async def WatchRegistryEvents(self, request, context):
        tenant = tenant_of(context)
        model_id = ""
        if request.model:
            (model_id,) = parse_name(request.model, _MODEL, "model")
        after = request.after_revision or await asyncio.to_thread(self.events.latest_revision, tenant)
        while True:
            events = await asyncio.to_thread(self.events.after, tenant, model_id, after)
            for event in events:
                yield event
                after = event.revision
            if not events:
                await asyncio.sleep(WATCH_POLL_SECONDS)

    async def GetStorageUsage(self, request, context):
        return await asyncio.to_thread(self.artifacts.storage_usage, tenant_of(context))


def register(servicer: RegistryServicer, server: grpc.aio.Server) -> None:
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(servicer, server)
