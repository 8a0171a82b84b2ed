"""A real gateway on PostgreSQL records when each API key was last used: a call made with a key,
to the gateway or through it to a service (which reports it), shows in ListApiKeys (and
RevokeApiKey's answer) within the flush interval (plus the service's report period); a key never
used shows none."""

import datetime as dt
import time

import pytest

from maas.gateway.v1 import admin_pb2
from maas.registry.v1 import registry_pb2
from tests.integration.gateway_stack import ADMIN, bearer, gateway_stack

FLUSH_SECONDS = 0.3


@pytest.fixture
def stack(data_dir, database_url):
    with gateway_stack(data_dir, database_url, key_use_flush_seconds=FLUSH_SECONDS) as stack:
        yield stack


def keys(stack) -> dict[str, admin_pb2.ApiKey]:
    listed = stack.admin.ListApiKeys(admin_pb2.ListApiKeysRequest(parent="tenants/acme"), metadata=ADMIN)
    return {key.display_name: key for key in listed.api_keys}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_keys_use_shows_within_the_flush_interval(stack):
    stack.admin.CreateTenant(admin_pb2.CreateTenantRequest(tenant_id="acme"), metadata=ADMIN)
    used = stack.key("acme", display_name="used")
    stack.key("acme", display_name="idle")
    proxied = stack.key("acme", display_name="proxied")
    assert not any(key.HasField("last_use_time") for key in keys(stack).values())

    before = dt.datetime.now(dt.UTC)
    usage = admin_pb2.GetUsageRequest(name="tenants/-/usage")
    stack.admin.GetUsage(usage, metadata=bearer(used.secret))
    called = time.monotonic()
    while not keys(stack)["used"].HasField("last_use_time"):
        assert time.monotonic() - called < FLUSH_SECONDS + 2, "the key's use was never written"
        time.sleep(0.05)
    shown = keys(stack)["used"].last_use_time.ToDatetime(tzinfo=dt.UTC)
    assert before - dt.timedelta(seconds=1) <= shown <= dt.datetime.now(dt.UTC)
    assert not keys(stack)["idle"].HasField("last_use_time")
    assert not keys(stack)["proxied"].HasField("last_use_time")

    # A call the gateway only passes on: the registry admits it and reports the key's use.
    before = dt.datetime.now(dt.UTC)
    stack.models.ListModels(registry_pb2.ListModelsRequest(), metadata=bearer(proxied.secret))
    called = time.monotonic()
    while not keys(stack)["proxied"].HasField("last_use_time"):
        assert time.monotonic() - called < FLUSH_SECONDS + 0.2 + 2, "the service's report was never written"
        time.sleep(0.05)
    assert before - dt.timedelta(seconds=1) <= keys(stack)["proxied"].last_use_time.ToDatetime(tzinfo=dt.UTC)
    assert not keys(stack)["idle"].HasField("last_use_time")

    # A later call moves it forward; revoking answers the key with it.
    called = time.monotonic()
    stack.admin.GetUsage(usage, metadata=bearer(used.secret))
    while keys(stack)["used"].last_use_time.ToDatetime(tzinfo=dt.UTC) == shown:
        assert time.monotonic() - called < 2 * FLUSH_SECONDS + 4, "the second use was never written"
        time.sleep(0.05)
    revoked = stack.admin.RevokeApiKey(admin_pb2.RevokeApiKeyRequest(name=used.api_key.name), metadata=ADMIN)
    assert revoked.last_use_time.ToDatetime(tzinfo=dt.UTC) > shown
