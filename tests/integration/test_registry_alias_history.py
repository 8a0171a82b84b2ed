"""Aliases that split traffic between versions, carry a shadow, and keep a history that can be
read back and rolled back to; the registry as a real gRPC server."""

import grpc
import pytest

from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server
from tests.conftest import running, service_settings, status_of, tenant_md
from tests.integration.test_registry_service import upload_artifact

MD = tenant_md("acme")
NAME = "models/m/aliases/production"


@pytest.fixture
def registry(data_dir, database_url):
    settings = service_settings(RegistrySettings, data_dir, database_url=database_url)
    with running(build_server, settings) as server, grpc.insecure_channel(server.address) as channel:
        yield server, registry_pb2_grpc.RegistryServiceStub(channel), channel


def make_versions(stub, count: int) -> None:
    artifact = upload_artifact(stub, "acme", b"model-bytes")
    for _ in range(count):
        stub.CreateModelVersion(
            pb.CreateModelVersionRequest(parent="models/m", model_version=pb.ModelVersion(artifact=artifact.name)),
            metadata=MD,
        )


def split(*targets: tuple[int, int], shadow: tuple[int, float] | None = None, reason: str = "") -> pb.Alias:
    alias = pb.Alias(name=NAME, targets=[pb.AliasTarget(version=v, weight=w) for v, w in targets], reason=reason)
    if shadow:
        alias.shadow.version, alias.shadow.percent = shadow
    return alias


def test_a_split_is_stored_read_back_and_guards_its_versions(registry):
    _, stub, _ = registry
    make_versions(stub, 4)
    alias = stub.SetAlias(pb.SetAliasRequest(alias=split((3, 90), (4, 10), shadow=(2, 25))), metadata=MD)
    assert alias.version == 3  # the primary: the largest weight
    assert [(t.version, t.weight) for t in alias.targets] == [(3, 90), (4, 10)]
    assert (alias.shadow.version, alias.shadow.percent) == (2, 25)
    assert stub.GetAlias(pb.GetAliasRequest(name=NAME), metadata=MD) == alias
    # Every version the alias sends traffic to (the shadow too) lists it and cannot be deleted.
    for number in (2, 3, 4):
        version = stub.GetModelVersion(pb.GetModelVersionRequest(name=f"models/m/versions/{number}"), metadata=MD)
        assert list(version.aliases) == ["production"]
        code = status_of(
            lambda n=number: stub.DeleteModelVersion(
                pb.DeleteModelVersionRequest(name=f"models/m/versions/{n}"), metadata=MD
            )
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION
    # A bare version is still all traffic to it (clients from before splits).
    single = stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name=NAME, version=1)), metadata=MD)
    assert [(t.version, t.weight) for t in single.targets] == [(1, 100)] and not single.HasField("shadow")


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        (split((3, 90), (3, 10)), "a version appears twice"),
        (split((3, 0)), "weight: must be 1 to 10000"),
        (split((3, 90), shadow=(4, 150)), "shadow.percent"),
        (pb.Alias(name=NAME, version=4, targets=[pb.AliasTarget(version=3, weight=1)]), "not one of the targets"),
        (pb.Alias(name=NAME), "alias.version: must be a positive"),
    ],
)
def test_bad_splits_are_invalid_arguments(registry, alias, message):
    _, stub, _ = registry
    make_versions(stub, 4)
    with pytest.raises(grpc.RpcError) as caught:
        stub.SetAlias(pb.SetAliasRequest(alias=alias), metadata=MD)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in caught.value.details()
    code = status_of(lambda: stub.SetAlias(pb.SetAliasRequest(alias=split((3, 50), (9, 50))), metadata=MD))
    assert code == grpc.StatusCode.NOT_FOUND


def test_history_lists_every_change_with_its_reason_and_rolls_back(registry):
    _, stub, _ = registry
    make_versions(stub, 4)
    first = stub.SetAlias(pb.SetAliasRequest(alias=pb.Alias(name=NAME, version=3, reason="launch")), metadata=MD)
    canary = stub.SetAlias(pb.SetAliasRequest(alias=split((3, 90), (4, 10), reason="canary v4")), metadata=MD)
    stub.SetAlias(pb.SetAliasRequest(alias=split((4, 100), reason="promote v4")), metadata=MD)
    # A stale writer (a second controller, say) is refused instead of undoing the promotion.
    with pytest.raises(grpc.RpcError) as caught:
        stub.SetAlias(pb.SetAliasRequest(alias=split((3, 100)), expected_revision=canary.revision), metadata=MD)
    assert caught.value.code() == grpc.StatusCode.ABORTED
    restored = stub.RollbackAlias(
        pb.RollbackAliasRequest(name=NAME, revision=canary.revision, reason="v4 is slow"), metadata=MD
    )
    assert [(t.version, t.weight) for t in restored.targets] == [(3, 90), (4, 10)]
    assert restored.reason == f"rollback to revision {canary.revision}: v4 is slow"
    stub.DeleteAlias(pb.DeleteAliasRequest(name=NAME), metadata=MD)
    history = stub.ListAliasRevisions(pb.ListAliasRevisionsRequest(name=NAME), metadata=MD).revisions
    assert [(r.deleted, r.alias.reason) for r in history] == [
        (True, ""),
        (False, restored.reason),
        (False, "promote v4"),
        (False, "canary v4"),
        (False, "launch"),
    ]
    assert history[-1].alias.revision == first.revision and history[-1].alias.version == 3
    page = stub.ListAliasRevisions(pb.ListAliasRevisionsRequest(name=NAME, page_size=2), metadata=MD)
    rest = stub.ListAliasRevisions(
        pb.ListAliasRevisionsRequest(name=NAME, page_token=page.next_page_token), metadata=MD
    )
    assert [r.alias.revision for r in [*page.revisions, *rest.revisions]] == [r.alias.revision for r in history]
    code = status_of(
        lambda: stub.RollbackAlias(pb.RollbackAliasRequest(name=NAME, revision=history[0].alias.revision), metadata=MD)
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    # Another tenant sees neither the history nor can it roll back.
    other = tenant_md("globex")
    for call in (
        lambda: stub.ListAliasRevisions(pb.ListAliasRevisionsRequest(name=NAME), metadata=other),
        lambda: stub.RollbackAlias(pb.RollbackAliasRequest(name=NAME, revision=first.revision), metadata=other),
    ):
        assert status_of(call) == grpc.StatusCode.NOT_FOUND


def test_watch_carries_the_split(registry):
    _, stub, _ = registry
    make_versions(stub, 2)
    stub.SetAlias(pb.SetAliasRequest(alias=split((1, 70), (2, 30), shadow=None, reason="r")), metadata=MD)
    stream = stub.WatchRegistryEvents(pb.WatchRegistryEventsRequest(after_revision=-1), metadata=MD)
    for event in stream:
        if event.kind == pb.RegistryEvent.Kind.KIND_ALIAS_SET:
            assert [(t.version, t.weight) for t in event.targets] == [(1, 70), (2, 30)]
            assert event.version == 1 and event.reason == "r"
            break
    stream.cancel()


def rollout_alias(step: int, targets: tuple[tuple[int, int], ...], **plan) -> pb.Alias:
    alias = split(*targets)
    alias.rollout.primary_version = 1
    alias.rollout.step = step
    alias.rollout.state = pb.Rollout.State.STATE_RUNNING
    alias.rollout.plan.candidate_version = 2
    for percent in (10, 50):
        alias.rollout.plan.steps.add(percent=percent, min_requests=100).min_duration.seconds = 5
    alias.rollout.plan.max_error_rate = 0.05
    for key, value in plan.items():
        setattr(alias.rollout.plan, key, value)
    return alias


def test_a_rollout_is_stored_and_its_targets_must_be_its_steps(registry):
    _, stub, _ = registry
    make_versions(stub, 2)
    stored = stub.SetAlias(pb.SetAliasRequest(alias=rollout_alias(0, ((1, 90), (2, 10)))), metadata=MD)
    assert stored.rollout.plan.steps[1].percent == 50 and stored.rollout.plan.steps[1].min_duration.seconds == 5
    history = stub.ListAliasRevisions(pb.ListAliasRevisionsRequest(name=NAME), metadata=MD).revisions
    assert history[0].alias.rollout == stored.rollout
    # Without targets the registry routes as the rollout's state says (the controller's writes).
    derived = rollout_alias(1, (), mirror_percent=20)
    derived.reason = "step 1 passed"
    moved = stub.SetAlias(pb.SetAliasRequest(alias=derived, expected_revision=stored.revision), metadata=MD)
    assert [(t.version, t.weight) for t in moved.targets] == [(1, 50), (2, 50)]
    assert (moved.shadow.version, moved.shadow.percent) == (2, 20)
    derived.rollout.state = pb.Rollout.State.STATE_ROLLED_BACK
    back = stub.SetAlias(pb.SetAliasRequest(alias=derived), metadata=MD)
    assert [(t.version, t.weight) for t in back.targets] == [(1, 100)] and not back.HasField("shadow")
    for alias, message in (
        (rollout_alias(1, ((1, 90), (2, 10))), "the rollout's state means 1=50 2=50"),
        (rollout_alias(2, ((1, 50), (2, 50))), "not a step of the plan"),
        (rollout_alias(0, ((1, 90), (2, 10)), max_error_rate=2), "shares, 0 to 1"),
        (rollout_alias(0, ((1, 90), (2, 10)), max_disagreement=0.1), "needs mirror_percent"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.SetAlias(pb.SetAliasRequest(alias=alias), metadata=MD)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in caught.value.details()
