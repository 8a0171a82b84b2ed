"""Every RPC through the gateway (its route table and the admin API, as the auth matrix takes them),
fed request bytes a client could send: random bytes, truncated messages, length prefixes past the end,
and messages that parse but hold nonsense. Whatever arrives, the answer is a precise status, never
UNKNOWN or INTERNAL, and every server keeps serving."""

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maas.registry.v1 import registry_pb2 as rpb
from tests.integration.gateway_stack import ADMIN, Scope, bearer, gateway_stack
from tests.integration.test_gateway_auth_matrix import METHODS, call_raw

pytestmark = pytest.mark.slow

SERVER_FAULTS = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS}
PATHS = sorted(METHODS)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with gateway_stack(tmp_path_factory.mktemp("fuzz"), inference=True) as stack:
        plan = stack.plan("open")
        key = stack.tenant("fuzz", plan, (Scope.SCOPE_READ, Scope.SCOPE_PREDICT, Scope.SCOPE_TRAIN))
        yield stack, {"tenant": bearer(key), "admin": ADMIN}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


# Bytes that are not a message: field 1 as a string whose length runs past the end, a truncated
# varint, an end-group tag with no start, field number 0, and arbitrary bytes.
NOT_A_MESSAGE = st.one_of(
    st.builds(lambda n, tail: b"\x0a" + _varint(n) + tail, st.integers(16, 2**32), st.binary(max_size=8)),
    st.just(b"\x08\xff\xff\xff"),
    st.just(b"\x0c"),
    st.just(b"\x00\x01"),
    st.binary(min_size=1, max_size=64),
)
# Bytes that parse as most messages and hold values no sane client sends: huge and negative numbers,
# long strings, names of things that do not exist, non-UTF-8 in string fields.
WEIRD_STRINGS = st.one_of(
    st.just("models/x/versions/99999999999999999999999"),
    st.just("models/" + "a" * 5000),
    st.just("tenants/../../etc"),
    st.text(max_size=40),
)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


PARSEABLE = st.lists(
    st.one_of(
        st.builds(lambda n, s: _field(n, 2, _varint(len(s.encode())) + s.encode()), st.integers(1, 8), WEIRD_STRINGS),
        st.builds(lambda n, v: _field(n, 0, _varint(v % 2**64)), st.integers(1, 8), st.integers(-(2**63), 2**64)),
        st.builds(lambda n, b: _field(n, 2, _varint(len(b)) + b), st.integers(1, 8), st.binary(max_size=16)),
    ),
    max_size=4,
).map(b"".join)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(PATHS), request=st.one_of(NOT_A_MESSAGE, PARSEABLE), who=st.sampled_from(["tenant", "admin"])
)
def test_no_request_bytes_get_a_server_fault(world, path, request, who):
    stack, credentials = world
    code = call_raw(stack.channel, METHODS[path], request, credentials[who], timeout=10)
    assert code not in SERVER_FAULTS, f"{path} as {who} with {request!r}: {code}"


def test_bytes_that_do_not_parse_are_invalid_argument_for_every_method(world):
    stack, credentials = world
    truncated = b"\x0a\xff\xff\xff\x0f" + b"x" * 3
    for path in PATHS:
        method = METHODS[path]
        if not method.admin and method.scope == Scope.SCOPE_ADMIN:
            continue  # no key reaches it through the gateway (the auth matrix checks that)
        code = call_raw(stack.channel, method, truncated, credentials["admin" if method.admin else "tenant"])
        assert code == grpc.StatusCode.INVALID_ARGUMENT, f"{path}: {code}"


def test_the_servers_still_serve_after_the_fuzz(world):
    stack, credentials = world
    models = stack.models.ListModels(rpb.ListModelsRequest(), metadata=credentials["tenant"], timeout=5)
    assert models is not None
