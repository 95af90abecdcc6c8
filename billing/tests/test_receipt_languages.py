"""Receipts and kitchen tickets print in the store's language, in a code page that has its letters.

A German store (EUR) and an Indonesian one (IDR, no decimals) each sell with change; the bytes equal committed
golden files and, decoded with the code page the printer was told to use, read as the expected text.
"""

import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone, translation

from billing.receipts import Paper, kitchen_document, receipt_document, render_kitchen_ticket, render_receipt
from billing.services import sell
from billing.tests.escpos_text import read
from billing.tests.test_receipts import _golden
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register

pytestmark = pytest.mark.django_db

# ESC t n: the code page the printer is switched to, and the Python codec that decodes what it prints.
CODE_PAGES = {19: "cp858", 16: "cp1252", 0: "cp437"}
FIXED = {
    "number": "000044",
    "code": "R3-44",
    "url": "",
    "register": "Kasse 1",
    "issued_at": datetime(2026, 3, 2, 18, 7, tzinfo=UTC),
}


def _sell(location, cashier, items, tendered):
    from inventory.tests.factories import ProductFactory

    products = [(ProductFactory(name=name, price=Decimal(price), tracked=False), qty) for name, price, qty in items]
    till = open_register(location)
    return sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(product, qty) for product, qty in products],
        tenders=[TenderInput("cash", tendered=Decimal(tendered))],
    )


def _decoded(data: bytes) -> str:
    printout = read(data, encoding=CODE_PAGES[read(data).code_page])
    return printout.text


@pytest.fixture
def german_sale(location, cashier):
    location.language = "de"
    location.save()
    with override_settings(POS_CURRENCY="EUR", POS_CURRENCY_DECIMALS=2):
        yield _sell(
            location,
            cashier,
            [
                ("Käsespätzle", "12.90", "2"),
                ("Weißbier", "4.80", "1"),
                ("Hochzeitsbüfett", "1200.00", "1"),
            ],
            "1250.00",
        )


@pytest.fixture
def indonesian_sale(location, cashier):
    location.language = "id"
    location.max_change = Decimal("100000")
    location.save()
    with override_settings(POS_CURRENCY="IDR", POS_CURRENCY_DECIMALS=0):
        yield _sell(
            location,
            cashier,
            [("Nasi goreng spesial", "35000", "2"), ("Es teh manis", "8000", "1"), ("Paket katering", "1250000", "1")],
            "1400000",
        )


@pytest.mark.parametrize(("name", "columns"), [("receipt_de_58mm.bin", 32), ("receipt_de_80mm.bin", 48)])
def test_a_german_store_prints_its_receipt_in_german_with_euro_amounts(german_sale, name, columns):
    doc = replace(
        receipt_document(german_sale.receipt),
        **FIXED,
        store_name="Zur Mühle",
        header=("Hauptstraße 5, 80331 München",),
        footer=("Vielen Dank für Ihren Besuch!",),
        staff="Jürgen",
    )
    assert doc.language == "de"
    with override_settings(POS_CURRENCY="EUR", POS_CURRENCY_DECIMALS=2), timezone.override("UTC"):
        data = render_receipt(doc, columns=columns, open_drawer=True)
    assert data == _golden(name, data)

    assert b"\x1bt\x13" in data  # ESC t 19: CP858, which has ä ö ü ß and €
    text = _decoded(data)
    for expected in (
        "Zur Mühle",
        "Hauptstraße 5",
        "BELEG",
        "Nr. 000044",
        "02.03.2026 18:07",
        "Käsespätzle",
        "Weißbier",
        "1.200,00",
        "1.230,60 €",
        "SUMME",
        "Bar",
        "Gegeben",
        "1.250,00",
        "Rückgeld",
        "19,40",
        "Vielen Dank für Ihren Besuch!",
    ):
        assert expected in text, expected
    for english in ("Subtotal", "TOTAL", "Change", "Tendered", "Cash", "RECEIPT"):
        assert english not in text, english
    assert "?" not in text


@pytest.mark.parametrize(("name", "columns"), [("receipt_id_58mm.bin", 32), ("receipt_id_80mm.bin", 48)])
def test_an_indonesian_store_prints_its_receipt_in_indonesian_with_rupiah_without_decimals(
    indonesian_sale, name, columns
):
    doc = replace(
        receipt_document(indonesian_sale.receipt),
        **FIXED,
        store_name="Warung Sari",
        header=("Jl. Malioboro 12, Yogyakarta",),
        footer=("Terima kasih atas kunjungan Anda",),
        staff="Budi",
    )
    assert doc.language == "id"
    with override_settings(POS_CURRENCY="IDR", POS_CURRENCY_DECIMALS=0), timezone.override("UTC"):
        data = render_receipt(doc, columns=columns, open_drawer=True)
    assert data == _golden(name, data)

    text = _decoded(data)
    for expected in (
        "Warung Sari",
        "STRUK",
        "No. 000044",
        "02-03-2026 18.07",
        "2 x Nasi goreng spesial",
        "@ 35.000",
        "70.000",
        "1.250.000",
        "Rp 1.328.000",
        "Subtotal",
        "Tunai",
        "Dibayar",
        "1.400.000",
        "Kembalian",
        "72.000",
        "Terima kasih atas kunjungan Anda",
    ):
        assert expected in text, expected
    for english in ("RECEIPT", "Change", "Tendered", "Cash"):
        assert english not in text, english
    amounts = [row for row in text.splitlines() if "2026" not in row]  # the date and time line aside
    assert not [row for row in amounts if re.search(r"[.,]\d{2}(?!\d)", row)]  # IDR has no decimals


def test_the_receipt_is_in_the_stores_language_whatever_language_the_cashier_uses(german_sale):
    with translation.override("id"):
        doc = receipt_document(german_sale.receipt)
    assert doc.title == "Beleg" and doc.totals[-1][0] == "SUMME" and doc.tenders[0].label == "Bar"


def test_a_kitchen_ticket_prints_in_the_stores_language(location, cashier):
    from orders.models import KitchenTicket
    from orders.tests.factories import OrderFactory, OrderLineFactory, TableFactory

    location.language = "de"
    location.save()
    table = TableFactory(location=location, name="12")
    order = OrderFactory(location=location, staff=cashier, table=table, channel="dine_in")
    ticket = KitchenTicket.objects.create(order=order, location=location, station="kueche", course=2, sent_by=cashier)
    OrderLineFactory(
        order=order, name="Schweinshaxe", quantity=Decimal("2"), kitchen_ticket=ticket, note="ohne Soße", course=2
    )
    with timezone.override("UTC"):
        data = render_kitchen_ticket(kitchen_document(ticket), columns=42)
    text = _decoded(data)
    assert "Tisch 12" in text and "Gang 2" in text and f"Bon Nr. {ticket.pk}" in text
    assert "KUECHE" in text and "2 x Schweinshaxe" in text and "! ohne Soße" in text
    assert "Course" not in text and "Table" not in text


def test_the_code_page_is_one_that_prints_every_letter_of_the_store_language():
    # A printer set to a Cyrillic code page cannot print ä ö ü ß: a German store's paper falls back to CP858.
    assert Paper(columns=42, profile="default", code_page="CP866", language="de").code_page == "CP858"
    # Indonesian is plain ASCII: the printer's own code page stays.
    assert Paper(columns=42, profile="default", code_page="CP866", language="id").code_page == "CP866"
    # A code page that has the letters is kept.
    assert Paper(columns=42, profile="default", code_page="CP1252", language="de").code_page == "CP1252"


def test_a_letter_no_code_page_has_is_transliterated_and_never_printed_as_a_question_mark():
    paper = Paper(columns=42, profile="default", code_page="CP858", language="de")
    assert paper.printable("Grüße aus Łódź ☃") == "Grüße aus Lódz _"
    assert "?" not in paper.printable("中餐 ☃ \U0001f600")


def test_the_z_report_printed_for_a_german_store_is_in_german_with_german_amounts(location, cashier):
    from billing import sessions
    from billing.models import PrintJob
    from billing.tests.factories import PrinterFactory, RegisterFactory
    from billing.tests.test_sessions import close_exactly

    location.language = "de"
    location.save()
    till = RegisterFactory(location=location, name="Kasse 1", printer=PrinterFactory(name="Bon"))
    with override_settings(POS_CURRENCY="EUR", POS_CURRENCY_DECIMALS=2), timezone.override("UTC"):
        session = sessions.open_session(register_id=till.pk, user=cashier, opening_float="1234.50")
        close_exactly(session, cashier)
        lines = PrintJob.objects.get(kind="report").payload["lines"]
    text = "\n".join(lines)
    assert lines[0].strip() == "Z-BERICHT Nr. 1"
    for expected in (
        "Bruttoumsatz",
        "NETTOUMSATZ",
        "KASSENLADE",
        "Anfangsbestand",
        "1.234,50",
        "GESAMTSUMME",
        "0,00 €",
    ):
        assert expected in text, expected
    assert "GRAND TOTAL" not in text and "Opening float" not in text
    assert all(len(line) <= 48 for line in lines)


def test_the_receipt_e_mail_and_the_guests_receipt_page_speak_the_stores_language(german_sale, client):
    from billing.models import ReceiptEmail
    from billing.receipt_mail import build_message

    receipt = german_sale.receipt
    email = ReceiptEmail.objects.create(receipt=receipt, location=receipt.order.location, to_address="gast@example.com")
    with translation.override("en"):  # whoever sends it
        message = build_message(email)
    assert message.subject.startswith(f"Ihr Beleg {receipt.number:06d} von ")
    html = message.alternatives[0][0]
    for text in (message.body, html):
        assert "SUMME" in text and "Rückgeld" in text and "Gegeben" in text and "1.230,60" in text
        assert "Change" not in text and "Tendered" not in text
    page = client.get(f"/receipts/{receipt.pk}/{receipt.public_token}/", HTTP_ACCEPT_LANGUAGE="en")
    body = page.content.decode()
    assert '<html lang="de">' in body and "Drucken oder als PDF speichern" in body and "Rückgeld" in body
    assert "Print or save" not in body
