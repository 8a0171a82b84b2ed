"""`maas invoices` (list, show, CSV and PDF export) and `maas plan change`: what a tenant's plan bills."""

from __future__ import annotations

import csv
import io
import sys

from maas.cli.base import add_command, group
from maas.cli.output import emit, fields, note, table
from maas.client import MaasClient
from maas.gateway.v1 import admin_pb2
from services.gateway.invoice_pdf import pdf_document

# ISO 4217 currencies without minor units; every other amount is in hundredths.
_NO_MINOR_UNIT = frozenset({"JPY", "KRW", "ISK", "CLP", "VND"})
_METERS = {
    admin_pb2.METER_PREDICTION_ROWS: "prediction rows",
    admin_pb2.METER_TRAINING_SECONDS: "training seconds",
    admin_pb2.METER_STORED_GB_DAYS: "stored GB-days",
}
_STATES = {admin_pb2.INVOICE_STATE_DRAFT: "draft", admin_pb2.INVOICE_STATE_ISSUED: "issued"}
CSV_HEADER = (
    "month", "state", "description", "plan", "meter", "start_day", "end_day",
    "quantity", "included", "unit_amount", "per_units", "amount", "currency",
)  # fmt: skip


def money(amount: int, currency: str) -> str:
    """An amount in the currency's smallest unit, written with its decimals (integers only)."""
    if currency in _NO_MINOR_UNIT:
        return f"{amount:,} {currency}"
    return f"{amount // 100:,}.{amount % 100:02d} {currency}"


def csv_text(invoice: admin_pb2.Invoice) -> str:
    """The invoice as CSV: one row per line, then the total; amounts in the smallest currency unit."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    state = _STATES.get(invoice.state, "")
    for line in invoice.lines:
        writer.writerow(
            (invoice.month, state, line.description, line.plan, _METERS.get(line.meter, "fee"), line.start_day,
             line.end_day, line.quantity, line.included, line.unit_amount, line.per_units, line.amount,
             invoice.currency)
        )  # fmt: skip
    writer.writerow((invoice.month, state, "total", "", "", "", "", "", "", "", "", invoice.total, invoice.currency))
    return out.getvalue()


def invoice_text(invoice: admin_pb2.Invoice) -> str:
    """The invoice as `maas invoices show` prints it: who, state, budget, then a table of lines."""
    rows: list[tuple[str, str, str, int | str, str, str]] = [
        (
            line.description,
            line.plan.removeprefix("plans/"),
            f"{line.start_day}..{line.end_day}",
            line.quantity,
            f"{money(line.unit_amount, invoice.currency)} / {line.per_units}" if line.meter else "",
            money(line.amount, invoice.currency),
        )
        for line in invoice.lines
    ]
    rows.append(("total", "", "", "", "", money(invoice.total, invoice.currency)))
    budget = invoice.budget
    spent = (
        f"{money(budget.monthly_amount, invoice.currency)} ({budget.reached_percent or 'under 80'} % reached)"
        if budget.monthly_amount
        else ""
    )
    head = fields([("invoice", invoice.name), ("state", _STATES.get(invoice.state, "")), ("budget", spent)])
    return head + "\n\n" + table(("line", "plan", "days", "quantity", "price", "amount"), rows)


def invoice_pdf(invoice: admin_pb2.Invoice) -> bytes:
    """The invoice as PDF: a heading, then the text `maas invoices show` prints (the REST
    twin's `:pdf` path and the console's download serve these same bytes)."""
    title = f"Invoice {invoice.month}, {invoice.name.split('/')[1] if '/' in invoice.name else invoice.name}"
    return pdf_document([title, "", *invoice_text(invoice).splitlines()], title=title)


def _export(path: str, data: str | bytes, name: str) -> None:
    """`data` to the file at `path`, or to stdout for `-` (bytes to its binary stream)."""
    if path == "-":
        if isinstance(data, str):
            sys.stdout.write(data)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return
    with open(path, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)
    note(f"{name} written to {path}")


def cmd_invoice_show(args, client: MaasClient) -> int:
    invoice = client.get_invoice(args.tenant or args.connection.tenant or "-", args.month)
    if args.csv or args.pdf:
        if args.csv:
            _export(args.csv, csv_text(invoice), invoice.name)
        if args.pdf:
            _export(args.pdf, invoice_pdf(invoice), invoice.name)
        return 0
    emit(args, invoice, invoice_text(invoice))
    return 0


def cmd_invoice_list(args, client: MaasClient) -> int:
    tenant = args.tenant or args.connection.tenant
    if not tenant:
        usage = client.get_usage("-")
        tenant = usage.name.removeprefix("tenants/").removesuffix("/usage")
    invoices = client.list_invoices(tenant)
    rows = [(i.month, _STATES.get(i.state, ""), len(i.lines), money(i.total, i.currency)) for i in invoices]
    emit(args, invoices, table(("month", "state", "lines", "total"), rows))
    return 0


def cmd_plan_change(args, client: MaasClient) -> int:
    tenant = client.change_plan(args.tenant or args.connection.tenant, args.plan)
    emit(args, tenant, f"{tenant.name} is on {tenant.plan} from today (UTC); this month is prorated by day")
    return 0


def cmd_budget_set(args, client: MaasClient) -> int:
    budget = client.set_budget(args.tenant or args.connection.tenant, args.amount)
    emit(args, budget, f"{budget.name}: {budget.monthly_amount} a month; {budget.reached_percent} % reached")
    return 0


def register(commands) -> None:
    invoices = group(
        commands,
        "invoices",
        "your tenant's invoices: the running month's draft and the issued ones",
        "  maas invoices list\n  maas invoices show\n  maas invoices show 2026-11 --csv november.csv\n"
        "  maas invoices show 2026-11 --pdf november.pdf\n",
    )
    listing = add_command(
        invoices,
        "list",
        cmd_invoice_list,
        help="list the invoices, newest month first",
        examples="  maas invoices list\n  maas invoices list --tenant acme -o json\n",
    )
    listing.add_argument("--tenant", help="tenant id (default: $MAAS_TENANT, the saved login, or the key's own)")
    show = add_command(
        invoices,
        "show",
        cmd_invoice_show,
        help="show an invoice's lines and total, or export it as CSV or PDF",
        examples="  maas invoices show\n  maas invoices show 2026-11\n  maas invoices show 2026-11 --csv - > nov.csv\n",
    )
    show.add_argument("month", nargs="?", default="current", help="YYYY-MM (default: the running month)")
    show.add_argument("--tenant", help="tenant id (default: $MAAS_TENANT, the saved login, or the key's own)")
    show.add_argument("--csv", metavar="FILE", help="write the invoice as CSV to FILE (- for stdout)")
    show.add_argument("--pdf", metavar="FILE", help="write the invoice as PDF to FILE (- for stdout)")

    plan = group(commands, "plan", "change your tenant's plan", "  maas plan change pro --tenant acme\n")
    change = add_command(
        plan,
        "change",
        cmd_plan_change,
        help="move a tenant to another plan from today (UTC), prorated by day (an owner or the admin key)",
        examples="  maas plan change pro --tenant acme\n",
    )
    change.add_argument("plan", help="plan id")
    budget = add_command(
        plan,
        "budget",
        cmd_budget_set,
        help="set a tenant's monthly budget (smallest currency unit; 0: none); reaching 80 and 100 percent are events",
        examples="  maas plan budget 5000 --tenant acme      # 50.00\n",
    )
    budget.add_argument("amount", type=int, help="the budget, in cents (or the currency's smallest unit)")
    budget.add_argument("--tenant", help="tenant id (default: $MAAS_TENANT or the saved login)")
    change.add_argument("--tenant", required=False, help="tenant id (default: $MAAS_TENANT or the saved login)")
