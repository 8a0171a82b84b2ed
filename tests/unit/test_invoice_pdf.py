"""The dependency-free PDF writer and the invoice laid out with it: a file a strict reader accepts
(header, every xref offset at its object, stream lengths), its text, its pages and its escapes."""

import pytest

from maas.cli.billing import invoice_pdf, invoice_text
from maas.gateway.v1 import admin_pb2 as apb
from services.gateway.invoice_pdf import CHARS_PER_LINE, LINES_PER_PAGE, pdf_document
from tests.pdf import pdf_objects, pdf_pages, pdf_text

INVOICE = apb.Invoice(
    name="tenants/acme/invoices/2026-11",
    month="2026-11",
    state=apb.INVOICE_STATE_ISSUED,
    currency="USD",
    total=3300,
    lines=[
        apb.InvoiceLine(description="Team (monthly fee)", plan="plans/team", start_day="2026-11-01",
                        end_day="2026-11-30", quantity=1, unit_amount=3000, amount=3000),
        apb.InvoiceLine(description="prediction rows (1000 included)", plan="plans/team",
                        meter=apb.METER_PREDICTION_ROWS, start_day="2026-11-01", end_day="2026-11-30",
                        quantity=2500, included=1000, unit_amount=200,
                        per_units=1000, amount=300),
    ],
)  # fmt: skip


def test_the_invoice_pdf_is_well_formed_and_shows_its_lines_and_total():
    data = invoice_pdf(INVOICE)
    objects = pdf_objects(data)  # header, xref offsets, trailer, stream lengths checked
    assert b"/BaseFont /Courier" in objects[3] and b"(Invoice 2026-11, acme)" in objects[4]
    (page,) = pdf_pages(data)
    assert page[0] == "Invoice 2026-11, acme"
    assert page[2:] == invoice_text(INVOICE).splitlines()  # what `maas invoices show` prints
    text = pdf_text(data)
    for words in ("tenants/acme/invoices/2026-11", "issued", "prediction rows (1000 included)", "2500", "33.00 USD"):
        assert words in text, (words, text)
    (total,) = [line for line in page if line.startswith("total")]
    assert total.endswith("33.00 USD")


def test_many_lines_make_pages_and_long_lines_wrap():
    lines = [f"line {i}" for i in range(LINES_PER_PAGE * 2 + 3)] + ["x" * (CHARS_PER_LINE + 5)]
    pages = pdf_pages(pdf_document(lines, title="long"))
    assert [len(p) for p in pages] == [LINES_PER_PAGE, LINES_PER_PAGE, 5]
    assert pages[2][-2:] == ["x" * CHARS_PER_LINE, "xxxxx"]
    assert [line for page in pages for line in page][: len(lines) - 1] == lines[:-1]


@pytest.mark.parametrize(
    ("line", "shown"),
    [("a (b) c\\d", "a (b) c\\d"), ("café 10 €", "café 10 €"), ("日本", "??"), ("", ""), ("tab\there", "tab here")],
)
def test_escapes_and_encoding(line, shown):
    (page,) = pdf_pages(pdf_document([line]))
    assert page == [shown]


def test_no_lines_is_one_blank_page():
    assert pdf_pages(pdf_document([])) == [[]]
