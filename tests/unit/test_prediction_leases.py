"""The gateway's prediction leases: never more leased and used than the plan, a fair share while
others hold leases, a lapsed lease counts for nothing, and reported usage is added up."""

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from maas.gateway.v1 import admin_pb2 as pb
from services.common import db
from services.gateway import tables as t
from services.gateway.store import GatewayStore

DAY = "2026-12-02"
LEASE = dt.timedelta(seconds=2)


@pytest.fixture
def store(tmp_path) -> GatewayStore:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    db.migrate(engine, "gateway", Path(t.__file__).parent / "migrations")
    store = GatewayStore(engine)
    store.create_plan("hundred", pb.Plan(predictions_per_day=100))
    store.create_tenant("acme", pb.Tenant(plan="plans/hundred"))
    return store


def lease(store, replica: str, wanted: int, used: int = 0) -> int:
    entry = pb.TenantUsage(tenant="acme", day=DAY, predictions=used, requests=used, lease_wanted=wanted)
    leases = store.lease_predictions(replica, [entry], LEASE)
    return leases[0].granted if leases else 0  # none when a lease is given back


def test_leases_and_use_never_exceed_the_plan_and_use_it_all(store):
    assert lease(store, "a", 60) == 60
    # b gets at most half of what is left while a holds its lease.
    assert lease(store, "b", 60) == 20
    held = {"a": 60, "b": 20}
    for _ in range(20):  # each uses all it holds, reports it and asks for more
        for replica in ("a", "b"):
            used, held[replica] = held[replica], 0
            held[replica] = lease(store, replica, 60, used=used)
            assert store.usage("acme", DAY)[0] + sum(held.values()) <= 100
    assert held == {"a": 0, "b": 0}
    assert store.usage("acme", DAY)[:2] == (100, 100)


def test_an_empty_answer_says_when_the_others_leases_end(store):
    assert lease(store, "a", 100) == 100
    entry = pb.TenantUsage(tenant="acme", day=DAY, lease_wanted=5)
    (answer,) = store.lease_predictions("b", [entry], LEASE)
    assert answer.granted == 0
    assert 0 < answer.retry_after.ToTimedelta().total_seconds() <= LEASE.total_seconds()


def test_a_replica_whose_call_waits_gets_its_share_at_the_holders_next_renewal(store):
    assert lease(store, "a", 100) == 100
    waiting = pb.TenantUsage(tenant="acme", day=DAY, lease_wanted=8, lease_needed=5)
    (answer,) = store.lease_predictions("b", [waiting], LEASE)
    assert answer.granted == 0 and answer.retry_after.ToTimedelta() > dt.timedelta(0)
    # a stays busy and asks to keep all it holds: it keeps half, as b waits.
    assert lease(store, "a", 100, used=10) == 45
    (answer,) = store.lease_predictions("b", [waiting], LEASE)
    assert answer.granted >= 5
    assert store.usage("acme", DAY)[0] + 45 + answer.granted <= 100


def test_without_a_waiting_call_the_holder_keeps_what_it_asks_for(store):
    assert lease(store, "a", 100) == 100
    assert lease(store, "b", 8) == 0  # asked, but no call of b waits: it leaves no claim behind
    assert lease(store, "a", 100, used=10) == 90


def test_a_lapsed_lease_counts_for_nothing(store):
    assert lease(store, "dead", 100) == 100
    with store.engine.begin() as conn:  # its replica was killed: the lease ends
        conn.execute(sa.update(t.prediction_leases).values(expire_time=dt.datetime.now(dt.UTC) - LEASE))
    assert lease(store, "alive", 100) == 100


def test_giving_a_lease_back_frees_it(store):
    assert lease(store, "a", 100) == 100
    assert lease(store, "a", 0, used=30) == 0
    assert lease(store, "b", 100) == 70


@pytest.mark.asyncio
async def test_a_replica_that_cannot_reach_the_gateway_says_unavailable_not_quota_reached():
    import grpc

    from services.common.access import METHODS, Quota
    from services.common.credentials import Caller, KeyCache
    from services.common.errors import Unavailable
    from services.common.metering import UsageLedger
    from tests.conftest import refusing_address

    keys = KeyCache()
    keys.replace(pb.CredentialSnapshot(plans={"acme": pb.Plan(name="plans/hundred", predictions_per_day=100)}))
    infer = next(a for a in METHODS.values() if a.quota is Quota.PREDICTIONS)
    # Nothing listens there: every lease request fails at once.
    with refusing_address() as address:
        async with grpc.aio.insecure_channel(address) as channel:
            ledger = UsageLedger(keys, channel, (), "inference")
            with pytest.raises(Unavailable, match="gateway"):
                await ledger.admit(Caller("acme"), infer)
            # The call was not counted: nothing to report once the gateway is back.
            assert all(meter.predictions == 0 for meter in ledger._tenants.values())
