"""`maas members` (list, set-role, remove) and `maas audit`: a tenant's people and what they did,
for its owners (signed in: a session token as the key) and the operator (the admin key)."""

from __future__ import annotations

import datetime as dt

from maas.cli.base import add_command, group
from maas.cli.errors import CliError
from maas.cli.output import emit, table, timestamp
from maas.client import MaasClient

ROLES = ("owner", "developer", "viewer", "billing")


def _tenant(args) -> str:
    tenant = args.connection.tenant
    if not tenant:
        raise CliError("which tenant? pass --tenant, set MAAS_TENANT, or save one with `maas login --tenant`")
    return tenant


def _user(client: MaasClient, tenant: str, member: str) -> str:
    """A member's user id from their email (or their id, kept)."""
    if "@" not in member:
        return member.removeprefix("users/")
    for found in client.list_members(tenant):
        if found.email == member.lower():
            return found.name.rsplit("/", 1)[1]
    raise CliError(f"{member} is not a member of tenant {tenant}")


def _rows(members) -> str:
    rows = [(m.email, m.role, m.name.rsplit("/", 1)[1], timestamp(m.create_time)) for m in members]
    return table(("email", "role", "user", "joined"), rows)


def cmd_members_list(args, client: MaasClient) -> int:
    members = client.list_members(_tenant(args))
    emit(args, members, _rows(members))
    return 0


def cmd_members_set_role(args, client: MaasClient) -> int:
    tenant = _tenant(args)
    member = client.set_member_role(tenant, _user(client, tenant, args.member), args.role)
    emit(args, member, f"{member.email} is now {member.role} in {tenant}")
    return 0


def cmd_members_remove(args, client: MaasClient) -> int:
    tenant = _tenant(args)
    member = client.remove_member(tenant, _user(client, tenant, args.member))
    emit(args, member, f"{member.email} removed from {tenant}: their sessions ended, their keys revoked")
    return 0


def since(text: str) -> dt.datetime:
    """`2026-03-01`, `2026-03-01T12:00:00Z`, or an age: `90m`, `12h`, `7d`."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isascii() and text[:-1].isdigit():
        return dt.datetime.now(dt.UTC) - dt.timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--since {text!r}: a date, a time (ISO 8601) or an age like 12h or 7d", 2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def cmd_audit(args, client: MaasClient) -> int:
    tenant = "-" if args.all_tenants else _tenant(args)
    start = since(args.since) if args.since else None
    events = client.list_audit_events(tenant, kind=args.kind or "", since=start, limit=args.limit)
    rows = [
        (
            timestamp(e.create_time),
            e.tenant.removeprefix("tenants/"),
            e.kind,
            e.actor,
            e.target,
            " ".join(f"{k}={v}" for k, v in sorted(e.details.items())),
        )
        for e in events
    ]
    emit(args, events, table(("time", "tenant", "kind", "actor", "target", "details"), rows))
    return 0


def register(commands) -> None:
    members = group(
        commands,
        "members",
        "a tenant's members and their roles (its owners, signed in, or the admin key)",
        "  maas members list --tenant acme\n  maas members set-role bob@example.com viewer --tenant acme\n",
    )
    listing = add_command(
        members,
        "list",
        cmd_members_list,
        help="list the tenant's members with their roles",
        examples="  maas members list --tenant acme\n",
    )
    change = add_command(
        members,
        "set-role",
        cmd_members_set_role,
        help="change a member's role (the last owner cannot be demoted)",
        examples="  maas members set-role bob@example.com owner --tenant acme\n",
    )
    change.add_argument("member", help="the member's email or user id")
    change.add_argument("role", choices=ROLES, help="the new role")
    remove = add_command(
        members,
        "remove",
        cmd_members_remove,
        help="remove a member: their sessions end and the API keys they created are revoked",
        examples="  maas members remove cy@example.com --tenant acme\n",
    )
    remove.add_argument("member", help="the member's email or user id")
    for parser in (listing, change, remove):
        parser.add_argument("--tenant", help="tenant id (default: $MAAS_TENANT or the saved login)")

    audit = add_command(
        commands,
        "audit",
        cmd_audit,
        help="a tenant's audit events, newest first: sign-ins, keys, members, invitations, passwords",
        examples="  maas audit --tenant acme\n  maas audit --tenant acme --kind sign_in_failed --since 24h\n"
        "  maas audit --all-tenants --api-key $ADMIN_KEY -o json\n",
    )
    audit.add_argument("--tenant", help="tenant id (default: $MAAS_TENANT or the saved login)")
    audit.add_argument("--all-tenants", action="store_true", help="every tenant's events (the admin key only)")
    audit.add_argument("--kind", help="only events of this kind (sign_in, api_key_created, member_removed, ...)")
    audit.add_argument("--since", help="only events since a date, a time or an age (12h, 7d)")
    audit.add_argument("--limit", type=int, default=100, help="at most this many events (default 100)")
