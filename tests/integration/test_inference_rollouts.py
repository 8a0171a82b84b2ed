"""Traffic splits and shadows on an alias, served by a real inference server beside a real
registry with small real SavedModels: weights honoured under load, sticky routing keys, no failed
request while the split changes, and a shadow that answers nobody but is compared."""

import asyncio
import hashlib
import threading
import time
from collections import Counter

import grpc
import keras
import numpy as np
import pytest

from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2 as rpb
from services.trainer.export import export_saved_model
from tests.conftest import tenant_md
from tests.integration.serving import registry_and_inference
from tests.integration.test_inference_service import FEATURES, infer_request, outputs_of, register, tiny_model
from tests.integration.test_registry_service import upload_artifact

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
ALIAS = "models/tiny/aliases/production"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with registry_and_inference(tmp_path_factory.mktemp("rollouts")) as serving:
        registry = serving["registry"]
        # 4 answers as 1 does (a good candidate); 2 and 3 disagree with it on most inputs.
        models = {n: tiny_model(n) for n in (1, 2, 3)} | {4: tiny_model(1)}
        for number, model in models.items():
            assert register(registry, model, tmp_path_factory.mktemp(f"export{number}")).version == number
        assert register_broken(registry, tmp_path_factory.mktemp("broken")).version == BROKEN
        set_split(registry, (1, 100))
        yield {**serving, "models": models}


BROKEN = 5


def register_broken(registry, workdir) -> rpb.ModelVersion:
    """A version that answers every request of the alias's callers with an error: it takes five
    features where they send four."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input(shape=(FEATURES + 1,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probabilities")(inputs))
    archive = export_saved_model(model, FEATURES + 1, "probabilities", workdir)
    artifact = upload_artifact(registry, "acme", archive, hashlib.sha256(archive).hexdigest())
    signature = rpb.Signature(
        method_name="serving_default",
        inputs=[rpb.TensorSpec(name="features", datatype="FP32", shape=[-1, FEATURES + 1])],
        outputs=[rpb.TensorSpec(name="probabilities", datatype="FP32", shape=[-1, 3])],
    )
    return registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(
            parent="models/tiny", model_version=rpb.ModelVersion(artifact=artifact.name, signature=signature)
        ),
        metadata=MD,
    )


def set_split(registry, *targets: tuple[int, int], shadow: tuple[int, float] | None = None) -> rpb.Alias:
    alias = rpb.Alias(name=ALIAS, targets=[rpb.AliasTarget(version=v, weight=w) for v, w in targets])
    if shadow:
        alias.shadow.version, alias.shadow.percent = shadow
    return registry.SetAlias(rpb.SetAliasRequest(alias=alias), metadata=MD)


def wait_for_route(servers, versions: set[str], attempts: int = 200) -> None:
    """Until the server answers the alias with exactly `versions` (it follows the watch). Until then
    a call may still reach the version of the split before, which may be the broken one: its error
    counts as a version not yet left."""
    x = np.ones((1, FEATURES), np.float32)

    def version() -> str:
        try:
            return servers["oip"].ModelInfer(infer_request(x), metadata=MD).model_version
        except grpc.RpcError as error:
            return error.code().name

    seen: set[str] = set()
    for _ in range(attempts):
        seen = {version() for _ in range(40)}
        if seen == versions:
            return
    raise AssertionError(f"the alias never served only {versions}: still {seen}")


def load(address: str, calls: int, in_flight: int, during=None, key_of=None) -> list[tuple[str, str]]:
    """`calls` requests to the alias, `in_flight` at a time, checked against the models' answers;
    `during` runs in a thread meanwhile. Returns (version or '', status) per call."""
    x = np.random.default_rng(7).normal(size=(1, FEATURES)).astype(np.float32)
    results: list[tuple[str, str]] = []

    async def main():
        remaining = iter(range(calls))
        async with grpc.aio.insecure_channel(address) as channel:
            stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)

            async def client():
                for i in remaining:
                    metadata = MD + ((("maas-routing-key", key_of(i)),) if key_of else ())
                    try:
                        response = await stub.ModelInfer(infer_request(x), metadata=metadata, timeout=20)
                        results.append((response.model_version, "OK"))
                    except grpc.aio.AioRpcError as error:
                        results.append(("", error.code().name))

            changes = asyncio.create_task(asyncio.to_thread(during)) if during else None
            await asyncio.gather(*(client() for _ in range(in_flight)))
            if changes:
                await changes

    thread = threading.Thread(target=lambda: asyncio.run(main()))
    thread.start()
    thread.join(300)
    return results


def test_a_90_10_split_serves_its_weights_and_changes_fail_nothing(servers):
    set_split(servers["registry"], (1, 90), (2, 10))
    wait_for_route(servers, {"1", "2"})
    results = load(servers["address"], 10_000, 64)
    counts = Counter(version for version, status in results if status == "OK")
    assert len(results) == 10_000 and sum(counts.values()) == 10_000, Counter(s for _, s in results)
    share = counts["2"] / 10_000
    print(f"\nversion 2 share over 10,000 calls at 64 in flight: {share:.4f} (weight 0.10)")
    assert abs(share - 0.10) <= 0.02

    def change_weights():
        # Shifts between loaded versions and onto one not loaded yet (3), then back.
        for targets in (((1, 50), (2, 50)), ((1, 10), (2, 90)), ((3, 100),), ((1, 90), (3, 10)), ((1, 90), (2, 10))):
            set_split(servers["registry"], *targets)
            threading.Event().wait(0.4)

    results = load(servers["address"], 6_000, 64, during=change_weights)
    failures = [r for r in results if r[1] != "OK"]
    assert not failures, Counter(failures)
    assert {v for v, _ in results} <= {"1", "2", "3"} and len(results) == 6_000
    set_split(servers["registry"], (1, 100))


def test_a_routing_key_always_lands_on_the_same_version(servers):
    set_split(servers["registry"], (1, 90), (2, 10))
    wait_for_route(servers, {"1", "2"})
    keys = [f"user-{i}" for i in range(300)]
    results = load(servers["address"], 1_500, 32, key_of=lambda i: keys[i % len(keys)])
    assert all(status == "OK" for _, status in results)
    # Answers under load come back in completion order, so each key is then asked on its own.
    x = np.ones((1, FEATURES), np.float32)
    first = {}
    for key in keys:
        answers = set()
        for _ in range(3):
            metadata = (*MD, ("maas-routing-key", key))
            answers.add(servers["oip"].ModelInfer(infer_request(x), metadata=metadata).model_version)
        request = infer_request(x)
        request.parameters["routing_key"].string_param = key  # the request parameter works alike
        answers.add(servers["oip"].ModelInfer(request, metadata=MD).model_version)
        assert len(answers) == 1, (key, answers)
        first[key] = answers.pop()
    on_two = {k for k, v in first.items() if v == "2"}
    assert 0.04 <= len(on_two) / len(keys) <= 0.18
    # Moving weight to version 2 moves keys only onto it: every key already there stays.
    set_split(servers["registry"], (1, 70), (2, 30))
    wait_for_route(servers, {"1", "2"})
    moved = {}
    for key in keys:
        metadata = (*MD, ("maas-routing-key", key))
        moved[key] = servers["oip"].ModelInfer(infer_request(x), metadata=metadata).model_version
    assert all(moved[k] == "2" for k in on_two)
    assert len([k for k in keys if moved[k] == "2"]) > len(on_two)
    set_split(servers["registry"], (1, 100))


def sample(metrics, name: str, **labels) -> float:
    return metrics.get_sample_value(name, {"tenant": "acme", "model": "tiny", **labels}) or 0.0


def settled(metrics, name: str, labels: dict) -> float:
    """A counter's value once the mirrored requests still running have finished."""
    value = -1.0
    while value != (value := sample(metrics, name, **labels)):
        threading.Event().wait(0.3)
    return value


def test_a_shadow_answers_nobody_and_its_disagreement_is_counted(servers):
    set_split(servers["registry"], (1, 100), shadow=(3, 100))
    wait_for_route(servers, {"1"})
    labels = {"version": "1", "shadow_version": "3"}
    before = settled(servers["metrics"], "maas_inference_shadow_rows_total", labels)
    served_before = sample(servers["metrics"], "maas_inference_requests_total", version="3", code="OK")
    disagreeing_before = sample(servers["metrics"], "maas_inference_shadow_disagreeing_rows_total", **labels)
    x = np.random.default_rng(3).normal(size=(50, FEATURES)).astype(np.float32)
    for row in x:
        response = servers["oip"].ModelInfer(infer_request(row[None, :]), metadata=MD)
        assert response.model_version == "1"
        np.testing.assert_allclose(outputs_of(response), servers["models"][1](row[None, :]).numpy(), atol=1e-5)
    expected = int(
        (servers["models"][1](x).numpy().argmax(axis=1) != servers["models"][3](x).numpy().argmax(axis=1)).sum()
    )
    for _ in range(100):
        rows = sample(servers["metrics"], "maas_inference_shadow_rows_total", **labels) - before
        if rows >= 50:
            break
        threading.Event().wait(0.05)
    assert rows >= 50  # the first mirrored requests may also have waited for version 3 to load
    disagreeing = sample(servers["metrics"], "maas_inference_shadow_disagreeing_rows_total", **labels)
    assert disagreeing - disagreeing_before == expected
    assert sample(servers["metrics"], "maas_inference_shadow_requests_total", code="OK", **labels) >= 50
    assert sample(servers["metrics"], "maas_inference_shadow_request_seconds_count", **labels) >= 50
    # The shadow's requests are not the alias's: version 3 served no request of its own.
    assert sample(servers["metrics"], "maas_inference_requests_total", version="3", code="OK") == served_before
    set_split(servers["registry"], (1, 100))


def start_rollout(registry, candidate: int) -> rpb.Alias:
    """What `MaasClient.start_rollout` sends: 10, 50, 100 percent, 60 candidate requests and half a
    second per step, at most 5% errors, 5% disagreement on all of the primary's requests."""
    current = set_split(registry, (1, 100))
    plan = rpb.RolloutPlan(candidate_version=candidate, max_error_rate=0.05, max_disagreement=0.05, mirror_percent=100)
    # Generous: a loaded two-core machine running two test workers stalls a tiny model's calls for
    # seconds (a good candidate was rolled back at a p99 of 2.9 s under a 2 s bound).
    plan.max_p99_latency.FromMilliseconds(10_000)
    for percent in (10, 50, 100):
        plan.steps.add(percent=percent, min_requests=60).min_duration.FromMilliseconds(500)
    rollout = rpb.Rollout(plan=plan, primary_version=1, state=rpb.Rollout.State.STATE_RUNNING)
    alias = rpb.Alias(name=ALIAS, rollout=rollout, reason=f"rollout of {candidate}")
    return registry.SetAlias(rpb.SetAliasRequest(alias=alias, expected_revision=current.revision), metadata=MD)


def run_rollout(servers, candidate: int, timeout: float = 90) -> tuple[rpb.Alias, list[rpb.AliasRevision], Counter]:
    """Start a rollout from version 1 alone and send traffic to the alias until the controller has
    finished it."""
    # From version 1 alone, as served: a rollout before (another test's) may still route to its candidate.
    set_split(servers["registry"], (1, 100))
    wait_for_route(servers, {"1"})
    started = start_rollout(servers["registry"], candidate)
    finished = threading.Event()
    outcomes: Counter = Counter()

    async def traffic():
        x = np.random.default_rng(11).normal(size=(16, FEATURES)).astype(np.float32)
        async with grpc.aio.insecure_channel(servers["address"]) as channel:
            stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)

            async def client(i):
                while not finished.is_set():
                    try:
                        response = await stub.ModelInfer(infer_request(x[i : i + 1]), metadata=MD, timeout=10)
                        outcomes[response.model_version] += 1
                    except grpc.aio.AioRpcError as error:
                        outcomes[error.code().name] += 1
                        await asyncio.sleep(0.01)

            await asyncio.gather(*(client(i) for i in range(16)))

    thread = threading.Thread(target=lambda: asyncio.run(traffic()))
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            alias = servers["registry"].GetAlias(rpb.GetAliasRequest(name=ALIAS), metadata=MD)
            if alias.rollout.state != rpb.Rollout.State.STATE_RUNNING or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        finished.set()
        thread.join(30)
    history = servers["registry"].ListAliasRevisions(rpb.ListAliasRevisionsRequest(name=ALIAS), metadata=MD)
    mine = [r for r in history.revisions if r.alias.revision >= started.revision]
    return alias, list(reversed(mine)), outcomes


def test_a_good_candidate_is_promoted_through_every_step(servers):
    alias, history, outcomes = run_rollout(servers, 4)
    reasons = [r.alias.reason for r in history]
    print("\n" + "\n".join(reasons))
    assert alias.rollout.state == rpb.Rollout.State.STATE_PROMOTED, reasons
    assert [(t.version, t.weight) for t in alias.targets] == [(4, 100)]
    assert [[(t.version, t.weight) for t in r.alias.targets] for r in history] == [
        [(1, 90), (4, 10)],
        [(1, 50), (4, 50)],
        [(4, 100)],
        [(4, 100)],
    ]
    assert "step 1 of 3 (10% to version 4) passed" in reasons[1]
    assert "step 3 of 3 (100% to version 4) passed" in reasons[3] and reasons[3].endswith("version 4 promoted")
    assert set(outcomes) <= {"1", "4"}, outcomes  # no failed request on the way
    set_split(servers["registry"], (1, 100))


@pytest.mark.parametrize(
    ("candidate", "why"),
    [(BROKEN, "error rate above 0.05"), (2, "disagreement with the primary above 0.05")],
    ids=["errors", "disagrees"],
)
def test_a_bad_candidate_is_rolled_back_by_itself_and_the_history_says_why(servers, candidate, why):
    alias, history, _ = run_rollout(servers, candidate)
    reasons = [r.alias.reason for r in history]
    print("\n" + "\n".join(reasons))
    assert alias.rollout.state == rpb.Rollout.State.STATE_ROLLED_BACK, reasons
    assert [(t.version, t.weight) for t in alias.targets] == [(1, 100)] and not alias.HasField("shadow")
    assert f"rollout rolled back at step 1 of 3 (10% to version {candidate}): {why}" in reasons[-1]
    assert len(history) == 2  # it never reached step 2
    step = servers["metrics"].get_sample_value(
        "maas_inference_rollout_changes_total",
        {"tenant": "acme", "model": "tiny", "alias": "production", "outcome": "rolled_back"},
    )
    assert step >= 1
