"""The registry as a real gRPC server on a free port, called with the generated stubs."""

import hashlib
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server
from tests.conftest import running, service_settings, status_of, tenant_md

CSV = b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n"


@pytest.fixture
def registry(data_dir, database_url, artifact_store):
    settings = service_settings(
        RegistrySettings, data_dir, max_artifact_bytes=1_000_000, database_url=database_url, **artifact_store
    )
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


def stored_blobs(server) -> list:
    """Committed artifact bytes, whatever the store."""
    from services.registry.server import _blob_store

    return sorted(_blob_store(server.server.settings).all_blobs())


def test_dataset_upload_records_schema_rows_and_sha(registry):
    _, stub, _ = registry
    dataset = upload_dataset(stub, "acme")
    assert dataset.name == "datasets/d/versions/1"
    assert [c.name for c in dataset.columns] == ["a", "b", "label"]
    assert dataset.row_count == 3 and dataset.sha256 == hashlib.sha256(CSV).hexdigest()
    assert not dataset.unchanged
    # The same file again makes no version, and says so.
    again = upload_dataset(stub, "acme")
    assert (again.version, again.unchanged, again.create_time) == (1, True, dataset.create_time)
    changed = upload_dataset(stub, "acme", data=CSV + b"7,8,1\n")
    assert (changed.version, changed.unchanged) == (2, False)
    latest = stub.GetDataset(pb.GetDatasetRequest(name="datasets/d"), metadata=tenant_md("acme"))
    assert (latest.version, latest.unchanged) == (2, False)
    # Going back to the first file is a change from the latest: a new version.
    assert upload_dataset(stub, "acme").version == 3


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
    assert stored_blobs(server) == []
    assert not any((server.server.settings.artifact_root / "tmp").iterdir())


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


def test_archiving_a_version_keeps_it_listed_and_out_of_aliases(registry):
    _, stub, _ = registry
    md = tenant_md("acme")
    artifact = upload_artifact(stub, "acme", b"model-bytes")
    signature = pb.Signature(inputs=[pb.TensorSpec(name="x", datatype="FP32", shape=[-1, 2])])
    for _ in range(2):
        created = stub.CreateModelVersion(
            pb.CreateModelVersionRequest(
                parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name, signature=signature)
            ),
            metadata=md,
        )
        assert created.state == pb.ModelVersion.STATE_READY
    stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/production", version=1)), metadata=md)

    def archive(number):
        return stub.ArchiveModelVersion(pb.ArchiveModelVersionRequest(name=f"models/m/versions/{number}"), metadata=md)

    # What an alias serves cannot be archived, as it cannot be deleted.
    with pytest.raises(grpc.RpcError) as refused:
        archive(1)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "production" in refused.value.details()
    archived = archive(2)
    assert archived.state == pb.ModelVersion.STATE_ARCHIVED
    assert archive(2).state == pb.ModelVersion.STATE_ARCHIVED  # again: no change
    listed = stub.ListModelVersions(pb.ListModelVersionsRequest(parent="models/m"), metadata=md).model_versions
    assert {v.version: v.state for v in listed}[2] == pb.ModelVersion.STATE_ARCHIVED
    # An archived version takes no traffic until it is unarchived.
    with pytest.raises(grpc.RpcError) as refused:
        stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/canary", version=2)), metadata=md)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "archived" in refused.value.details()
    back = stub.UnarchiveModelVersion(pb.UnarchiveModelVersionRequest(name="models/m/versions/2"), metadata=md)
    assert back.state == pb.ModelVersion.STATE_READY and back.state_reason == ""
    stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/canary", version=2)), metadata=md)
    again = stub.UnarchiveModelVersion(pb.UnarchiveModelVersionRequest(name="models/m/versions/1"), metadata=md)
    assert again.state == pb.ModelVersion.STATE_READY  # already ready: no change
    assert status_of(lambda: archive(9)) == grpc.StatusCode.NOT_FOUND
    assert status_of(lambda: archive(0)) == grpc.StatusCode.INVALID_ARGUMENT


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
    # Watch streams through the same interceptor as every call (client-side health checks use it).
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=5)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()
    services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert {"maas.registry.v1.RegistryService", "grpc.health.v1.Health"} <= set(services)
    status_of(lambda: stub.GetModel(pb.GetModelRequest(name="models/nope"), metadata=tenant_md("acme")))
    handled = 'grpc_server_handled_total{grpc_code="NOT_FOUND",grpc_method="GetModel"'
    # The server counts the call as handled just after the client has its answer: poll briefly.
    for _ in range(50):
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.server.metrics_port}/metrics").read().decode()
        if handled in body:
            break
        time.sleep(0.05)
    assert handled in body
    assert "grpc_server_started_total" in body and "grpc_server_handling_seconds_bucket" in body


def test_deleting_a_model_removes_versions_aliases_and_reclaims_bytes(registry):
    server, stub, _ = registry
    md = tenant_md("acme")
    shared = upload_artifact(stub, "acme", b"shared-weights")
    own = upload_artifact(stub, "acme", b"own-weights")
    for parent, artifact in (("models/a", shared), ("models/a", own), ("models/b", shared)):
        stub.CreateModelVersion(
            pb.CreateModelVersionRequest(parent=parent, model_version=pb.ModelVersion(artifact=artifact.name)),
            metadata=md,
        )
    stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/a/aliases/production", version=1)), metadata=md)
    model = stub.GetModel(pb.GetModelRequest(name="models/a"), metadata=md)
    stale = status_of(lambda: stub.DeleteModel(pb.DeleteModelRequest(name="models/a", etag="stale"), metadata=md))
    assert stale == grpc.StatusCode.ABORTED
    stub.DeleteModel(pb.DeleteModelRequest(name="models/a", etag=model.etag), metadata=md)
    assert (
        status_of(
            lambda: stub.GetModelVersion(pb.GetModelVersionRequest(name="models/a/versions/production"), metadata=md)
        )
        == grpc.StatusCode.NOT_FOUND
    )
    # The artifact model b still uses stays; the one only model a used is gone, bytes included.
    assert [sha for _, sha in stored_blobs(server)] == [shared.sha256]
    assert (
        status_of(lambda: list(stub.DownloadArtifact(pb.DownloadArtifactRequest(name=own.name), metadata=md)))
        == grpc.StatusCode.NOT_FOUND
    )
    assert stub.GetModelVersion(pb.GetModelVersionRequest(name="models/b/versions/1"), metadata=md).version == 1


def test_update_with_field_mask_and_etag(registry):
    _, stub, _ = registry
    md = tenant_md("acme")
    created = stub.CreateModel(pb.CreateModelRequest(model_id="m", model=pb.Model(description="old")), metadata=md)
    mask = field_mask_pb2.FieldMask(paths=["labels"])
    updated = stub.UpdateModel(
        pb.UpdateModelRequest(
            model=pb.Model(name="models/m", description="ignored", labels={"team": "ml"}, etag=created.etag),
            update_mask=mask,
        ),
        metadata=md,
    )
    assert (updated.description, dict(updated.labels)) == ("old", {"team": "ml"})
    assert updated.etag != created.etag
    stale = status_of(
        lambda: stub.UpdateModel(
            pb.UpdateModelRequest(model=pb.Model(name="models/m", description="x", etag=created.etag)), metadata=md
        )
    )
    assert stale == grpc.StatusCode.ABORTED
    unknown = status_of(
        lambda: stub.UpdateModel(
            pb.UpdateModelRequest(
                model=pb.Model(name="models/m"), update_mask=field_mask_pb2.FieldMask(paths=["name"])
            ),
            metadata=md,
        )
    )
    assert unknown == grpc.StatusCode.INVALID_ARGUMENT
    listed = stub.ListModels(pb.ListModelsRequest(filter="labels.team=ml"), metadata=md)
    assert [m.name for m in listed.models] == ["models/m"]
    assert list(stub.ListModels(pb.ListModelsRequest(filter="labels.team=web"), metadata=md).models) == []


def test_pagination_walks_every_version_once(registry):
    _, stub, _ = registry
    md = tenant_md("acme")
    artifact = upload_artifact(stub, "acme", b"w")
    for _ in range(7):
        stub.CreateModelVersion(
            pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
            metadata=md,
        )
    seen, token = [], ""
    while True:
        page = stub.ListModelVersions(
            pb.ListModelVersionsRequest(parent="models/m", page_size=3, page_token=token), metadata=md
        )
        seen += [v.version for v in page.model_versions]
        token = page.next_page_token
        if not token:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    first = stub.ListModelVersions(
        pb.ListModelVersionsRequest(parent="models/m", page_size=3, order_by="version"), metadata=md
    )
    second = stub.ListModelVersions(
        pb.ListModelVersionsRequest(
            parent="models/m", page_size=3, order_by="version", page_token=first.next_page_token
        ),
        metadata=md,
    )
    assert [v.version for v in [*first.model_versions, *second.model_versions]] == [1, 2, 3, 4, 5, 6]
    bad = status_of(
        lambda: stub.ListModelVersions(pb.ListModelVersionsRequest(parent="models/m", order_by="size"), metadata=md)
    )
    assert bad == grpc.StatusCode.INVALID_ARGUMENT


def test_watch_streams_alias_and_version_changes_and_resumes(registry):
    _, stub, _ = registry
    md = tenant_md("acme")
    artifact = upload_artifact(stub, "acme", b"w")
    for _ in range(2):
        stub.CreateModelVersion(
            pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
            metadata=md,
        )
    stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/production", version=1)), metadata=md)
    stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name="models/m/aliases/production", version=2)), metadata=md)
    stream = stub.WatchRegistryEvents(
        pb.WatchRegistryEventsRequest(model="models/m", after_revision=-1), metadata=md, timeout=5
    )
    events = [next(stream) for _ in range(4)]
    stream.cancel()
    Kind = pb.RegistryEvent.Kind
    assert [(e.kind, e.version) for e in events] == [
        (Kind.KIND_VERSION_CREATED, 1),
        (Kind.KIND_VERSION_CREATED, 2),
        (Kind.KIND_ALIAS_SET, 1),
        (Kind.KIND_ALIAS_SET, 2),
    ]
    resumed = stub.WatchRegistryEvents(
        pb.WatchRegistryEventsRequest(model="models/m", after_revision=events[2].revision), metadata=md, timeout=5
    )
    assert next(resumed).revision == events[3].revision
    resumed.cancel()


def test_delete_artifact_refuses_used_ones_and_reclaims_unused(registry):
    server, stub, _ = registry
    md = tenant_md("acme")
    used = upload_artifact(stub, "acme", b"in-use")
    spare = upload_artifact(stub, "acme", b"checkpoint")
    stub.CreateModelVersion(
        pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=used.name)), metadata=md
    )
    code = status_of(lambda: stub.DeleteArtifact(pb.DeleteArtifactRequest(name=used.name), metadata=md))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    stub.DeleteArtifact(pb.DeleteArtifactRequest(name=spare.name), metadata=md)
    assert [sha for _, sha in stored_blobs(server)] == [used.sha256]
    again = status_of(lambda: stub.DeleteArtifact(pb.DeleteArtifactRequest(name=spare.name), metadata=md))
    assert again == grpc.StatusCode.NOT_FOUND


def test_deleting_datasets_reclaims_the_bytes_nothing_else_uses(registry):
    server, stub, _ = registry
    md = tenant_md("acme")

    def stored() -> int:
        return stub.GetStorageUsage(pb.GetStorageUsageRequest(), metadata=md).stored_bytes

    def scraped(name: str) -> float | None:
        return server.server.registry.get_sample_value(name, {"tenant": "acme"})

    upload_dataset(stub, "acme", dataset_id="d")
    second = upload_dataset(stub, "acme", data=CSV + b"7,8,1\n", dataset_id="d")
    twin = upload_dataset(stub, "acme", dataset_id="copy")  # the same bytes as d's version 1
    before = stored()
    # The registry's /metrics says the same, per tenant.
    assert (scraped("maas_registry_stored_bytes"), scraped("maas_registry_artifacts")) == (before, 2)
    deleted = stub.DeleteDataset(pb.DeleteDatasetRequest(name="datasets/d/versions/2"), metadata=md)
    assert deleted.deleted_versions == 1
    assert stored() == before - second.size_bytes
    assert stub.GetDataset(pb.GetDatasetRequest(name="datasets/d"), metadata=md).version == 1
    # Every version of d: its bytes stay while `copy` uses them.
    assert stub.DeleteDataset(pb.DeleteDatasetRequest(name="datasets/d"), metadata=md).deleted_versions == 1
    assert [sha for _, sha in stored_blobs(server)] == [twin.sha256]
    for name in ("datasets/d", "datasets/d/versions/1"):
        assert status_of(lambda n=name: stub.GetDataset(pb.GetDatasetRequest(name=n), metadata=md)) == (
            grpc.StatusCode.NOT_FOUND
        )
        gone = status_of(lambda n=name: stub.DeleteDataset(pb.DeleteDatasetRequest(name=n), metadata=md))
        assert gone == grpc.StatusCode.NOT_FOUND
    bad = status_of(lambda: stub.DeleteDataset(pb.DeleteDatasetRequest(name="datasets/d/versions/x"), metadata=md))
    assert bad == grpc.StatusCode.INVALID_ARGUMENT
    stub.DeleteDataset(pb.DeleteDatasetRequest(name="datasets/copy"), metadata=md)
    assert stored_blobs(server) == [] and stored() == 0
    assert scraped("maas_registry_stored_bytes") is None  # a tenant that stores nothing has no series
