"""Every RPC the gateway serves, taken from its route table and the admin service's descriptor (so a
new RPC is covered without touching this file), called without a key, with an unknown, revoked or
expired key, without the method's scope, with the session of each role that may not call it, with a
signed-out or expired session, and with a spoofed `x-maas-tenant`: each gets the right status and
touches nothing; each role's session is not refused what the role may call. The backends are real;
what they received is read from their metrics.

The same over REST: every operation of the OpenAPI document the gateway serves (checked to be every
route its HTTP app has), with no credentials, with each role's session cookie and CSRF token, and
with a signed-out or expired cookie, gets the status the RPC it is would get over gRPC; every
state-changing one is refused with the cookie but without the CSRF token, or from another origin."""

import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass

import grpc
import httpx
import pytest
import structlog
from google.protobuf import timestamp_pb2
from structlog.testing import capture_logs

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2 as apb
from maas.registry.v1 import registry_pb2 as rpb
from services.gateway.accounts import ROLES, USAGE_ROLES, Accounts, SignedIn
from services.gateway.rest.accounts import COOKIE, CSRF_HEADER, OPEN_PATHS, SAFE_METHODS
from services.gateway.rest.accounts import openapi_paths as account_paths
from services.gateway.rest.app import REST_SERVICES
from services.gateway.rest.invoices import openapi_paths as invoice_paths
from services.gateway.rest.openapi import GRPC_METHOD, openapi_document, openapi_path
from services.gateway.rest.transcoding import build_request, routes_for
from services.gateway.routes import REGISTRY_SERVICE, TRAINER_SERVICE, build_routes, is_internal
from services.gateway.servicer import ADMIN_SERVICE
from tests.integration.gateway_stack import ADMIN, Scope, bearer, gateway_stack, started_calls
from tests.integration.test_gateway_rest import http_port

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
TENANT_SCOPES = (Scope.SCOPE_READ, Scope.SCOPE_PREDICT, Scope.SCOPE_TRAIN)
PASSWORD = "correct horse battery staple"
# Admin methods a tenant's owner may call for its own tenant (signed in).
OWNER_METHODS = frozenset(
    {
        "CreateApiKey",
        "ListApiKeys",
        "RevokeApiKey",
        "CreateInvitation",
        "ListMembers",
        "UpdateMember",
        "DeleteMember",
        "ListAuditEvents",
        "ChangePlan",
        "SetBudget",
    }
)
# Admin methods that read a tenant's invoices: its owners and billing members (and its keys with `read`).
INVOICE_METHODS = frozenset({"GetInvoice", "ListInvoices"})


@dataclass(frozen=True)
class Method:
    path: str
    client_streaming: bool
    server_streaming: bool
    scope: int
    # Served by the gateway itself (the admin API), not proxied to a backend.
    admin: bool = False


METHODS = {
    **{path: Method(path, r.client_streaming, r.server_streaming, r.scope) for path, r in build_routes().items()},
    **{
        f"/{ADMIN_SERVICE.full_name}/{m.name}": Method(
            f"/{ADMIN_SERVICE.full_name}/{m.name}",
            m.client_streaming,
            m.server_streaming,
            m.GetOptions().Extensions[api_pb.required_scope],
            admin=True,
        )
        for m in ADMIN_SERVICE.methods
        if not is_internal(m)
    },
}

# The transcoded routes, which the REST twin is built from: an RPC's request is made from its route.
HTTP_ROUTES = routes_for(REST_SERVICES)
# Path parameters: acme's own tenant, and ids of nothing (a 404 is past authorization, as is a 400).
PATH_VALUES = {"tenant": "acme"}
ABSENT = "matrix-none"
FOREIGN_ORIGIN = "https://evil.example"
# A state-changing route's body is `{}`, but for a handler that checks its body before it calls the
# RPC (which authorizes): KServe's infer parses its tensors first, and answers an empty list 400
# before any role is looked at.
TENSOR = {"name": "x", "shape": [1], "datatype": "FP32", "data": [0]}
BODIES = {"/inference.GRPCInferenceService/ModelInfer": json.dumps({"inputs": [TENSOR]}).encode()}
HTTP_STATUS = {UNAUTHENTICATED: 401, PERMISSION_DENIED: 403}


def filled(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda found: PATH_VALUES.get(found.group(1), ABSENT), path)


@dataclass(frozen=True)
class RestRoute:
    method: str
    path: str  # as the OpenAPI document spells it, `{parameters}` and all
    # The RPC the route is one call of, whose scope and roles it has; None for the account paths
    # (the session's own: every signed-in role may use them).
    rpc: Method | None
    # Reached with no credentials at all (registration, sign-in, the reset token's new password).
    open: bool

    @property
    def url(self) -> str:
        return filled(self.path)

    @property
    def state_changing(self) -> bool:
        return self.method not in SAFE_METHODS


def openapi_operations(document: dict) -> dict[str, RestRoute]:
    return {
        f"{method.upper()} {path}": RestRoute(
            method.upper(),
            path,
            METHODS[operation[GRPC_METHOD]] if GRPC_METHOD in operation else None,
            operation.get("security") == [],
        )
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
    }


# Every REST path: the operations of the document the gateway serves, made the way it makes it
# (test_the_rest_matrix_covers_every_route_the_gateway_serves checks that the served document is
# this one, and that the app routes nothing beyond it).
REST_ROUTES = openapi_operations(openapi_document(HTTP_ROUTES, {**invoice_paths(), **account_paths()}))


def grpc_request(method: Method) -> bytes:
    """A request the method accepts past authorization: the one its REST route makes of acme's
    names (an absent object's), else an empty one."""
    for route in HTTP_ROUTES:
        if route.grpc_path == method.path:
            values = route.match(route.http_method, filled(openapi_path(route.template)[0]))
            assert values is not None, route.template
            return build_request(route, values, (), {} if route.body else None).SerializeToString()
    return b""


def call_raw(channel: grpc.Channel, method: Method, request: bytes, metadata, timeout: float = 5) -> grpc.StatusCode:
    """Call a method with a serialised request, as a client of its streaming kind; returns the status."""
    if method.client_streaming:
        call = (channel.stream_stream if method.server_streaming else channel.stream_unary)(method.path)
        request = iter([request])
    else:
        call = (channel.unary_stream if method.server_streaming else channel.unary_unary)(method.path)
    try:
        response = call(request, metadata=metadata, timeout=timeout)
        if method.server_streaming:
            list(response)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@dataclass
class World:
    stack: object
    keys: dict[str, str]
    victim_key: str
    # acme's members: role -> user id.
    users: dict[str, str]
    http: httpx.Client
    # Each role's browser session (the REST matrix's own: a route may end it, e.g. signing out).
    browsers: dict[str, SignedIn]

    def browser(self, role: str) -> SignedIn:
        """`role`'s live browser session, signed in again if a route ended it."""
        accounts = self.stack.gateway.server.bindings[0].servicer.accounts
        if accounts.session(self.browsers[role].token) is None:
            self.browsers[role] = accounts.sign_in(f"{role}@example.com", PASSWORD, "127.0.0.1")
        return self.browsers[role]

    def rest(self, route: RestRoute, token: str = "", csrf: str = "", **headers: str) -> tuple[int, str]:
        """The route called with the session cookie `token` (none if empty) and its CSRF token: the
        status and the error's message. A stream's answer is not read past its status."""
        if token:
            headers["cookie"] = f"{COOKIE}={token}"
        if csrf:
            headers[CSRF_HEADER] = csrf
        body = BODIES.get(route.rpc.path if route.rpc else "", b"{}") if route.state_changing else None
        with self.http.stream(route.method, route.url, content=body, headers=headers) as response:
            if response.status_code < 400:
                return response.status_code, ""
            error = response.read().decode(errors="replace")
        return response.status_code, error

    def admin_state(self) -> tuple:
        """Everything the admin API could change: tenants (and their plans), plans, acme's keys, members and budget."""
        admin = self.stack.admin
        tenants = admin.ListTenants(apb.ListTenantsRequest(), metadata=ADMIN).tenants
        plans = admin.ListPlans(apb.ListPlansRequest(), metadata=ADMIN).plans
        keys = admin.ListApiKeys(apb.ListApiKeysRequest(parent="tenants/acme"), metadata=ADMIN).api_keys
        members = admin.ListMembers(apb.ListMembersRequest(parent="tenants/acme"), metadata=ADMIN).members
        return (
            [(t.name, t.plan) for t in tenants],
            [p.name for p in plans],
            [(k.name, k.HasField("revoke_time")) for k in keys],
            [(m.name, m.role) for m in members],
            self.stack.gateway.server.bindings[0].servicer.store.budget_of("acme"),
        )

    def backend_calls(self) -> tuple[float, ...]:
        return tuple(started_calls(s) for s in (self.stack.registry, self.stack.trainer, self.stack.inference))

    def requests(self, method: Method) -> list[bytes]:
        """An empty request (the status must not depend on what a request holds) and, for the admin
        API, which the backends' metrics do not see, a valid one that would change something."""
        valid = {
            "CreateTenant": apb.CreateTenantRequest(tenant_id="intruder"),
            "GetTenant": apb.GetTenantRequest(name="tenants/acme"),
            "CreateApiKey": apb.CreateApiKeyRequest(parent="tenants/acme"),
            "ListApiKeys": apb.ListApiKeysRequest(parent="tenants/acme"),
            "RevokeApiKey": apb.RevokeApiKeyRequest(name=self.victim_key),
            "CreatePlan": apb.CreatePlanRequest(plan_id="intruder"),
            "GetUsage": apb.GetUsageRequest(name="tenants/acme/usage"),
            "CreateInvitation": apb.CreateInvitationRequest(parent="tenants/acme", role="owner"),
            "CreatePasswordReset": apb.CreatePasswordResetRequest(email="owner@example.com"),
            "GetInvoice": apb.GetInvoiceRequest(name="tenants/acme/invoices/current"),
            "ListInvoices": apb.ListInvoicesRequest(parent="tenants/acme"),
            "ChangePlan": apb.ChangePlanRequest(name="tenants/acme", plan="plans/free"),
            "GetUsageHistory": apb.GetUsageHistoryRequest(name="tenants/acme/usage"),
            "SetBudget": apb.SetBudgetRequest(budget=apb.Budget(name="tenants/acme/budget", monthly_amount=1)),
            "ListMembers": apb.ListMembersRequest(parent="tenants/acme"),
            "UpdateMember": apb.UpdateMemberRequest(
                member=apb.Member(name=f"tenants/acme/members/{self.users['viewer']}", role="owner")
            ),
            "DeleteMember": apb.DeleteMemberRequest(name=f"tenants/acme/members/{self.users['developer']}"),
            "ListAuditEvents": apb.ListAuditEventsRequest(parent="tenants/acme"),
        }
        name = method.path.rsplit("/", 1)[1]
        return [b"", valid[name].SerializeToString()] if method.admin and name in valid else [b""]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with gateway_stack(tmp_path_factory.mktemp("matrix"), inference=True, password_scrypt_n=2**14) as stack:
        plan = stack.plan("open")  # no limits: the matrix must never meet a rate limit
        keys = {"full": stack.tenant("acme", plan, TENANT_SCOPES), "globex": stack.tenant("globex", plan)}
        for scope in TENANT_SCOPES:
            keys[f"without {scope}"] = stack.key("acme", [s for s in TENANT_SCOPES if s != scope]).secret
        revoked = stack.key("acme", TENANT_SCOPES)
        stack.admin.RevokeApiKey(apb.RevokeApiKeyRequest(name=revoked.api_key.name), metadata=ADMIN)
        keys["revoked"] = revoked.secret
        expire = timestamp_pb2.Timestamp()
        expire.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
        expiring = stack.key("acme", TENANT_SCOPES, expire_time=expire)
        keys["expired"] = expiring.secret
        victim = stack.key("acme", TENANT_SCOPES, display_name="revoked if RevokeApiKey lets a bad key through")
        # A console session of each role in acme (members invited by the operator), a signed-out
        # one and one that expires with the key above.
        accounts = stack.gateway.server.bindings[0].servicer.accounts
        users = {}
        for role in ROLES:
            invitation, _ = accounts.invite("acme", role, None)
            users[role] = accounts.register(f"{role}@example.com", PASSWORD, invitation_token=invitation)
            keys[f"{role}'s session"] = accounts.sign_in(f"{role}@example.com", PASSWORD, "127.0.0.1").token
        signed_out = accounts.sign_in("owner@example.com", PASSWORD, "127.0.0.1")
        accounts.sign_out(signed_out.session)
        keys["signed-out session"] = signed_out.token
        brief = Accounts(accounts.store, session_ttl=dt.timedelta(seconds=1), scrypt_n=2**14)
        keys["expired session"] = brief.sign_in("owner@example.com", PASSWORD, "127.0.0.1").token
        browsers = {role: accounts.sign_in(f"{role}@example.com", PASSWORD, "127.0.0.1") for role in ROLES}
        time.sleep(1.2)  # the key has expired (and the gateway's key cache has seen the revocation)
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}", timeout=10) as http:
            yield World(stack, keys, victim.api_key.name, users, http, browsers)


def bad_credentials(world: World, method: Method) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each bad credential and the metadata that carries it; the expected status comes from its name."""
    keys = world.keys
    # A tenant's key never holds the admin scope, so its full key is the one without it.
    lacking = keys["full"] if method.scope == Scope.SCOPE_ADMIN else keys[f"without {method.scope}"]
    credentials = {
        "no key": (),
        "no key, spoofed tenant": (("x-maas-tenant", "acme"),),
        "unknown key": bearer("maas_unknown"),
        "unknown x-api-key": (("x-api-key", "maas_unknown"),),
        "revoked key": bearer(keys["revoked"]),
        "expired key": bearer(keys["expired"]),
        "key without the scope": bearer(lacking),
    }
    if not method.admin:
        # The platform's admin key acts in no tenant, so no backend call is its.
        credentials["admin key on a tenant's method"] = ADMIN
    credentials["signed-out session"] = bearer(keys["signed-out session"])
    credentials["expired session"] = bearer(keys["expired session"])
    for role in ROLES:
        if not role_may(role, method):
            credentials[f"{role}'s session"] = bearer(keys[f"{role}'s session"])
    return credentials


def role_may(role: str, method: Method) -> bool:
    """Whether a session of `role` in acme may call the method (for acme)."""
    name = method.path.rsplit("/", 1)[1]
    if not method.admin:
        return method.scope in ROLES[role]
    if name in ("GetUsage", "GetUsageHistory"):
        return role in USAGE_ROLES or Scope.SCOPE_READ in ROLES[role]
    if name in INVOICE_METHODS:
        return role in USAGE_ROLES
    return role == "owner" and name in OWNER_METHODS


def expected(credential: str) -> grpc.StatusCode:
    refused = ("no key", "unknown", "revoked", "expired", "signed-out")
    return UNAUTHENTICATED if credential.startswith(refused) else PERMISSION_DENIED


@pytest.mark.parametrize("path", sorted(METHODS))
def test_bad_credentials_get_their_status_and_touch_nothing(world, path):
    method = METHODS[path]
    failures = []
    for credential, metadata in bad_credentials(world, method).items():
        for request in world.requests(method):
            backends, admin_state = world.backend_calls(), world.admin_state()
            code = call_raw(world.stack.channel, method, request, metadata)
            if code != expected(credential):
                failures.append(f"{credential}, {len(request)}-byte request: {code.name}")
            if world.backend_calls() != backends:
                failures.append(f"{credential}: a backend received a call")
            if world.admin_state() != admin_state:
                failures.append(f"{credential}: tenants, plans or keys changed")
    assert not failures, failures


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_roles_session_is_not_refused_what_the_role_may_call(world, role):
    """Every RPC the matrix expects `role` to reach, called with its session and a request of
    acme's names: past authentication and authorization (an absent object's NOT_FOUND, a bad
    request's INVALID_ARGUMENT, a watch's DEADLINE_EXCEEDED are all past them)."""
    session = bearer(world.keys[f"{role}'s session"])
    allowed = [method for method in METHODS.values() if role_may(role, method)]
    assert allowed, f"{role} may call nothing"
    refused = {}
    for method in allowed:
        code = call_raw(world.stack.channel, method, grpc_request(method), session, timeout=1)
        if code in (UNAUTHENTICATED, PERMISSION_DENIED):
            refused[method.path] = code.name
    assert refused == {}


def test_the_rest_matrix_covers_every_route_the_gateway_serves(world):
    """The routes below are the operations of the document the gateway serves; every route of its
    HTTP app under /v1 and /v2 is one of them, and so is every transcoded route (no two share a
    path), so a new route is in the matrix or fails here."""
    assert openapi_operations(world.http.get("/openapi.json").json()) == REST_ROUTES
    rest = world.stack.gateway.server.companions[0]
    app_routes = {
        f"{route.method} {route.resource.canonical}"
        for route in rest._runner.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(("/v1/", "/v2"))
        and route.resource.canonical != "/v1/{tail}"  # the door of the transcoded routes
        and route.method != "HEAD"  # aiohttp's, beside every GET
    }
    assert app_routes - REST_ROUTES.keys() == set()
    transcoded = {f"{route.http_method.upper()} {openapi_path(route.template)[0]}" for route in HTTP_ROUTES}
    assert len(transcoded) == len(HTTP_ROUTES) and transcoded - REST_ROUTES.keys() == set()
    # The paths open to anyone are the account paths the guard lets through without credentials.
    assert {(r.method, r.path) for r in REST_ROUTES.values() if r.open} == OPEN_PATHS


@pytest.mark.parametrize("name", sorted(name for name, route in REST_ROUTES.items() if not route.open))
def test_each_rest_route_refuses_or_serves_each_role_as_its_rpc_does(world, name):
    """No credentials or a signed-out or expired cookie: 401. Each role's cookie and CSRF token: 403
    where the matrix refuses the role the route's RPC, else neither 401 nor 403. A refused call
    reaches no backend."""
    route = REST_ROUTES[name]
    cases = {
        "no credentials": ("", "", 401),
        "signed-out session": (world.keys["signed-out session"], "", 401),
        "expired session": (world.keys["expired session"], "", 401),
    }
    failures = []
    for credential, (token, csrf, want) in cases.items():
        backends = world.backend_calls()
        status, error = world.rest(route, token, csrf)
        if status != want:
            failures.append(f"{credential}: {status} {error}")
        if world.backend_calls() != backends:
            failures.append(f"{credential}: a backend received a call")
    for role in ROLES:
        session = world.browser(role)
        backends = world.backend_calls()
        status, error = world.rest(route, session.token, session.csrf_token)
        if route.rpc is None or role_may(role, route.rpc):
            if status in (401, 403):
                failures.append(f"{role}'s session, allowed: {status} {error}")
        else:
            if status != HTTP_STATUS[PERMISSION_DENIED]:
                failures.append(f"{role}'s session, refused: {status} {error}")
            if world.backend_calls() != backends:
                failures.append(f"{role}'s session: a backend received a call")
    assert not failures, failures


@pytest.mark.parametrize(
    "name", sorted(name for name, route in REST_ROUTES.items() if route.state_changing and not route.open)
)
def test_each_state_changing_rest_route_refuses_the_cookie_without_its_csrf_token_or_from_another_site(world, name):
    """The owner's live cookie (who may call the most) without `x-csrf-token`, with another
    session's, or with its own but from another origin, and a cross-site request with neither: 403
    from the CSRF checks, before the route's RPC; nothing reaches a backend or changes."""
    route = REST_ROUTES[name]
    owner, other = world.browser("owner"), world.browser("developer")
    cases = {
        "no CSRF token": ("", {}, "x-csrf-token"),
        "another session's CSRF token": (other.csrf_token, {}, "x-csrf-token"),
        "another origin": (owner.csrf_token, {"origin": FOREIGN_ORIGIN}, "another origin"),
        "cross-site, no CSRF token": ("", {"origin": FOREIGN_ORIGIN}, "another origin"),
    }
    failures = []
    backends, admin_state = world.backend_calls(), world.admin_state()
    for case, (csrf, headers, why) in cases.items():
        status, error = world.rest(route, owner.token, csrf, **headers)
        if status != 403 or why not in error:
            failures.append(f"{case}: {status} {error}")
    if world.backend_calls() != backends:
        failures.append("a backend received a call")
    if world.admin_state() != admin_state:
        failures.append("tenants, plans, keys, members or the budget changed")
    assert world.browser("owner") == owner, "a refused request ended the session"
    assert not failures, failures


def test_spoofed_tenant_metadata_is_replaced_by_the_keys_tenant(world):
    """acme's key with `x-maas-tenant: globex` (and another `x-maas-*` key) acts in acme on every
    RPC: no log line of the call names globex; the serving service's line names acme (the fallback
    proxy's names no tenant: it authenticates nothing, the service does)."""
    globex_usage = apb.GetUsageRequest(name="tenants/globex/usage")
    # Other tests call as globex (pytest-randomly orders them): what it had before is the baseline.
    before = world.stack.admin.GetUsage(globex_usage, metadata=ADMIN).requests
    spoofed = {}
    # structlog's capture, keeping the context (request_id, tenant) bound per call.
    with capture_logs([structlog.contextvars.merge_contextvars]) as entries:
        for path, method in METHODS.items():
            spoofed[path] = uuid.uuid4().hex
            metadata = (
                *bearer(world.keys["full"]),
                ("x-maas-tenant", "globex"),
                ("x-maas-role", "admin"),
                ("x-request-id", spoofed[path]),
            )
            # Streams that wait for events (WatchRegistryEvents) end at the deadline.
            call_raw(world.stack.channel, method, b"", metadata, timeout=1)
        # A server may write a call's line just after the client has its answer (inference logs
        # failed calls only, so its successful ones have no line).
        logged = {rid for path, rid in spoofed.items() if not path.startswith(("/inference.", "/tensorflow."))}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and logged - {e.get("request_id") for e in entries}:
            time.sleep(0.05)
    tenants = {path: set() for path in spoofed}
    for entry in entries:
        for path, request_id in spoofed.items():
            if entry.get("request_id") == request_id:
                tenants[path].add(entry.get("tenant"))
    assert {path: found for path, found in tenants.items() if found - {"acme", None}} == {}
    assert {path for path, rid in spoofed.items() if rid in logged and "acme" not in tenants[path]} == set()

    # The spoof's target saw nothing: no call metered, nothing created.
    assert world.stack.admin.GetUsage(globex_usage, metadata=ADMIN).requests == before


def test_model_created_with_a_spoofed_tenant_lands_in_the_keys_tenant(world):
    models = world.stack.models
    spoofed = (*bearer(world.keys["full"]), ("x-maas-tenant", "globex"))
    models.CreateModel(rpb.CreateModelRequest(model_id="spoofed"), metadata=spoofed)

    assert models.GetModel(rpb.GetModelRequest(name="models/spoofed"), metadata=bearer(world.keys["full"]))
    with pytest.raises(grpc.RpcError) as error:
        models.GetModel(rpb.GetModelRequest(name="models/spoofed"), metadata=bearer(world.keys["globex"]))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert not models.ListModels(rpb.ListModelsRequest(), metadata=bearer(world.keys["globex"])).models


def test_internal_methods_are_not_reachable_through_the_gateway(world):
    internal = [
        Method(f"/{service.full_name}/{m.name}", m.client_streaming, m.server_streaming, Scope.SCOPE_READ)
        for service in (REGISTRY_SERVICE, TRAINER_SERVICE, ADMIN_SERVICE)
        for m in service.methods
        if is_internal(m)
    ]
    assert {m.path.rsplit("/", 1)[1] for m in internal} == {
        "CreatePayloadLog",
        "GetStorageUsage",
        "GetTrainingUsage",
        "ReportModelVersionValidation",
        "ReportModelVersionDrift",
        "WatchCredentials",
        "LookupCredential",
        "LeaseUsage",
    }
    for method in internal:
        backends = world.backend_calls()
        code = call_raw(world.stack.channel, method, b"", bearer(world.keys["full"]))
        # No route at the door; where the gateway itself is the door (the fallback proxy), its own
        # internal methods refuse every caller but a platform service.
        gateways = (UNAUTHENTICATED,) if method.path.startswith(f"/{ADMIN_SERVICE.full_name}/") else ()
        assert code in (grpc.StatusCode.UNIMPLEMENTED, *gateways), method.path
        assert world.backend_calls() == backends


def test_a_tenants_key_cannot_be_given_the_admin_scope(world):
    with pytest.raises(grpc.RpcError) as error:
        world.stack.key("acme", [Scope.SCOPE_READ, Scope.SCOPE_ADMIN])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_owner_manages_only_their_own_tenants_members_and_events(world):
    """acme's owner (signed in) is refused globex's members and events, and every tenant's events
    (`tenants/-`, the operator's); the admin key reads them all."""
    owner = bearer(world.keys["owner's session"])
    admin = world.stack.admin
    refused = [
        lambda: admin.ListMembers(apb.ListMembersRequest(parent="tenants/globex"), metadata=owner),
        lambda: admin.ListAuditEvents(apb.ListAuditEventsRequest(parent="tenants/globex"), metadata=owner),
        lambda: admin.ListAuditEvents(apb.ListAuditEventsRequest(parent="tenants/-"), metadata=owner),
        lambda: admin.DeleteMember(
            apb.DeleteMemberRequest(name=f"tenants/globex/members/{world.users['viewer']}"), metadata=owner
        ),
    ]
    for call in refused:
        with pytest.raises(grpc.RpcError) as error:
            call()
        assert error.value.code() == PERMISSION_DENIED
    everyone = admin.ListAuditEvents(apb.ListAuditEventsRequest(parent="tenants/-", page_size=1000), metadata=ADMIN)
    own = admin.ListAuditEvents(apb.ListAuditEventsRequest(parent="tenants/acme", page_size=1000), metadata=owner)
    assert {e.tenant for e in own.events} == {"tenants/acme"}
    assert {e.name for e in own.events} <= {e.name for e in everyone.events}
