"""`maas admin`: tenants, their API keys, invitations and plans, with the platform's admin key."""

from __future__ import annotations

from maas.api.v1 import annotations_pb2 as api_pb
from maas.cli.base import add_command, group
from maas.cli.errors import CliError
from maas.cli.output import emit, fields, note
from maas.client import MaasClient
from maas.gateway.v1 import admin_pb2

_METERS = {
    "rows": admin_pb2.METER_PREDICTION_ROWS,
    "training-seconds": admin_pb2.METER_TRAINING_SECONDS,
    "gb-days": admin_pb2.METER_STORED_GB_DAYS,
}

SCOPES = ("read", "predict", "train")
ROLES = ("owner", "developer", "viewer", "billing")


def cmd_tenant_create(args, client: MaasClient) -> int:
    plan = f"plans/{args.plan.removeprefix('plans/')}" if args.plan else ""
    tenant = client.create_tenant(args.tenant, display_name=args.display_name or "", plan=plan)
    emit(args, tenant, f"{tenant.name} on {tenant.plan}")
    return 0


def cmd_key_create(args, client: MaasClient) -> int:
    created = client.create_api_key(args.tenant, display_name=args.display_name or "", scopes=tuple(args.scope))
    scopes = ", ".join(api_pb.Scope.Name(s).removeprefix("SCOPE_").lower() for s in created.api_key.scopes)
    emit(args, created, fields([("key", created.api_key.name), ("scopes", scopes), ("secret", created.secret)]))
    note("the secret is shown only now: keep it safe")
    return 0


def cmd_invitation_create(args, client: MaasClient) -> int:
    invited = client.create_invitation(args.tenant, args.role)
    emit(args, invited, fields([("role", invited.role), ("token", invited.token)]))
    note("the token is shown only now: pass it on; the invitee registers with it on the console")
    return 0


def cmd_password_reset(args, client: MaasClient) -> int:
    reset = client.create_password_reset(args.email)
    emit(args, reset, fields([("token", reset.token)]))
    note("the token is shown only now: pass it on; it sets a new password once (POST /v1/accounts:resetPassword)")
    return 0


def price(text: str) -> admin_pb2.Price:
    """`rows:1000:200/1000`: 1,000 rows included, then 200 (cents) per 1,000 rows."""
    try:
        meter, included, amount = text.split(":")
        unit_amount, _, per = amount.partition("/")
        return admin_pb2.Price(
            meter=_METERS[meter], included=int(included), unit_amount=int(unit_amount), per_units=int(per or 1)
        )
    except (KeyError, ValueError):
        raise CliError(
            f"--price {text!r}: expected METER:INCLUDED:AMOUNT[/PER] with METER one of {', '.join(_METERS)}, "
            "integers (amounts in cents), e.g. rows:1000:200/1000"
        ) from None


def cmd_plan_create(args, client: MaasClient) -> int:
    plan = client.create_plan(
        args.plan,
        predictions_per_day=args.predictions_per_day,
        requests_per_second=args.requests_per_second,
        burst=args.burst,
        training_seconds_per_month=args.training_seconds_per_month,
        stored_bytes=args.stored_bytes,
        display_name=args.display_name or "",
        monthly_fee=args.monthly_fee,
        currency=args.currency or "",
        prices=[price(text) for text in args.price],
    )
    emit(args, plan, plan.name)
    return 0


def register(commands) -> None:
    admin = group(
        commands,
        "admin",
        "create tenants, their API keys and plans (needs the admin key that `maas up` prints)",
        "  maas admin tenants create acme --api-key $ADMIN_KEY\n  maas admin keys create acme --api-key $ADMIN_KEY\n",
    )
    tenants = group(admin, "tenants", "create tenants", "  maas admin tenants create acme --plan pro\n")
    tenant = add_command(
        tenants,
        "create",
        cmd_tenant_create,
        help="create a tenant",
        examples="  maas admin tenants create acme\n  maas admin tenants create acme --plan pro --display-name Acme\n",
    )
    tenant.add_argument("tenant", help="tenant id: lowercase letters, digits and -")
    tenant.add_argument("--plan", help="plan id (default free)")
    tenant.add_argument("--display-name", help="a readable name")

    keys = group(admin, "keys", "create API keys", "  maas admin keys create acme --scope read --scope predict\n")
    key = add_command(
        keys,
        "create",
        cmd_key_create,
        help="create an API key for a tenant and print its secret (shown only once)",
        examples="  maas admin keys create acme\n"
        "  maas admin keys create acme --scope predict --display-name 'checkout service'\n",
    )
    key.add_argument("tenant", help="tenant id")
    key.add_argument("--scope", action="append", default=[], choices=SCOPES, help="repeat; default: all three")
    key.add_argument("--display-name", help="what the key is for")

    invitations = group(
        admin, "invitations", "invite members to a tenant", "  maas admin invitations create acme --role owner\n"
    )
    invitation = add_command(
        invitations,
        "create",
        cmd_invitation_create,
        help="invite a member (a tenant's first owner, say) and print the token to pass on (shown only once)",
        examples="  maas admin invitations create acme --role owner\n",
    )
    invitation.add_argument("tenant", help="tenant id")
    invitation.add_argument("--role", required=True, choices=ROLES, help="the member's role in the tenant")

    resets = group(admin, "passwords", "reset users' passwords", "  maas admin passwords reset ada@example.com\n")
    reset = add_command(
        resets,
        "reset",
        cmd_password_reset,
        help="print a one-use token that sets a new password for an account (its sessions end when it is used)",
        examples="  maas admin passwords reset ada@example.com\n",
    )
    reset.add_argument("email", help="the account's email")

    plans = group(admin, "plans", "create plans of quotas and rate limits", "  maas admin plans create team\n")
    plan = add_command(
        plans,
        "create",
        cmd_plan_create,
        help="create a plan (0 means unlimited)",
        examples="  maas admin plans create team --predictions-per-day 100000 --requests-per-second 20 --burst 40\n"
        "  maas admin plans create lab --training-seconds-per-month 36000 --stored-bytes 10000000000\n"
        "  maas admin plans create payg --price rows:1000:200/1000    # mixed: 1,000 rows free, then 2.00/1,000\n"
        "  maas admin plans create pro2 --monthly-fee 4900 --price rows:1000000:50/1000   # paid\n",
    )
    plan.add_argument("plan", help="plan id")
    plan.add_argument("--predictions-per-day", type=int, default=0, help="prediction rows per UTC day")
    plan.add_argument("--requests-per-second", type=float, default=0, help="sustained calls per second")
    plan.add_argument("--burst", type=int, default=0, help="calls above the sustained rate")
    plan.add_argument("--training-seconds-per-month", type=int, default=0, help="training time per UTC month")
    plan.add_argument("--stored-bytes", type=int, default=0, help="bytes of datasets and artifacts a tenant may keep")
    plan.add_argument("--display-name", help="a readable name")
    plan.add_argument("--monthly-fee", type=int, default=0, help="fee per UTC month, in the smallest currency unit")
    plan.add_argument("--currency", help="ISO 4217 code (default USD)")
    plan.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="METER:INCLUDED:AMOUNT[/PER]",
        help="repeat per meter (rows, training-seconds, gb-days): units included a month, then AMOUNT per PER units",
    )
