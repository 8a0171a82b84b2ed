"""`maas login`, `maas logout` and `maas usage`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from maas.cli import config
from maas.cli.base import add_command
from maas.cli.errors import CliError, duration
from maas.cli.output import emit, fields, note, size, table
from maas.client import MaasClient


def _read_key() -> str:
    """The key from a hidden prompt on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return getpass.getpass("API key: ").strip()
    return sys.stdin.readline().strip()


def cmd_login(args) -> int:
    saved = config.load()
    settings = {
        "endpoint": config.setting("endpoint", args.endpoint, saved) or config.DEFAULT_ENDPOINT,
        "api_key": config.setting("api_key", args.api_key, saved if args.keep_key else {}) or _read_key(),
        "tenant": config.setting("tenant", args.tenant, saved),
        # Saved absolute, so that commands run from any directory find it.
        "ca_cert": str(Path(ca).resolve()) if (ca := config.setting("ca_cert", args.ca_cert, saved)) else "",
    }
    if not settings["api_key"]:
        raise CliError("no API key given: pass --api-key, set MAAS_API_KEY, or type it at the prompt")
    args.connection = config.Connection(**settings)
    if not args.no_verify:
        # Usage needs the read scope (and, when one is given, the key's own tenant): it checks both.
        with args.connection.client(args.timeout) as client:
            client.get_usage(settings["tenant"] or "-")
    path = config.save(settings)
    tenant = f" as tenant {settings['tenant']}" if settings["tenant"] else ""
    note(f"logged in to {settings['endpoint']}{tenant}; saved to {path}")
    return 0


def cmd_logout(args) -> int:
    saved = config.load()
    saved.pop("api_key", None)
    path = config.save(saved)
    note(f"API key removed from {path}")
    return 0


def _against(used, limit: int, limit_text: str) -> str:
    """`12 of 100 a day`, or `12 (no limit)` when the plan sets none."""
    return f"{used} of {limit_text}" if limit else f"{used} (no limit)"


def _history(args, client: MaasClient) -> int:
    history = client.get_usage_history(args.connection.tenant or "-", args.days)
    most = max((day.predictions for day in history.days), default=0) or 1
    rows = [
        (day.day, day.predictions, day.prediction_calls, day.requests, "#" * round(40 * day.predictions / most))
        for day in history.days
    ]
    emit(args, history, table(("day", "rows", "calls", "requests", ""), rows))
    return 0


def cmd_usage(args, client: MaasClient) -> int:
    if args.history:
        return _history(args, client)
    usage = client.get_usage(args.connection.tenant or "-", args.day or "")
    tenant = usage.name.removeprefix("tenants/").removesuffix("/usage")
    plan = usage.plan
    rate = f"{plan.requests_per_second:g}/s, burst {plan.burst}" if plan.requests_per_second else "unlimited"
    human = fields(
        [
            ("tenant", tenant),
            ("day", f"{usage.day} (UTC)"),
            ("plan", f"{plan.name.removeprefix('plans/')} ({plan.display_name})" if plan.display_name else plan.name),
            (
                "predictions",
                _against(f"{usage.predictions} rows", plan.predictions_per_day, f"{plan.predictions_per_day} a day")
                + f" in {usage.prediction_calls} call{'' if usage.prediction_calls == 1 else 's'}",
            ),
            ("this month", f"{usage.month_predictions} prediction rows (billed: maas invoices show)"),
            ("requests", f"{usage.requests} (rate limit {rate})"),
            (
                "training",
                _against(
                    duration(usage.training_seconds),
                    plan.training_seconds_per_month,
                    f"{duration(plan.training_seconds_per_month)} this month",
                ),
            ),
            ("storage", _against(size(usage.stored_bytes), plan.stored_bytes, size(plan.stored_bytes))),
        ]
    )
    emit(args, usage, human)
    return 0


def register(commands) -> None:
    login = add_command(
        commands,
        "login",
        cmd_login,
        help="save the gateway endpoint, your API key and tenant for the other commands",
        description="Check the API key against the gateway and save endpoint, key and tenant in "
        "$MAAS_CONFIG_DIR/config.json (default $XDG_CONFIG_HOME/maas or ~/.config/maas; mode 0600). "
        "Flags and MAAS_ENDPOINT / MAAS_API_KEY / MAAS_TENANT override the saved values in every command. "
        "Without --api-key or MAAS_API_KEY the key is read from a prompt (or stdin).",
        examples="  maas login --endpoint 127.0.0.1:50051 --tenant acme --api-key maas_...\n"
        "  maas login --tenant acme                # prompts for the key\n"
        "  echo $KEY | maas login --endpoint https://maas.example.com:443 --tenant acme\n"
        "  maas login --endpoint https://10.0.0.5:50051 --ca-cert ca.pem --tenant acme\n",
        connects=False,
    )
    login.add_argument("--endpoint", help="gateway host:port (default: $MAAS_ENDPOINT, the saved one, or local)")
    login.add_argument("--api-key", help="the API key (default: $MAAS_API_KEY, else a prompt)")
    login.add_argument("--tenant", help="your tenant id (optional: a key knows its tenant)")
    login.add_argument("--ca-cert", help="PEM file of the CA of a TLS gateway with a private certificate")
    login.add_argument("--keep-key", action="store_true", help="keep the saved key, change only the other values")
    login.add_argument("--no-verify", action="store_true", help="save without checking the key with the gateway")
    login.add_argument("--timeout", type=float, default=30, help="seconds to wait for the check (default 30)")

    add_command(
        commands,
        "logout",
        cmd_logout,
        help="forget the saved API key",
        examples="  maas logout\n",
        connects=False,
    )

    usage = add_command(
        commands,
        "usage",
        cmd_usage,
        help="your tenant's metered prediction rows and calls of a day against its plan, or per day",
        examples="  maas usage\n  maas usage --day 2025-01-31 -o json\n  maas usage --history --days 7\n",
    )
    usage.add_argument("--tenant", help="tenant id (default: $MAAS_TENANT, the saved login, or the key's own)")
    usage.add_argument("--day", help="UTC day as YYYY-MM-DD (default today)")
    usage.add_argument("--history", action="store_true", help="each UTC day's rows and calls, oldest first")
    usage.add_argument("--days", type=int, default=0, help="with --history: how many days back (default 30)")
