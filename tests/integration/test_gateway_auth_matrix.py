"""Every RPC the gateway serves, taken from its route table and the admin service's descriptor (so a
new RPC is covered without touching this file), called without a key, with an unknown, revoked or
expired key, without the method's scope, with the session of each role that may not call it, with a
signed-out or expired session, and with a spoofed `x-maas-tenant`: each gets the right status and
touches nothing. The backends are real; what they received is read from their metrics."""

import datetime as dt
import time
import uuid
from dataclasses import dataclass

import grpc
import pytest
import structlog
from google.protobuf import timestamp_pb2
from structlog.testing import capture_logs

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2 as apb
from maas.registry.v1 import registry_pb2 as rpb
from services.gateway.accounts import ROLES, USAGE_ROLES, Accounts
from services.gateway.routes import REGISTRY_SERVICE, TRAINER_SERVICE, build_routes, is_internal
from services.gateway.servicer import ADMIN_SERVICE
from tests.integration.gateway_stack import ADMIN, Scope, bearer, gateway_stack, started_calls

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
        time.sleep(1.2)  # the key has expired (and the gateway's key cache has seen the revocation)
        yield World(stack, keys, victim.api_key.name, users)


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


def test_spoofed_tenant_metadata_is_replaced_by_the_keys_tenant(world):
    """acme's key with `x-maas-tenant: globex` (and another `x-maas-*` key) acts in acme on every
    RPC: no log line of the call names globex; the serving service's line names acme (the fallback
    proxy's names no tenant: it authenticates nothing, the service does)."""
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
    globex = world.stack.admin.GetUsage(apb.GetUsageRequest(name="tenants/globex/usage"), metadata=ADMIN)
    assert globex.requests == 0


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
