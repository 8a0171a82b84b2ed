"""The gateway's record of API keys' last use, on a real database of each kind (migrated from
scratch): uses are noted in memory, one UPDATE per key is written per flush, and a key's time
only ever moves forward, whichever replica flushes last."""

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import event, exc

from maas.gateway.v1 import admin_pb2 as pb
from services.common import db
from services.common.credentials import KeyCache, Principal, api_key_id
from services.common.timeutil import utc
from services.gateway import tables as t
from services.gateway.auth import Authenticator
from services.gateway.key_use import KeyUseRecorder
from services.gateway.store import GatewayStore
from tests.unit.test_members_audit import START, Clock


@pytest.fixture
def store(database_url) -> Iterator[GatewayStore]:
    engine = db.create_engine(database_url)
    db.migrate(engine, "gateway", Path(t.__file__).parent / "migrations")
    store = GatewayStore(engine)
    store.create_tenant("acme", pb.Tenant())
    yield store
    engine.dispose()


def key(store: GatewayStore) -> tuple[str, str]:
    """A new key of acme: its id and secret."""
    created, secret = store.create_api_key("acme", pb.ApiKey(display_name="ci"))
    return created.name.rsplit("/", 1)[-1], secret


def last_use(store: GatewayStore, key_id: str) -> dt.datetime | None:
    with store.engine.connect() as conn:
        query = sa.select(t.api_keys.c.last_use_time).where(t.api_keys.c.key_id == key_id)
        return utc(conn.execute(query).scalar_one())


def counted_updates(store: GatewayStore) -> list[str]:
    """The UPDATE statements the store sends from now on."""
    statements: list[str] = []
    event.listen(
        store.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: (
            statements.append(statement) if statement.lstrip().upper().startswith("UPDATE") else None
        ),
    )
    return statements


def test_an_unused_key_has_no_last_use(store):
    key(store)
    [listed] = store.list_api_keys("acme")
    assert not listed.HasField("last_use_time")


def test_one_write_per_key_per_flush_with_the_latest_use(store):
    clock = Clock()
    recorder = KeyUseRecorder(store, 30, clock)
    (a, _), (b, _) = key(store), key(store)
    updates = counted_updates(store)
    for seconds in range(5):
        clock.at = START + dt.timedelta(seconds=seconds)
        recorder.note(a)
    recorder.note(b)
    assert asyncio.run(recorder.flush()) == 2
    assert len(updates) == 2
    assert last_use(store, a) == START + dt.timedelta(seconds=4)
    assert last_use(store, b) == START + dt.timedelta(seconds=4)
    assert asyncio.run(recorder.flush()) == 0  # nothing used since: nothing written
    assert len(updates) == 2
    listed = {k.name.rsplit("/", 1)[-1]: k for k in store.list_api_keys("acme")}
    assert listed[a].last_use_time.ToDatetime(tzinfo=dt.UTC) == START + dt.timedelta(seconds=4)


def test_a_late_flush_never_moves_the_time_back(store):
    early, late = Clock(), Clock()
    late.at = START + dt.timedelta(minutes=5)
    a, _ = key(store)
    replica_1, replica_2 = KeyUseRecorder(store, 30, early), KeyUseRecorder(store, 30, late)
    replica_1.note(a)
    replica_2.note(a)
    assert asyncio.run(replica_2.flush()) == 1
    assert asyncio.run(replica_1.flush()) == 0  # its use is older than the one written
    assert last_use(store, a) == late.at


def test_stop_writes_what_is_left(store):
    a, _ = key(store)
    recorder = KeyUseRecorder(store, 3600)

    async def serve_and_stop() -> None:
        await recorder.start()
        recorder.note(a)
        await recorder.stop()

    asyncio.run(serve_and_stop())
    assert last_use(store, a) is not None


def test_a_failed_flush_keeps_the_uses_for_the_next(store):
    clock = Clock()
    a, _ = key(store)
    recorder = KeyUseRecorder(store, 30, clock)
    recorder.note(a)
    store.engine.dispose()
    broken = store.engine
    store.engine = sa.create_engine("sqlite:////nonexistent/dir/db")
    with pytest.raises(exc.OperationalError):
        asyncio.run(recorder.flush())
    store.engine = broken
    assert asyncio.run(recorder.flush()) == 1
    assert last_use(store, a) == START


def test_the_authenticator_notes_keys_not_sessions(store):
    a, secret = key(store)
    recorder = KeyUseRecorder(store, 30)
    authenticator = Authenticator(store, ttl=60, key_uses=recorder)

    async def calls() -> Principal:
        principal = await authenticator.authenticate((("authorization", f"Bearer {secret}"),))
        await authenticator.authenticate((("authorization", f"Bearer {secret}"),))  # cached: noted again
        return principal

    principal = asyncio.run(calls())
    assert principal.key_id == a
    assert list(recorder._pending) == [a]
    store.find_principal = lambda _secret: Principal("session-s1", "acme", frozenset(), None, "u1", "owner")
    untouched = KeyUseRecorder(store, 30)
    fresh = Authenticator(store, ttl=60, key_uses=untouched)
    asyncio.run(fresh.authenticate((("authorization", "Bearer maas_session"),)))
    assert not untouched._pending


def test_a_services_report_is_noted_never_later_than_now_and_bad_times_are_ignored(store):
    clock = Clock()
    a, _ = key(store)
    b, _ = key(store)
    recorder = KeyUseRecorder(store, 30, clock)
    ahead, behind, broken = Timestamp(), Timestamp(), Timestamp(seconds=2**62)
    ahead.FromDatetime(START + dt.timedelta(hours=1))  # a replica whose clock runs ahead
    behind.FromDatetime(START - dt.timedelta(minutes=1))
    recorder.note(b)
    recorder.note_reported({a: ahead, b: behind, "unknown": broken})
    assert recorder._pending == {a: START, b: START}  # clamped to now; an older report changes nothing
    assert asyncio.run(recorder.flush()) == 2


def test_the_services_tell_a_session_from_a_key():
    key_credential = pb.Credential(secret_sha256="1", name="tenants/acme/apiKeys/k1", tenant="acme")
    session_credential = pb.Credential(secret_sha256="2", name="tenants/acme/sessions/s1", tenant="acme")
    admin_credential = pb.Credential(secret_sha256="3", name="apiKeys/admin")
    keys = KeyCache()
    keys.replace(pb.CredentialSnapshot(credentials=[key_credential, session_credential, admin_credential]))
    assert [api_key_id(principal) for principal in keys._principals.values()] == ["k1", None, "admin"]
