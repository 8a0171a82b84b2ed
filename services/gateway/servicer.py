"""The gateway's own API: tenants, plans and keys for the admin key; a tenant's keys, members and
audit events also for its owners (signed-in users whose role there is `owner`). Every call is
logged; changes to keys and members are audit events (`audit.py`)."""

from __future__ import annotations

import asyncio
import datetime as dt

import grpc
import structlog

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2 as pb
from maas.gateway.v1 import admin_pb2_grpc
from services.common.credentials import SERVICE_KEY, Principal, ServiceVerifier, authorize
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.metadata import metadata_value
from services.common.timeutil import set_timestamp
from services.common.validation import page_size, parse_name
from services.gateway.accounts import USAGE_ROLES, Accounts
from services.gateway.auth import Authenticator
from services.gateway.billing_servicer import BillingRpcs
from services.gateway.invoicing import Invoicer
from services.gateway.key_use import KeyUseRecorder
from services.gateway.members import Members, member_of, tenant_of
from services.gateway.quota import BackendUsage, LeaseBook, today, usage_report
from services.gateway.store import GatewayStore

audit = structlog.get_logger("maas.audit")
ADMIN_SERVICE = pb.DESCRIPTOR.services_by_name["AdminService"]
# How often the keys and plans are read for changes a watcher has not seen; bounds how late a
# revocation reaches the services (plus one stream hop).
CREDENTIALS_POLL_SECONDS = 0.5


class AdminServicer(BillingRpcs, admin_pb2_grpc.AdminServiceServicer):
    def __init__(
        self,
        store: GatewayStore,
        authenticator: Authenticator,
        backend: BackendUsage,
        leases: LeaseBook,
        services: ServiceVerifier,
        report_wait: float = 0.0,
        draining: asyncio.Event | None = None,
        accounts: Accounts | None = None,
        invoicer: Invoicer | None = None,
        key_uses: KeyUseRecorder | None = None,
    ) -> None:
        self.key_uses = key_uses  # the keys' last use, noted here from the services' reports
        self.accounts = accounts or Accounts(store.accounts)
        self.audit = self.accounts.audit
        self.invoicer = invoicer or Invoicer(store, audit=self.audit)
        self.members = Members(store.engine, self.audit)
        self.report_wait = report_wait
        self._draining = draining or asyncio.Event()
        self.store = store
        self.auth = authenticator
        self.backend = backend
        self.leases = leases
        self.services = services
        # Set (then replaced) on this gateway's own changes to keys, tenants and plans, so watchers
        # hear of them at once (others' changes, from other gateway replicas, within a poll). An
        # Event, not a Condition: a watch cancelled while it waits (the server draining on SIGTERM)
        # then holds no lock to give back.
        self._changed = asyncio.Event()

    async def notify_changed(self) -> None:
        """Wake the credential watches: keys, sessions, tenants or plans changed here."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _service(self, context: grpc.aio.ServicerContext, method: str) -> str:
        """Internal methods answer the platform's services only (token or mTLS certificate)."""
        token = metadata_value(context.invocation_metadata(), SERVICE_KEY)
        identity = self.services.identity(context, token)
        if identity is None:
            message = f"{ADMIN_SERVICE.full_name}/{method} is for the platform's services only"
            raise self.auth.refused("not_a_service", message)
        return identity

    async def _admin(self, context: grpc.aio.ServicerContext, method: str, **target: str) -> Principal:
        """Authenticate and authorise before anything in the request is looked at, then audit the call."""
        principal = await self.auth.authenticate(context.invocation_metadata())
        scope = ADMIN_SERVICE.methods_by_name[method].GetOptions().Extensions[api_pb.required_scope]  # pyright: ignore[reportArgumentType] - the generated stub types it FieldDescriptor
        authorize(principal, scope, f"{ADMIN_SERVICE.full_name}/{method}")
        audit.info("admin action", action=method, key=principal.key_id, **target)
        return principal

    async def _admin_or_owner(self, context: grpc.aio.ServicerContext, method: str, name: str, field: str) -> Principal:
        """A tenant's keys, invitations, members and audit events are the admin key's or, for their
        own tenant, its owners' (signed in)."""
        principal = await self.auth.authenticate(context.invocation_metadata())
        if principal.role == "owner":
            if name.split("/")[:2] != ["tenants", principal.tenant]:
                raise PermissionDenied(
                    f"an owner of tenant {principal.tenant!r} manages only that tenant's keys and members"
                )
        elif principal.role is not None:
            raise PermissionDenied(f"{method} is for the tenant's owners; this session's role is {principal.role}")
        else:
            scope = ADMIN_SERVICE.methods_by_name[method].GetOptions().Extensions[api_pb.required_scope]  # pyright: ignore[reportArgumentType] - the generated stub types it FieldDescriptor
            authorize(principal, scope, f"{ADMIN_SERVICE.full_name}/{method}")
        audit.info("admin action", action=method, key=principal.key_id, user=principal.user_id, **{field: name})
        return principal

    async def CreateTenant(self, request, context):
        principal = await self._admin(context, "CreateTenant", tenant=request.tenant_id)
        tenant = await asyncio.to_thread(self.store.create_tenant, request.tenant_id, request.tenant)
        await self.notify_changed()
        await self._record("tenant_created", request.tenant_id, principal, tenant.name, plan=tenant.plan)
        return tenant

    async def GetTenant(self, request, context):
        await self._admin(context, "GetTenant", name=request.name)
        (tenant_id,) = parse_name(request.name, ("tenants", None))
        return await asyncio.to_thread(self.store.get_tenant, tenant_id)

    async def ListTenants(self, request, context):
        await self._admin(context, "ListTenants")
        tenants, token = await asyncio.to_thread(
            self.store.list_tenants, page_size(request.page_size), request.page_token
        )
        return pb.ListTenantsResponse(tenants=tenants, next_page_token=token)

    async def CreateApiKey(self, request, context):
        principal = await self._admin_or_owner(context, "CreateApiKey", request.parent, "parent")
        (tenant_id,) = parse_name(request.parent, ("tenants", None), "parent")
        key, secret = await asyncio.to_thread(self.store.create_api_key, tenant_id, request.api_key, principal.user_id)
        await self.notify_changed()
        scopes = ",".join(api_pb.Scope.Name(s).removeprefix("SCOPE_").lower() for s in key.scopes)
        await self._record("api_key_created", tenant_id, principal, key.name, prefix=key.prefix, scopes=scopes)
        return pb.CreateApiKeyResponse(api_key=key, secret=secret)

    async def ListApiKeys(self, request, context):
        await self._admin_or_owner(context, "ListApiKeys", request.parent, "parent")
        (tenant_id,) = parse_name(request.parent, ("tenants", None), "parent")
        return pb.ListApiKeysResponse(api_keys=await asyncio.to_thread(self.store.list_api_keys, tenant_id))

    async def RevokeApiKey(self, request, context):
        principal = await self._admin_or_owner(context, "RevokeApiKey", request.name, "name")
        tenant_id, key_id = parse_name(request.name, ("tenants", None, "apiKeys", None))
        key = await asyncio.to_thread(self.store.revoke_api_key, tenant_id, key_id)
        await self.notify_changed()
        await self._record("api_key_revoked", tenant_id, principal, key.name, prefix=key.prefix)
        return key

    async def CreateInvitation(self, request, context):
        principal = await self._admin_or_owner(context, "CreateInvitation", request.parent, "parent")
        (tenant_id,) = parse_name(request.parent, ("tenants", None), "parent")
        token, expire = await asyncio.to_thread(
            self.accounts.invite, tenant_id, request.role, principal.user_id, actor_of(principal)
        )
        response = pb.CreateInvitationResponse(token=token, role=request.role)
        response.expire_time.FromDatetime(expire)
        return response

    async def CreatePasswordReset(self, request, context):
        principal = await self._admin(context, "CreatePasswordReset")
        token, expire = await asyncio.to_thread(self.accounts.password_reset, request.email, actor_of(principal))
        response = pb.CreatePasswordResetResponse(token=token)
        response.expire_time.FromDatetime(expire)
        return response

    async def CreatePlan(self, request, context):
        await self._admin(context, "CreatePlan", plan=request.plan_id)
        return await asyncio.to_thread(self.store.create_plan, request.plan_id, request.plan)

    async def ListPlans(self, request, context):
        await self._admin(context, "ListPlans")
        return pb.ListPlansResponse(plans=await asyncio.to_thread(self.store.list_plans))

    async def GetUsage(self, request, context):
        principal = await self.auth.authenticate(context.invocation_metadata())
        # Usage is a key's with the read scope, and a session's whose role reads it (owner, billing).
        if principal.tenant is not None and principal.role not in USAGE_ROLES:
            authorize(principal, api_pb.Scope.SCOPE_READ, f"{ADMIN_SERVICE.full_name}/GetUsage")
        if request.name == "tenants/-/usage":
            # `-` is the caller's own tenant (AIP-159's wildcard): a key need not know its tenant id.
            if principal.tenant is None:
                raise InvalidArgument("name: the admin key has no tenant of its own; use tenants/{tenant}/usage")
            tenant_id = principal.tenant
        else:
            (tenant_id,) = parse_name(request.name, ("tenants", None, "usage"))
        if principal.tenant not in (None, tenant_id):
            raise PermissionDenied("a tenant's key reads only that tenant's usage")
        day = request.day or today()
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise InvalidArgument(f"day: {day!r} is not a date (YYYY-MM-DD)") from None
        await asyncio.to_thread(self.store.get_tenant, tenant_id)
        # The replicas report what they counted every report period: one period (and a round trip)
        # later, every call that ended before this one is in the table.
        await asyncio.sleep(self.report_wait)
        return await usage_report(self.store, self.backend, tenant_id, day)

    async def _record(self, kind: str, tenant_id: str, principal: Principal, target: str, **details) -> None:
        await asyncio.to_thread(
            self.audit.record, kind, tenant=tenant_id, actor=actor_of(principal), target=target, **details
        )

    async def ListMembers(self, request, context):
        await self._admin_or_owner(context, "ListMembers", request.parent, "parent")
        tenant_id = tenant_of(request.parent)
        members = await asyncio.to_thread(self.members.list, tenant_id)
        return pb.ListMembersResponse(members=[member_message(m) for m in members])

    async def UpdateMember(self, request, context):
        name = request.member.name
        principal = await self._admin_or_owner(context, "UpdateMember", name, "name")
        tenant_id, user_id = member_of(name, "member.name")
        member = await asyncio.to_thread(
            self.members.set_role, tenant_id, user_id, request.member.role, actor_of(principal)
        )
        await self.notify_changed()  # the member's sessions carry their role's scopes
        return member_message(member)

    async def DeleteMember(self, request, context):
        principal = await self._admin_or_owner(context, "DeleteMember", request.name, "name")
        tenant_id, user_id = member_of(request.name)
        member = await asyncio.to_thread(self.members.remove, tenant_id, user_id, actor_of(principal))
        await self.notify_changed()
        return member_message(member)

    async def ListAuditEvents(self, request, context):
        if request.parent == "tenants/-":
            await self._admin(context, "ListAuditEvents", parent=request.parent)  # every tenant's: operators only
            tenant_id = None
        else:
            await self._admin_or_owner(context, "ListAuditEvents", request.parent, "parent")
            tenant_id = tenant_of(request.parent)
        since = request.since.ToDatetime(dt.UTC) if request.HasField("since") else None
        events, token = await asyncio.to_thread(
            self.audit.list,
            tenant_id,
            kind=request.kind,
            since=since,
            page_size=page_size(request.page_size),
            page_token=request.page_token,
        )
        return pb.ListAuditEventsResponse(events=[event_message(e) for e in events], next_page_token=token)

    async def WatchCredentials(self, request, context):
        self._service(context, "WatchCredentials")
        sent = None
        while True:
            changed = self._changed  # taken before the read: a change during it wakes the wait at once
            snapshot = await asyncio.to_thread(self.store.credential_snapshot)
            if snapshot != sent:
                yield snapshot
                sent = snapshot
            if self._draining.is_set():
                return  # the watcher reconnects, to another replica or to this one restarted
            waits = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(self._draining.wait())]
            try:
                await asyncio.wait(waits, timeout=CREDENTIALS_POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()

    async def LookupCredential(self, request, context):
        self._service(context, "LookupCredential")
        return await asyncio.to_thread(self.store.lookup_credential, request.secret_sha256)

    async def LeaseUsage(self, request, context):
        service = self._service(context, "LeaseUsage")
        if self.key_uses is not None:
            self.key_uses.note_reported(request.key_use)
        return await self.leases.lease(service, request)


def actor_of(principal: Principal) -> str:
    """Who acts, for audit events: the signed-in user, or the key (the operator's admin key)."""
    return f"users/{principal.user_id}" if principal.user_id else f"apiKeys/{principal.key_id}"


def member_message(member) -> pb.Member:
    message = pb.Member(name=f"tenants/{member.tenant}/members/{member.user_id}", email=member.email, role=member.role)
    set_timestamp(message.create_time, member.create_time)
    return message


def event_message(event) -> pb.AuditEvent:
    name = f"auditEvents/{event.event_id}"
    message = pb.AuditEvent(
        name=f"tenants/{event.tenant}/{name}" if event.tenant else name,
        kind=event.kind,
        tenant=f"tenants/{event.tenant}" if event.tenant else "",
        actor=event.actor,
        target=event.target,
        details=event.details,
    )
    set_timestamp(message.create_time, event.create_time)
    return message


def register(servicer: AdminServicer, server: grpc.aio.Server) -> None:
    admin_pb2_grpc.add_AdminServiceServicer_to_server(servicer, server)
