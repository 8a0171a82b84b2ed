"""The registry as a real gRPC server on a free port, called with the generated stubs."""

import hashlib
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server
from tests.conftest import running, service_settings, status_of, tenant_md

CSV = b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n"


@pytest.fixture
def registry(data_dir, database_url):
    settings = service_settings(RegistrySettings, data_dir, max_artifact_bytes=1_000_000, database_url=database_url)
    with running(build_server, settings) as server, grpc.insecure_channel(server.address) as channel:
        yield server, registry_pb2_grpc.RegistryServiceStub(channel), channel


def upload_dataset(stub, tenant, data=CSV, dataset_id="d", fmt=pb.DatasetFormat.DATASET_FORMAT_CSV, chunk=7):
    def messages():
        yield pb.CreateDatasetRequest(header=pb.CreateDatasetRequest.Header(dataset_id=dataset_id, format=fmt))
        for i in range(0, len(data), chunk):
            yield pb.CreateDatasetRequest(chunk=data[i : i + chunk])

    return stub.CreateDataset(messages(), metadata=tenant_md(tenant))


def upload_artifact(stub, tenant, data: bytes, sha256: str = ""):
    def messages():
        yield pb.UploadArtifactRequest(header=pb.UploadArtifactRequest.Header(sha256=sha256))
        for i in range(0, len(data), 1000):
            yield pb.UploadArtifactRequest(chunk=data[i : i + 1000])

    return stub.UploadArtifact(messages(), metadata=tenant_md(tenant))


def test_dataset_upload_records_schema_rows_and_sha(registry):
    _, stub, _ = registry
    dataset = upload_dataset(stub, "acme")
    assert dataset.name == "datasets/d/versions/1"
    assert [c.name for c in dataset.columns] == ["a", "b", "label"]
    assert dataset.row_count == 3 and dataset.sha256 == hashlib.sha256(CSV).hexdigest()
    assert upload_dataset(stub, "acme").version == 2
    latest = stub.GetDataset(pb.GetDatasetRequest(name="datasets/d"), metadata=tenant_md("acme"))
    assert latest.version == 2


def test_invalid_csv_is_invalid_argument_naming_the_line_and_leaves_nothing(registry):
    _, stub, _ = registry
    with pytest.raises(grpc.RpcError) as error:
        upload_dataset(stub, "acme", b"a,b\n1,2\n3\n")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "CSV line 3" in error.value.details()
    listed = stub.ListDatasets(pb.ListDatasetsRequest(), metadata=tenant_md("acme"))
    assert list(listed.datasets) == []


def test_artifact_round_trip_is_byte_identical_and_resumable(registry):
    _, stub, _ = registry
    data = bytes(range(256)) * 200
    sha = hashlib.sha256(data).hexdigest()
    artifact = upload_artifact(stub, "acme", data, sha)
    assert artifact.name == f"artifacts/{sha}" and artifact.size_bytes == len(data)
    chunks = stub.DownloadArtifact(pb.DownloadArtifactRequest(name=artifact.name), metadata=tenant_md("acme"))
    assert b"".join(c.chunk for c in chunks) == data
    tail = stub.DownloadArtifact(
        pb.DownloadArtifactRequest(name=artifact.name, offset=1000), metadata=tenant_md("acme")
    )
    assert b"".join(c.chunk for c in tail) == data[1000:]


def test_checksum_mismatch_and_size_limit_leave_no_artifact(registry):
    server, stub, _ = registry
    code = status_of(lambda: upload_artifact(stub, "acme", b"hello", "0" * 64))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code = status_of(lambda: upload_artifact(stub, "acme", b"x" * 1_000_001))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    root = server.server.settings.artifact_root
    assert not any(p.is_file() for p in (root / "blobs").rglob("*"))
    assert not any((root / "tmp").iterdir())


def test_versions_aliases_and_resolution_by_alias(registry):
    _, stub, _ = registry
    artifact = upload_artifact(stub, "acme", b"model-bytes")
    md = tenant_md("acme")
    v1 = stub.CreateModelVersion(
        pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
        metadata=md,
    )
    v2 = stub.CreateModelVersion(
        pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
        metadata=md,
    )
    assert (v1.version, v2.version) == (1, 2)
    repeat = stub.CreateModelVersion(
        pb.CreateModelVersionRequest(
            parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name), request_id="r1"
        ),
        metadata=md,
    )
    again = stub.CreateModelVersion(
        pb.CreateModelVersionRequest(
            parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name), request_id="r1"
        ),
        metadata=md,
    )
    assert repeat.version == again.version == 3
    stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/production", version=2)), metadata=md)
    resolved = stub.GetModelVersion(pb.GetModelVersionRequest(name="models/m/versions/production"), metadata=md)
    assert resolved.version == 2 and list(resolved.aliases) == ["production"]
    code = status_of(
        lambda: stub.DeleteModelVersion(pb.DeleteModelVersionRequest(name="models/m/versions/2"), metadata=md)
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    code = status_of(
        lambda: stub.SetAlias(
            pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/production", version=99)), metadata=md
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND


def test_other_tenants_resources_are_not_found(registry):
    _, stub, _ = registry
    artifact = upload_artifact(stub, "acme", b"secret-model")
    stub.CreateModelVersion(
        pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
        metadata=tenant_md("acme"),
    )
    other = tenant_md("globex")
    for call in (
        lambda: stub.GetModel(pb.GetModelRequest(name="models/m"), metadata=other),
        lambda: stub.GetModelVersion(pb.GetModelVersionRequest(name="models/m/versions/1"), metadata=other),
        lambda: list(stub.DownloadArtifact(pb.DownloadArtifactRequest(name=artifact.name), metadata=other)),
        lambda: stub.CreateModelVersion(
            pb.CreateModelVersionRequest(parent="models/x", model_version=pb.ModelVersion(artifact=artifact.name)),
            metadata=other,
        ),
    ):
        assert status_of(call) == grpc.StatusCode.NOT_FOUND
    assert list(stub.ListModels(pb.ListModelsRequest(), metadata=other).models) == []


def test_bad_names_and_missing_tenant(registry):
    _, stub, _ = registry
    md = tenant_md("acme")
    assert status_of(lambda: stub.GetModel(pb.GetModelRequest(name="models/../x"), metadata=md)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert status_of(lambda: stub.CreateModel(pb.CreateModelRequest(model_id="Bad_Name"), metadata=md)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert status_of(lambda: stub.GetModel(pb.GetModelRequest(name="models/nope"), metadata=md)) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert status_of(lambda: stub.GetModel(pb.GetModelRequest(name="models/m"))) == grpc.StatusCode.UNAUTHENTICATED


def test_concurrent_version_creation_numbers_each_version_once(registry):
    _, stub, _ = registry
    artifact = upload_artifact(stub, "acme", b"weights")
    md = tenant_md("acme")

    def create(_):
        return stub.CreateModelVersion(
            pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
            metadata=md,
        ).version

    with ThreadPoolExecutor(32) as pool:
        numbers = list(pool.map(create, range(32)))
    assert sorted(numbers) == list(range(1, 33))


def test_health_reflection_and_metrics(registry):
    server, stub, channel = registry
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="maas.registry.v1.RegistryService")
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    status_of(lambda: stub.GetModel(pb.GetModelRequest(name="models/nope"), metadata=tenant_md("acme")))
    body = urllib.request.urlopen(f"http://127.0.0.1:{server.server.metrics_port}/metrics").read().decode()
    assert 'grpc_server_handled_total{grpc_code="NOT_FOUND",grpc_method="GetModel"' in body
    assert "grpc_server_started_total" in body and "grpc_server_handling_seconds_bucket" in body
