"""The billing RPCs of the admin API (mixed into `AdminServicer`): invoices, plan changes and usage
history; the domain is in `billing.py` and `invoicing.py`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2 as pb
from services.common.credentials import authorize
from services.common.errors import InvalidArgument, PermissionDenied
from services.common.validation import parse_name
from services.gateway import billing
from services.gateway.accounts import USAGE_ROLES
from services.gateway.invoicing import Invoicer

if TYPE_CHECKING:
    import grpc

    from services.common.credentials import Principal
    from services.gateway.auth import Authenticator
    from services.gateway.store import GatewayStore

_SERVICE = "maas.gateway.v1.AdminService"


class BillingRpcs:
    """Needs `self.auth`, `self.store`, `self.invoicer`, `self._admin_or_owner`, `self._record` (audit) and
    `self.notify_changed`."""

    invoicer: Invoicer
    auth: Authenticator
    store: GatewayStore
    if TYPE_CHECKING:  # AdminServicer's

        async def _admin_or_owner(
            self, context: grpc.aio.ServicerContext, method: str, name: str, field: str
        ) -> Principal: ...

        async def _record(self, kind: str, tenant_id: str, principal: Principal, target: str, **details) -> None: ...

        async def notify_changed(self) -> None: ...

    async def _reader(self, context, method: str, name, roles: frozenset[str] | None = None) -> str:
        """The tenant whose usage or invoices the caller reads, from `name()` (parsed once the caller is
        authenticated): any for the admin key; its own for a key with `read`, or for a session whose role
        is in `roles` (any role with `read` when None). `-` is the caller's own tenant."""
        principal = await self.auth.authenticate(context.invocation_metadata())
        if principal.role is not None and roles is not None:
            if principal.role not in roles:
                raise PermissionDenied(f"{method} is for the tenant's {' and '.join(sorted(roles))} members")
        elif principal.tenant is not None and principal.role not in USAGE_ROLES:
            authorize(principal, api_pb.Scope.SCOPE_READ, f"{_SERVICE}/{method}")
        tenant_id = name()
        if tenant_id == "-":
            if principal.tenant is None:
                raise InvalidArgument("name: the admin key has no tenant of its own; name the tenant")
            tenant_id = principal.tenant
        if principal.tenant not in (None, tenant_id):
            raise PermissionDenied(f"a tenant's key or session reads only that tenant's billing ({method})")
        await asyncio.to_thread(self.store.get_tenant, tenant_id)
        return tenant_id

    async def GetInvoice(self, request, context):
        tenant_id = await self._reader(
            context, "GetInvoice", lambda: parse_name(request.name, ("tenants", None, "invoices", None))[0], USAGE_ROLES
        )
        month = request.name.rsplit("/", 1)[1]
        if month == "current":
            month = billing.month_of(self.invoicer.clock().date())
        return await asyncio.to_thread(self.invoicer.invoice, tenant_id, month)

    async def ListInvoices(self, request, context):
        tenant_id = await self._reader(
            context, "ListInvoices", lambda: parse_name(request.parent, ("tenants", None), "parent")[0], USAGE_ROLES
        )
        return pb.ListInvoicesResponse(invoices=await asyncio.to_thread(self.invoicer.invoices, tenant_id))

    async def GetUsageHistory(self, request, context):
        tenant_id = await self._reader(
            context, "GetUsageHistory", lambda: parse_name(request.name, ("tenants", None, "usage"))[0]
        )
        days = await asyncio.to_thread(self.invoicer.history, tenant_id, request.days)
        return pb.UsageHistory(name=f"tenants/{tenant_id}/usage", days=days)

    async def SetBudget(self, request, context):
        principal = await self._admin_or_owner(context, "SetBudget", request.budget.name, "name")
        (tenant_id,) = parse_name(request.budget.name, ("tenants", None, "budget"), "budget.name")
        amount = await asyncio.to_thread(self.store.set_budget, tenant_id, request.budget.monthly_amount)
        await self._record("budget_set", tenant_id, principal, request.budget.name, monthly_amount=amount)
        draft = await asyncio.to_thread(
            self.invoicer.invoice, tenant_id, billing.month_of(self.invoicer.clock().date())
        )
        return draft.budget

    async def ChangePlan(self, request, context):
        principal = await self._admin_or_owner(context, "ChangePlan", request.name, "name")
        (tenant_id,) = parse_name(request.name, ("tenants", None))
        moment = self.invoicer.clock()
        before = (await asyncio.to_thread(self.store.get_tenant, tenant_id)).plan
        tenant = await asyncio.to_thread(self.store.change_plan, tenant_id, request.plan, moment)
        day = moment.date().isoformat()
        await self._record(
            "plan_changed", tenant_id, principal, request.name, plan=request.plan, before=before, day=day
        )
        await self.notify_changed()
        return tenant
