"""services.common.metering.UsageLedger on its own (no gateway): who is limited, the rate limit's
bucket, the trainer's and registry's own figures, the daily quota's refusals and the refund of a
prediction that then failed; each refusal names the plan limit that refused it."""

from __future__ import annotations

import pytest
from google.rpc import error_details_pb2

from maas.gateway.v1 import admin_pb2 as pb
from services.common.access import Access, Quota
from services.common.credentials import Caller, KeyCache
from services.common.errors import ResourceExhausted
from services.common.metering import UsageLedger

CALL = Access("s", "Call", False, False, 0)
PREDICT = Access("s", "Predict", False, False, 0, quota=Quota.PREDICTIONS)
TRAIN = Access("s", "Train", False, False, 0, quota=Quota.TRAINING_TIME)
STORE = Access("s", "Store", False, False, 0, quota=Quota.STORED_BYTES)


def ledger(figures=None, **limits) -> UsageLedger:
    keys = KeyCache()
    keys.replace(pb.CredentialSnapshot(plans={"acme": pb.Plan(name="plans/p", **limits)}))
    return UsageLedger(keys, None, (), "test", local_figures=figures)


def detail_types(error: ResourceExhausted) -> list[type]:
    return [type(detail) for detail in error.details]


@pytest.mark.asyncio
async def test_the_platforms_own_calls_and_tenants_without_a_plan_are_not_limited():
    limited = ledger(requests_per_second=1, burst=1)
    for _ in range(5):
        assert await limited.admit(Caller("acme", service="trainer"), CALL) is None
        assert await limited.admit(Caller("globex"), CALL) is None
        assert await limited.admit(Caller(None), CALL) is None


@pytest.mark.asyncio
async def test_the_rate_limit_admits_the_burst_then_refuses_with_a_retry_delay():
    limited = ledger(requests_per_second=0.001, burst=2)
    await limited.admit(Caller("acme"), CALL)
    await limited.admit(Caller("acme"), CALL)
    with pytest.raises(ResourceExhausted) as refused:
        await limited.admit(Caller("acme"), CALL)
    assert refused.value.limit == "rate_limit"
    assert "rate limit of plans/p exceeded" in refused.value.message
    assert detail_types(refused.value) == [error_details_pb2.RetryInfo, error_details_pb2.QuotaFailure]


@pytest.mark.asyncio
async def test_local_figures_refuse_at_the_limit_storage_without_a_retry_delay():
    used = {Quota.TRAINING_TIME: 99, Quota.STORED_BYTES: 100}

    async def figure_of(quota):
        return used[quota]

    figures = {quota: (lambda _tenant, q=quota: figure_of(q)) for quota in used}
    limited = ledger(figures, training_seconds_per_month=100, stored_bytes=100)
    assert await limited.admit(Caller("acme"), TRAIN) is None  # 99 of 100 s: a job may start
    used[Quota.TRAINING_TIME] = 100
    with pytest.raises(ResourceExhausted) as training:
        await limited.admit(Caller("acme"), TRAIN)
    assert training.value.limit == "training_seconds_per_month"
    assert error_details_pb2.RetryInfo in detail_types(training.value)
    with pytest.raises(ResourceExhausted) as storage:
        await limited.admit(Caller("acme"), STORE)
    assert storage.value.limit == "stored_bytes"
    assert "storage of plans/p is full (100 of 100 bytes)" in storage.value.message
    assert detail_types(storage.value) == [error_details_pb2.QuotaFailure]


@pytest.mark.asyncio
async def test_a_call_of_more_rows_than_the_daily_quota_is_refused_whole():
    limited = ledger(predictions_per_day=10)
    with pytest.raises(ResourceExhausted) as refused:
        await limited.admit(Caller("acme"), PREDICT, rows=11)
    assert refused.value.limit == "predictions_per_day"
    assert "this call has 11 rows" in refused.value.message
    assert error_details_pb2.RetryInfo in detail_types(refused.value)


@pytest.mark.asyncio
async def test_a_counted_prediction_is_refunded_when_the_call_fails():
    metered = ledger()  # no daily quota: counted, not limited
    refund = await metered.admit(Caller("acme"), PREDICT, rows=3)
    (meter,) = metered._tenants.values()
    assert (meter.predictions, meter.calls, meter.requests) == (3, 1, 1)
    assert refund is not None
    refund()
    assert (meter.predictions, meter.calls) == (0, 0)
    # Other calls are counted as requests, with nothing to refund.
    assert await metered.admit(Caller("acme"), CALL) is None
    assert meter.requests == 2
