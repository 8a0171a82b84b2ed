"""Billing on real servers: predictions counted in rows (a daily quota in rows stays exact), a tenant on
a mixed plan invoiced for exactly its rows beyond the allowance, the month's invoice issued once, an
upgrade mid-month prorated by day (the gateway's billing clock is injected: nothing sleeps), over gRPC,
REST and the CLI."""

import csv
import datetime as dt
import io

import grpc
import httpx
import numpy as np
import pytest

from maas.cli import main
from maas.gateway.v1 import admin_pb2 as apb
from maas.inference.v2 import grpc_service_pb2_grpc
from maas.registry.v1 import registry_pb2_grpc
from services.gateway import billing
from tests.integration.gateway_stack import ADMIN, bearer, gateway_stack
from tests.integration.test_gateway_rest import http_port
from tests.integration.test_inference_service import FEATURES, infer_request, register, set_production, tiny_model
from tests.pdf import pdf_text

pytestmark = pytest.mark.slow
ROWS = apb.METER_PREDICTION_ROWS
# 1,000 rows a month free, then 2.00 per 1,000 rows.
PAYG = apb.Plan(
    display_name="Pay as you go", prices=[apb.Price(meter=ROWS, included=1000, unit_amount=200, per_units=1000)]
)
# 30.00 a month with 10,000 rows, then 1.00 per 1,000.
TEAM = apb.Plan(
    display_name="Team",
    monthly_fee=3000,
    prices=[apb.Price(meter=ROWS, included=10_000, unit_amount=100, per_units=1000)],
)


class Clock:
    def __init__(self) -> None:
        self.moment = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.moment


@pytest.fixture
def stack(data_dir, tmp_path):
    """A stack serving acme's model `tiny` (acme is created by each test, on its plan)."""
    with gateway_stack(data_dir, inference=True) as stack:
        with grpc.insecure_channel(stack.registry.address) as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            register(registry, tiny_model(1), tmp_path)
            set_production(registry, 1)
        yield stack


def predict(stack, secret: str, rows: int) -> grpc.StatusCode:
    infer = grpc_service_pb2_grpc.GRPCInferenceServiceStub(stack.channel).ModelInfer
    try:
        infer(infer_request(np.zeros((rows, FEATURES))), metadata=bearer(secret), timeout=60)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_a_daily_quota_in_rows_admits_whole_calls_exactly(stack):
    # 3,000 rows a day: more than one replica's largest lease in a single call, still exact.
    secret = stack.tenant("acme", stack.plan("rows", predictions_per_day=3000))
    assert predict(stack, secret, 1500) == grpc.StatusCode.OK
    assert predict(stack, secret, 1400) == grpc.StatusCode.OK
    assert predict(stack, secret, 200) == grpc.StatusCode.RESOURCE_EXHAUSTED  # 100 left: refused whole
    assert predict(stack, secret, 100) == grpc.StatusCode.OK
    assert predict(stack, secret, 1) == grpc.StatusCode.RESOURCE_EXHAUSTED
    usage = stack.usage("acme", predictions=3000, prediction_calls=3)
    assert (usage.predictions, usage.prediction_calls) == (3000, 3)


def stream_infer(stack, secret: str, requests) -> tuple[list, grpc.StatusCode]:
    """ModelStreamInfer: its answers, and how the stream ended."""
    stream = grpc_service_pb2_grpc.GRPCInferenceServiceStub(stack.channel).ModelStreamInfer
    answers = []
    try:
        for answer in stream(iter(requests), metadata=bearer(secret), timeout=60):
            answers.append(answer)
    except grpc.RpcError as error:
        return answers, error.code()
    return answers, grpc.StatusCode.OK


def test_a_stream_of_predictions_counts_every_messages_rows(stack):
    # ModelStreamInfer counts like ModelInfer: each message its rows (and a call), not one per stream.
    secret = stack.tenant("acme", stack.plan("rows", predictions_per_day=100))
    bad = infer_request(np.zeros((4, FEATURES)))
    bad.model_name = "nope"
    messages = [infer_request(np.zeros((rows, FEATURES))) for rows in (30, 20)]
    answers, code = stream_infer(stack, secret, [messages[0], bad, messages[1]])
    assert code == grpc.StatusCode.OK and len(answers) == 3, answers
    assert [bool(a.error_message) for a in answers] == [False, True, False]  # an error answer is refunded
    usage = stack.usage("acme", predictions=50, prediction_calls=2)
    assert (usage.predictions, usage.prediction_calls) == (50, 2)
    # 50 rows left today: the first message of 40 is answered, the next (of 40) ends the stream, refused.
    answers, code = stream_infer(stack, secret, [infer_request(np.zeros((40, FEATURES)))] * 3)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and len(answers) == 1 and not answers[0].error_message
    assert predict(stack, secret, 10) == grpc.StatusCode.OK  # exactly the 10 left
    assert predict(stack, secret, 1) == grpc.StatusCode.RESOURCE_EXHAUSTED
    usage = stack.usage("acme", predictions=100, prediction_calls=4)
    assert (usage.predictions, usage.prediction_calls) == (100, 4)


def test_a_mixed_plan_invoices_its_rows_and_an_upgrade_is_prorated_by_day(stack, monkeypatch, tmp_path, capsys):
    stack.plan("payg", **{f.name: v for f, v in PAYG.ListFields()})
    stack.plan("team", **{f.name: v for f, v in TEAM.ListFields()})
    secret = stack.tenant("acme", "plans/payg")
    clock = Clock()
    stack.gateway.server.bindings[0].servicer.invoicer.clock = clock
    # 2,500 rows in 4 calls (the free plan's daily quota is 10,000 rows).
    assert [predict(stack, secret, rows) for rows in (1000, 1000, 499, 1)] == [grpc.StatusCode.OK] * 4
    usage = stack.usage("acme", predictions=2500, prediction_calls=4)
    assert (usage.predictions, usage.prediction_calls, usage.month_predictions) == (2500, 4, 2500)

    month = billing.month_of(clock.moment.date())
    invoice = stack.admin.GetInvoice(apb.GetInvoiceRequest(name="tenants/-/invoices/current"), metadata=bearer(secret))
    assert invoice.name == f"tenants/acme/invoices/{month}" and invoice.state == apb.INVOICE_STATE_DRAFT
    lines = [(line.plan, line.meter, line.quantity, line.included, line.unit_amount, line.per_units, line.amount)
             for line in invoice.lines]  # fmt: skip
    assert lines == [("plans/payg", ROWS, 2500, 1000, 200, 1000, 300)]
    assert (invoice.total, invoice.currency) == (300, "USD")
    # The running total's rows are GetUsage's, to the unit.
    assert invoice.lines[0].quantity == usage.month_predictions

    # A budget of 3.50: the 3.00 so far reach 80 % of it.
    budget = apb.Budget(name="tenants/acme/budget", monthly_amount=350)
    assert stack.admin.SetBudget(apb.SetBudgetRequest(budget=budget), metadata=ADMIN).reached_percent == 80

    # The REST twin answers the same invoice.
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}") as http:
        rest = http.get(f"/v1/tenants/acme/invoices/{month}", headers={"authorization": f"Bearer {secret}"})
        pdf = http.get(f"/v1/tenants/-/invoices/{month}:pdf", headers={"authorization": f"Bearer {secret}"})
        other_pdf = http.get(f"/v1/tenants/other/invoices/{month}:pdf", headers={"authorization": f"Bearer {secret}"})
        anonymous = http.get(f"/v1/tenants/acme/invoices/{month}:pdf")
    assert rest.status_code == 200 and rest.json()["total"] == "300"
    # ... and as PDF, with its lines and total (the same bytes as `maas invoices show --pdf`).
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text
    assert f'filename="invoice-{month}.pdf"' in pdf.headers["content-disposition"]
    text = pdf_text(pdf.content)
    assert f"tenants/acme/invoices/{month}" in text and "3.00 USD" in text and "2500" in text, text
    assert other_pdf.status_code == 403 and other_pdf.json()["error"]["code"] == 7, other_pdf.text
    assert anonymous.status_code == 401

    # After the month (and the replicas' last reports): issued, once.
    last = billing.month_days(month)[1]
    following = last + dt.timedelta(days=1)
    clock.moment = dt.datetime.combine(following, dt.time(1), dt.UTC)
    issued = stack.admin.GetInvoice(apb.GetInvoiceRequest(name=f"tenants/acme/invoices/{month}"), metadata=ADMIN)
    assert issued.state == apb.INVOICE_STATE_ISSUED and list(issued.lines) == list(invoice.lines)

    # An upgrade on the 16th of the next month: its fee and allowances are prorated by day.
    clock.moment = dt.datetime.combine(following.replace(day=16), dt.time(12), dt.UTC)
    stack.admin.ChangePlan(apb.ChangePlanRequest(name="tenants/acme", plan="plans/team"), metadata=ADMIN)
    next_month = billing.month_of(following)
    days = billing.month_days(next_month)[1].day
    upgraded = stack.admin.GetInvoice(apb.GetInvoiceRequest(name="tenants/acme/invoices/current"), metadata=ADMIN)
    assert upgraded.month == next_month
    fee = (2 * 3000 * (days - 15) + days) // (2 * days)  # 30.00 for days 16 to the end, rounded half up
    assert [(line.plan, line.meter, line.quantity, line.included, line.amount) for line in upgraded.lines] == [
        ("plans/payg", ROWS, 0, 1000 * 15 // days, 0),
        ("plans/team", apb.METER_UNSPECIFIED, days - 15, 0, fee),
        ("plans/team", ROWS, 0, 10_000 * (days - 15) // days, 0),
    ]
    assert upgraded.total == fee
    # The issued month is untouched; both are listed, the draft first.
    listed = stack.admin.ListInvoices(apb.ListInvoicesRequest(parent="tenants/acme"), metadata=ADMIN).invoices
    assert [(i.month, i.state, i.total) for i in listed] == [
        (next_month, apb.INVOICE_STATE_DRAFT, fee),
        (month, apb.INVOICE_STATE_ISSUED, 300),
    ]

    # Each is an audit event of the tenant, as are its creation by the operator and its key's.
    events = stack.admin.ListAuditEvents(apb.ListAuditEventsRequest(parent="tenants/acme"), metadata=ADMIN).events
    kinds = {"budget_set", "budget_reached", "invoice_issued", "plan_changed", "tenant_created", "api_key_created"}
    assert kinds <= {event.kind for event in events}
    (created,) = [event for event in events if event.kind == "tenant_created"]
    assert created.target == "tenants/acme" and created.actor.startswith("apiKeys/"), created

    # The CLI shows and exports it.
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    connection = ["--endpoint", stack.gateway.address, "--api-key", secret]
    assert main(["invoices", "show", month, "--csv", "-", *connection]) == 0
    exported = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["description"], row["quantity"], row["amount"]) for row in exported] == [
        (invoice.lines[0].description, "2500", "300"),
        ("total", "", "300"),
    ]
    pdf_path = tmp_path / "invoice.pdf"
    assert main(["invoices", "show", month, "--pdf", str(pdf_path), *connection]) == 0
    assert "issued" in pdf_text(pdf_path.read_bytes())
    assert main(["invoices", "list", *connection]) == 0
    assert "3.00 USD" in capsys.readouterr().out
    # A key of another tenant reads none of it.
    other = stack.tenant("initech", "plans/free")
    with pytest.raises(grpc.RpcError) as error:
        stack.admin.GetInvoice(apb.GetInvoiceRequest(name=f"tenants/acme/invoices/{month}"), metadata=bearer(other))
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_usage_history_and_the_cli(stack, monkeypatch, tmp_path, capsys):
    secret = stack.tenant("acme", "plans/free")
    assert predict(stack, secret, 7) == grpc.StatusCode.OK
    stack.usage("acme", predictions=7)
    history = stack.admin.GetUsageHistory(
        apb.GetUsageHistoryRequest(name="tenants/-/usage", days=3), metadata=bearer(secret)
    )
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert [(d.day == today, d.predictions, d.prediction_calls) for d in history.days][-1] == (True, 7, 1)
    assert len(history.days) == 3
    # The REST twins of the history and of a budget.
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}") as http:
        rest = http.get("/v1/tenants/acme/usage:history?days=2", headers={"authorization": f"Bearer {secret}"})
        assert rest.status_code == 200 and rest.json()["days"][-1]["predictions"] == "7"
        admin = {"authorization": f"Bearer {ADMIN[0][1].removeprefix('Bearer ')}"}
        budget = http.patch("/v1/tenants/acme/budget", json={"monthlyAmount": "1000"}, headers=admin)
        assert budget.status_code == 200 and budget.json()["monthlyAmount"] == "1000"
        refused = http.patch("/v1/tenants/acme/budget", json={"monthlyAmount": "-5"}, headers=admin)
        assert refused.status_code == 400
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    connection = ["--endpoint", stack.gateway.address, "--api-key", secret]
    assert main(["usage", *connection]) == 0
    out = capsys.readouterr().out
    assert "7 rows of 10000 a day in 1 call" in out
    assert main(["usage", "--history", "--days", "2", *connection]) == 0
    assert today in capsys.readouterr().out
