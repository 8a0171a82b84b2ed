"""Tenant isolation: tenant B can neither see nor touch tenant A's resources through any RPC."""

import hashlib
import time

import grpc
import pytest

from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server
from tests.conftest import running, service_settings, status_of, tenant_md
from tests.integration.test_registry_service import upload_artifact, upload_dataset

A, B = tenant_md("tenant-a"), tenant_md("tenant-b")
NOT_FOUND = grpc.StatusCode.NOT_FOUND


@pytest.fixture
def seeded(data_dir):
    with (
        running(build_server, service_settings(RegistrySettings, data_dir)) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        artifact = upload_artifact(stub, "tenant-a", b"a-weights")
        stub.CreateModelVersion(
            pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
            metadata=A,
        )
        stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/production", version=1)), metadata=A)
        log = pb.PayloadLog(version=1, day="2026-12-01", row_count=5, artifact=artifact.name)
        stub.CreatePayloadLog(pb.CreatePayloadLogRequest(parent="models/m", payload_log=log), metadata=A)
        upload_dataset(stub, "tenant-a", dataset_id="d")
        upload_dataset(stub, "tenant-a", dataset_id="a-only")
        yield stub, artifact


def _broken_upload(stub, data: bytes) -> str:
    """Tenant A's resumable upload, broken off after its first chunk; returns its sha256."""
    sha256 = hashlib.sha256(data).hexdigest()

    def messages():
        header = pb.UploadArtifactRequest.Header(sha256=sha256, size_bytes=len(data), resumable=True)
        yield pb.UploadArtifactRequest(header=header)
        yield pb.UploadArtifactRequest(chunk=data[:10])
        raise ConnectionAbortedError("the client went away")

    with pytest.raises(grpc.RpcError):
        stub.UploadArtifact(messages(), metadata=A)
    return sha256


def test_every_registry_rpc_keeps_tenants_apart(seeded):
    stub, artifact = seeded
    version = pb.ModelVersion(artifact=artifact.name)
    a_upload = _broken_upload(stub, b"a-upload-in-progress" * 100)
    deadline = time.monotonic() + 10
    a_status = pb.GetUploadStatusRequest(name=f"uploads/{a_upload}")
    while status_of(lambda: stub.GetUploadStatus(a_status, metadata=A)) != grpc.StatusCode.OK:
        assert time.monotonic() < deadline, "tenant A's broken upload was not kept"
        time.sleep(0.05)
    # Method -> a call tenant B makes against tenant A's resources, and what it must get.
    matrix = {
        "CreateModel": (lambda: stub.CreateModel(pb.CreateModelRequest(model_id="m"), metadata=B), grpc.StatusCode.OK),
        "GetModel": (lambda: stub.GetModel(pb.GetModelRequest(name="models/x"), metadata=B), NOT_FOUND),
        "ListModels": (lambda: stub.ListModels(pb.ListModelsRequest(), metadata=B), grpc.StatusCode.OK),
        "UpdateModel": (
            lambda: stub.UpdateModel(pb.UpdateModelRequest(model=pb.Model(name="models/x")), metadata=B),
            NOT_FOUND,
        ),
        "DeleteModel": (lambda: stub.DeleteModel(pb.DeleteModelRequest(name="models/x"), metadata=B), NOT_FOUND),
        "CreateModelVersion": (
            lambda: stub.CreateModelVersion(
                pb.CreateModelVersionRequest(parent="models/m", model_version=version), metadata=B
            ),
            NOT_FOUND,
        ),
        "GetModelVersion": (
            lambda: stub.GetModelVersion(pb.GetModelVersionRequest(name="models/x/versions/1"), metadata=B),
            NOT_FOUND,
        ),
        "ListModelVersions": (
            lambda: stub.ListModelVersions(pb.ListModelVersionsRequest(parent="models/x"), metadata=B),
            NOT_FOUND,
        ),
        "DeleteModelVersion": (
            lambda: stub.DeleteModelVersion(pb.DeleteModelVersionRequest(name="models/x/versions/1"), metadata=B),
            NOT_FOUND,
        ),
        "ArchiveModelVersion": (
            lambda: stub.ArchiveModelVersion(pb.ArchiveModelVersionRequest(name="models/x/versions/1"), metadata=B),
            NOT_FOUND,
        ),
        "UnarchiveModelVersion": (
            lambda: stub.UnarchiveModelVersion(pb.UnarchiveModelVersionRequest(name="models/x/versions/1"), metadata=B),
            NOT_FOUND,
        ),
        "SetAlias": (
            lambda: stub.SetAlias(
                pb.SetAliasRequest(alias=pb.Alias(name="models/x/aliases/production", version=1)), metadata=B
            ),
            NOT_FOUND,
        ),
        "GetAlias": (
            lambda: stub.GetAlias(pb.GetAliasRequest(name="models/x/aliases/production"), metadata=B),
            NOT_FOUND,
        ),
        "ListAliases": (lambda: stub.ListAliases(pb.ListAliasesRequest(parent="models/x"), metadata=B), NOT_FOUND),
        "DeleteAlias": (
            lambda: stub.DeleteAlias(pb.DeleteAliasRequest(name="models/x/aliases/production"), metadata=B),
            NOT_FOUND,
        ),
        # Tenant A's alias history exists (its model `m`); B neither reads it nor rolls it back.
        "ListAliasRevisions": (
            lambda: stub.ListAliasRevisions(
                pb.ListAliasRevisionsRequest(name="models/m/aliases/production"), metadata=B
            ),
            NOT_FOUND,
        ),
        "RollbackAlias": (
            lambda: stub.RollbackAlias(
                pb.RollbackAliasRequest(name="models/m/aliases/production", revision=1), metadata=B
            ),
            NOT_FOUND,
        ),
        # A's payload logs: B can neither record one with A's artifact nor list or delete A's.
        "CreatePayloadLog": (
            lambda: stub.CreatePayloadLog(
                pb.CreatePayloadLogRequest(
                    parent="models/m",
                    payload_log=pb.PayloadLog(version=1, day="2026-12-01", row_count=1, artifact=artifact.name),
                ),
                metadata=B,
            ),
            NOT_FOUND,
        ),
        "ListPayloadLogs": (
            lambda: stub.ListPayloadLogs(pb.ListPayloadLogsRequest(parent="models/x"), metadata=B),
            NOT_FOUND,
        ),
        "DeletePayloadLogs": (
            lambda: stub.DeletePayloadLogs(pb.DeletePayloadLogsRequest(parent="models/x"), metadata=B),
            NOT_FOUND,
        ),
        "CreateDataset": (lambda: upload_dataset(stub, "tenant-b", dataset_id="d"), grpc.StatusCode.OK),
        "GetDataset": (lambda: stub.GetDataset(pb.GetDatasetRequest(name="datasets/other"), metadata=B), NOT_FOUND),
        "ListDatasets": (
            lambda: stub.ListDatasets(pb.ListDatasetsRequest(dataset_id="other"), metadata=B),
            grpc.StatusCode.OK,
        ),
        "DeleteDataset": (
            lambda: stub.DeleteDataset(pb.DeleteDatasetRequest(name="datasets/a-only"), metadata=B),
            NOT_FOUND,
        ),
        "UploadArtifact": (lambda: upload_artifact(stub, "tenant-b", b"b-weights"), grpc.StatusCode.OK),
        "DownloadArtifact": (
            lambda: list(stub.DownloadArtifact(pb.DownloadArtifactRequest(name=artifact.name), metadata=B)),
            NOT_FOUND,
        ),
        "DeleteArtifact": (
            lambda: stub.DeleteArtifact(pb.DeleteArtifactRequest(name=artifact.name), metadata=B),
            NOT_FOUND,
        ),
        "GetStorageUsage": (lambda: stub.GetStorageUsage(pb.GetStorageUsageRequest(), metadata=B), grpc.StatusCode.OK),
        "GetUploadStatus": (
            lambda: stub.GetUploadStatus(pb.GetUploadStatusRequest(name=f"uploads/{a_upload}"), metadata=B),
            NOT_FOUND,
        ),
        "ReportModelVersionValidation": (
            lambda: stub.ReportModelVersionValidation(
                pb.ReportModelVersionValidationRequest(
                    name="models/x/versions/1", state=pb.ModelVersion.State.STATE_FAILED, reason="spoofed"
                ),
                metadata=B,
            ),
            NOT_FOUND,
        ),
        "ReportModelVersionDrift": (
            lambda: stub.ReportModelVersionDrift(
                pb.ReportModelVersionDriftRequest(name="models/x/versions/1", drift=pb.DriftReport()), metadata=B
            ),
            NOT_FOUND,
        ),
        "WatchRegistryEvents": (
            lambda: next(
                stub.WatchRegistryEvents(pb.WatchRegistryEventsRequest(after_revision=-1), metadata=B, timeout=1)
            ),
            grpc.StatusCode.DEADLINE_EXCEEDED,
        ),
    }
    methods = {m.name for m in pb.DESCRIPTOR.services_by_name["RegistryService"].methods}
    assert set(matrix) == methods, f"add the new RPCs to the matrix: {methods ^ set(matrix)}"
    # Tenant B's own resources share names with A's; the names it may not see are `models/x`.
    stub.CreateModel(pb.CreateModelRequest(model_id="x"), metadata=A)
    for method, (call, expected) in matrix.items():
        assert status_of(call) == expected, method

    # B's stored bytes are its own dataset and artifact, none of A's.
    b_datasets = stub.ListDatasets(pb.ListDatasetsRequest(), metadata=B).datasets
    b_bytes = sum(d.size_bytes for d in b_datasets) + len(b"b-weights")
    assert stub.GetStorageUsage(pb.GetStorageUsageRequest(), metadata=B).stored_bytes == b_bytes

    # Nothing of A's leaked into B's lists, and nothing of A's changed.
    assert [m.name for m in stub.ListModels(pb.ListModelsRequest(), metadata=B).models] == ["models/m"]
    assert [d.version for d in stub.ListDatasets(pb.ListDatasetsRequest(), metadata=B).datasets] == [1]
    assert stub.GetModel(pb.GetModelRequest(name="models/m"), metadata=A).latest_version == 1
    assert stub.GetAlias(pb.GetAliasRequest(name="models/m/aliases/production"), metadata=A).version == 1
    # B's own `m` has no payload logs, and deleting them leaves A's alone.
    assert not stub.ListPayloadLogs(pb.ListPayloadLogsRequest(parent="models/m"), metadata=B).payload_logs
    assert stub.DeletePayloadLogs(pb.DeletePayloadLogsRequest(parent="models/m"), metadata=B).deleted_count == 0
    a_logs = stub.ListPayloadLogs(pb.ListPayloadLogsRequest(parent="models/m"), metadata=A).payload_logs
    assert [(log.version, log.day, log.row_count) for log in a_logs] == [(1, "2026-12-01", 5)]
    assert stub.GetModel(pb.GetModelRequest(name="models/x"), metadata=A).name == "models/x"
    assert stub.GetDataset(pb.GetDatasetRequest(name="datasets/a-only"), metadata=A).version == 1
