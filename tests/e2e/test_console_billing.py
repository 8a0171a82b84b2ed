"""The console's billing in a real browser against the live stack: the Usage page's 30-day chart
(and its table) counting the rows and calls made through the SDK, the plan's limits in human units,
the running month's invoice with its lines, total and the CLI's CSV and PDF, and the budget banner at 80 %
and 100 %; screenshots wide and light, narrow and dark, and no serious or critical axe violation."""

import datetime as dt
import time

import numpy as np
import pytest

from maas.cli.billing import csv_text, invoice_pdf
from maas.client import MaasClient
from maas.gateway.v1 import admin_pb2 as apb
from tests.e2e.conftest import tenant_with_digits
from tests.e2e.test_console import axe_violations, shot, signed_in_context
from tests.pdf import pdf_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TENANT = "billing-ui"
# 0.10 per prediction row from the first one, so that a few predictions make a spend; 5 calls a
# second with bursts of 10, 1,000 rows a day, an hour of training, 1 GiB: the limits shown in words.
ROW_PRICE = apb.Price(meter=apb.METER_PREDICTION_ROWS, included=0, unit_amount=10, per_units=1)
LIMITS = dict(
    predictions_per_day=1000, requests_per_second=5, burst=10, training_seconds_per_month=3600, stored_bytes=1 << 30
)
CALLS = (50, 50, 20)  # 120 rows in 3 calls: 12.00 USD


@pytest.fixture(scope="module")
def spender(stack, journey):
    """A tenant on the priced plan that has scored `CALLS` through the SDK; returns its key."""
    key = tenant_with_digits(
        stack, journey, TENANT, "rows-priced", prices=[ROW_PRICE], display_name="Metered", **LIMITS
    )
    with MaasClient(stack.address("gateway"), key) as client:
        for rows in CALLS:
            client.predict("digits", np.zeros((rows, 64), dtype=np.float32))
        # Replicas report their counts every few seconds: wait until usage shows every row.
        deadline = time.monotonic() + 60
        while client.get_usage().predictions < sum(CALLS):
            assert time.monotonic() < deadline, client.get_usage()
            time.sleep(0.5)
    return key


def set_budget(stack, amount: int) -> None:
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        admin.set_budget(TENANT, amount)


def open_page(browser, stack, key, route, ready, viewport=(1280, 800), scheme="light"):
    context = signed_in_context(browser, stack, key, viewport, scheme)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"/#/{route}")
    page.locator(ready).first.wait_for()
    return context, page


def test_the_usage_chart_counts_the_rows_and_calls_made_through_the_sdk(browser, stack, spender):
    set_budget(stack, 0)  # none (another test of the module may have set one)
    context, page = open_page(browser, stack, spender, "usage", "#usage-history .chart canvas")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    chart = page.locator("#usage-history .chart")
    assert chart.get_attribute("data-points") == "30" and chart.get_attribute("data-series") == "2"
    assert "120 rows in 3 calls" in chart.get_attribute("aria-label"), chart.get_attribute("aria-label")
    page.click("#usage-history summary")  # the figures per day, newest first
    first = page.locator("#usage-history details tbody tr").first.locator("td").all_inner_texts()
    assert first[:3] == [today, "120", "3"], first
    assert page.locator("#usage-history details tbody tr").count() == 30
    page.locator("#usage").wait_for()
    today_figures = page.inner_text("#usage")
    for words in ("120 of 1,000", "Prediction calls today\n3", "0 s of 1 h 0 min", "of 1.0 GiB"):
        assert words in today_figures, (words, today_figures)
    limits = page.inner_text("#plan-limits")
    for words in ("Metered", "1,000 rows", "5 calls a second", "10 calls", "1 h", "1.0 GiB"):
        assert words in limits, (words, limits)
    assert page.locator("#budget-banner").count() == 0  # no budget yet
    context.close()


def test_the_invoice_its_csv_and_the_budget_banner(browser, stack, spender, tmp_path):
    context, page = open_page(browser, stack, spender, "invoices", ".invoice[data-state='draft']")
    draft = page.locator(".invoice[data-state='draft']")
    line = draft.locator("tbody tr", has_text="prediction rows").locator("td").all_inner_texts()
    assert line[0] == "prediction rows (0 included)" and line[2:] == ["120", "0.10 USD per 1", "12.00 USD"], line
    assert "Total 12.00 USD" in draft.locator(".invoice-total").inner_text()
    with page.expect_download() as download:
        draft.locator("a.download").click()
    path = tmp_path / "invoice.csv"
    download.value.save_as(path)
    with MaasClient(stack.address("gateway"), spender) as client:
        invoice = client.get_invoice()
        assert path.read_text() == csv_text(invoice)  # what `maas invoices show --csv` writes
    with page.expect_download() as download:
        draft.locator("button.download-pdf").click()
    assert download.value.suggested_filename == f"invoice-{invoice.month}.pdf"
    pdf = tmp_path / "invoice.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes() == invoice_pdf(invoice)  # what `maas invoices show --pdf` writes
    assert "12.00 USD" in pdf_text(pdf.read_bytes())

    # A budget the spend is past 80 % of (12.00 of 14.00), then one it is past (12.00 of 10.00).
    set_budget(stack, 1400)
    page.goto("/#/datasets")
    banner = page.locator("#budget-banner")
    # The banner is read again on each page change: wait for this budget's, not one set before.
    page.locator("#budget-banner[data-reached='80']").wait_for()
    assert "80 %" in banner.inner_text(), banner.inner_text()
    set_budget(stack, 1000)
    page.click("a[href='#/models']")  # every page: it is read again on each page change
    page.locator("#budget-banner[data-reached='100']").wait_for()
    assert "12.00 USD of 10.00 USD" in banner.inner_text(), banner.inner_text()
    context.close()


@pytest.mark.parametrize(("viewport", "scheme"), [((1280, 800), "light"), ((390, 844), "dark")])
def test_billing_screens_and_accessibility(browser, stack, spender, viewport, scheme):
    set_budget(stack, 1000)
    violations = []
    for route, ready in (("usage", "#usage-history .chart canvas"), ("invoices", ".invoice a.download")):
        context, page = open_page(browser, stack, spender, route, ready, viewport, scheme)
        page.locator("#budget-banner").wait_for()
        if route == "usage":
            page.locator("#plan-limits").wait_for()  # the day's figures have arrived as well
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport[0], f"{route} is {width} px wide at {viewport[0]} px"
        where = f"{route}-{viewport[0]}x{viewport[1]}-{scheme}"
        shot(page, f"30-billing-{where}")
        violations += [f"{where}: {v}" for v in axe_violations(page)]
        context.close()
    assert not violations, "\n".join(violations)
