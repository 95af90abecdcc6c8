"""The guest's receipt page: reached from the QR code on the printed receipt, the same lines and total as the
paper, a 404 for any link that was not issued, and an invoice layout for a business customer."""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from billing.models import Receipt
from billing.receipts import invoice_document, receipt_url, render_job
from billing.services import RefundItem, refund, sell
from billing.tests.escpos_text import read
from billing.tests.factories import CustomerFactory, PrinterFactory
from inventory.tests.factories import ProductFactory, TaxRateFactory
from orders.models import Order
from orders.pricing import TenderInput
from orders.tests.helpers import dish_with_groups, line, open_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def guest():
    return Client()  # a phone: not signed in, not a paired terminal


def _sale(location, cashier, *, columns=32):
    dish, o, _ = dish_with_groups(location, name="Steak frites", price="18.00")
    wine = ProductFactory(name="House red", price=Decimal("6.50"), tracked=False)
    till = open_register(location, printer=PrinterFactory(columns=columns))
    return sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(dish, "2", modifiers=[o["Medium"].pk, o["Bacon"].pk]), line(wine)],
        tenders=[TenderInput("card", amount=Decimal("20.00")), TenderInput("cash", tendered=Decimal("50.00"))],
    )


def _printed(data: bytes) -> dict:
    """What the paper says: the amount on each item line, the options under them, the grand total, and the QR
    code's link."""
    printout = read(data)
    lines = printout.text.splitlines()
    first, second = [i for i, text in enumerate(lines) if text and set(text) == {"-"}][:2]
    items = [text.split()[-1] for text in lines[first + 1 : second] if not text.startswith(" ")]
    modifiers = [text.strip()[2:] for text in lines[first + 1 : second] if text.startswith("  + ")]
    total = next(text.split()[-1] for text in lines if text.startswith("TOTAL"))
    return {"items": items, "modifiers": modifiers, "total": total, "qr": printout.qr_codes}


def _shown(html: str) -> dict:
    return {
        "items": re.findall(r"data-line-total>([^<]+)<", html),
        "total": re.search(r"data-total-amount>([^<]+)<", html).group(1),
        "modifiers": re.findall(r"data-modifier>\+ ([^<]+)<", html),
    }


@pytest.mark.parametrize("columns", [32, 48], ids=["58mm", "80mm"])
def test_the_qr_code_on_the_printed_receipt_opens_a_page_with_the_same_lines_and_total(
    location, cashier, guest, columns
):
    sale = _sale(location, cashier, columns=columns)
    printed = _printed(render_job(sale.print_job))

    (link,) = printed["qr"]
    page = guest.get(urlsplit(link).path)

    assert link.startswith("http://127.0.0.1:8000/receipts/")
    assert page.status_code == 200
    shown = _shown(page.content.decode())
    assert shown["items"] == printed["items"] == ["39.00", "6.50"]
    assert shown["total"] == printed["total"] == "45.50"
    assert shown["modifiers"] == printed["modifiers"] == ["Medium", "Bacon +1.50"]


def test_the_page_shows_modifiers_tax_payments_change_and_the_receipt_number(location, cashier, guest):
    sale = _sale(location, cashier)

    html = guest.get(urlsplit(receipt_url(sale.receipt)).path).content.decode()

    assert _shown(html)["modifiers"] == ["Medium", "Bacon +1.50"]
    assert f"No. <span data-receipt-number>{sale.receipt.number:06d}</span>" in html
    assert "Card" in html and "Cash" in html and "Change" in html and "24.50" in html  # 50.00 for 25.50
    assert "(incl.)" in html


def test_a_qr_code_is_printed_on_both_paper_widths_and_points_at_the_absolute_address(location, cashier):
    sale = _sale(location, cashier)
    receipt = sale.receipt

    with override_settings(PUBLIC_BASE_URL="https://shop.example.com"):
        narrow = read(render_job(sale.print_job)).qr_codes
        sale.print_job.printer.columns = 48
        wide = read(render_job(sale.print_job)).qr_codes

    expected = f"https://shop.example.com/receipts/{receipt.pk}/{receipt.public_token}/"
    assert narrow == wide == [expected]


@override_settings(PUBLIC_BASE_URL="")
def test_without_a_public_address_the_receipt_prints_without_a_qr_code(location, cashier):
    sale = _sale(location, cashier)

    printout = read(render_job(sale.print_job))

    assert printout.qr_codes == [] and "Your receipt online" not in printout.text
    assert printout.barcodes  # the refund barcode is still there


def test_each_receipt_gets_its_own_unguessable_token(location, cashier):
    first, second = _sale(location, cashier).receipt, _sale(location, cashier).receipt

    assert first.public_token != second.public_token
    assert len(first.public_token) == 22  # 16 random bytes, URL-safe base64


def test_a_guessed_token_gets_404(location, cashier, guest):
    receipt = _sale(location, cashier).receipt

    response = guest.get(reverse("receipt-page", args=[receipt.pk, "A" * 22]))

    assert response.status_code == 404


def test_an_altered_token_gets_404(location, cashier, guest):
    receipt = _sale(location, cashier).receipt
    token = receipt.public_token
    altered = ("B" if token[0] != "B" else "C") + token[1:]

    assert guest.get(reverse("receipt-page", args=[receipt.pk, altered])).status_code == 404
    assert guest.get(reverse("receipt-page", args=[receipt.pk, token[:-1]])).status_code == 404
    assert guest.get(reverse("receipt-page", args=[receipt.pk, token])).status_code == 200


def test_one_receipts_token_does_not_open_another_receipt(location, cashier, guest):
    first, second = _sale(location, cashier).receipt, _sale(location, cashier).receipt

    response = guest.get(reverse("receipt-page", args=[second.pk, first.public_token]))

    assert response.status_code == 404


def test_a_receipt_id_that_does_not_exist_gets_the_same_404(location, cashier, guest):
    receipt = _sale(location, cashier).receipt

    response = guest.get(reverse("receipt-page", args=[receipt.pk + 1000, receipt.public_token]))

    assert response.status_code == 404


@override_settings(RECEIPT_PAGE_MISSES_PER_IP=3)
def test_an_address_that_keeps_opening_wrong_links_is_refused_for_a_while(location, cashier, guest):
    receipt = _sale(location, cashier).receipt
    for n in range(3):
        assert guest.get(reverse("receipt-page", args=[receipt.pk, f"wrong{n}"])).status_code == 404

    response = guest.get(reverse("receipt-page", args=[receipt.pk, receipt.public_token]))

    assert response.status_code == 429


def test_the_page_is_print_friendly_and_keeps_its_link_to_itself(location, cashier, guest):
    receipt = _sale(location, cashier).receipt

    response = guest.get(urlsplit(receipt_url(receipt)).path)

    assert "css/receipt.css" in response.content.decode()
    assert response["Referrer-Policy"] == "no-referrer"
    assert 'name="robots" content="noindex"' in response.content.decode()


def test_the_print_stylesheet_hides_the_buttons_on_paper():
    from django.contrib.staticfiles import finders

    with open(finders.find("css/receipt.css")) as stylesheet:
        css = stylesheet.read()

    assert re.search(r"@media print \{[^@]*\.actions \{ display: none; \}", css)


def test_a_refund_receipt_has_a_page_with_the_refunded_lines(location, cashier, manager, guest):
    sale = _sale(location, cashier)
    steak = sale.order.lines.get(name="Steak frites")
    record = refund(
        order_id=sale.order.pk,
        register_id=sale.receipt.register_id,
        items=[RefundItem(steak.pk, Decimal("1"))],
        reason="cold",
        user=manager,
    )
    receipt = Receipt.objects.get(refund=record)

    html = guest.get(urlsplit(receipt_url(receipt)).path).content.decode()

    assert "Refund" in html and "Reason: cold" in html
    assert _shown(html)["items"] == ["-19.50"]
    assert _shown(html)["total"] == "-19.50"


# --- The invoice --------------------------------------------------------------------------------------------


def _business_sale(location, cashier, **customer):
    location.name, location.legal_name = "Corner Café", "Corner Holdings Ltd"
    location.address, location.tax_id = "1 High Street\nTownsville", "GB123456789"
    location.save()
    reduced = TaxRateFactory(name="Reduced", percent=Decimal("10.000"))
    meal = ProductFactory(name="Lunch", price=Decimal("22.00"), tracked=False, tax_rate=reduced)
    wine = ProductFactory(name="House red", price=Decimal("6.00"), tracked=False)
    till = open_register(location, printer=PrinterFactory())
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(meal, "2"), line(wine)],
        tenders=[TenderInput("card")],
    )
    buyer = CustomerFactory(**{"name": "Ann Lee", "company": "Acme GmbH", "tax_id": "DE811907980", **customer})
    Order.objects.filter(pk=sale.order.pk).update(customer=buyer)
    return Receipt.objects.get(pk=sale.receipt.pk)


def test_a_business_customers_receipt_page_offers_the_invoice(location, cashier, guest):
    receipt = _business_sale(location, cashier)

    html = guest.get(urlsplit(receipt_url(receipt)).path).content.decode()

    assert reverse("receipt-invoice", args=[receipt.pk, receipt.public_token]) in html


def test_the_invoice_names_seller_and_buyer_with_their_tax_ids_and_the_receipt_number(location, cashier, guest):
    receipt = _business_sale(location, cashier)

    html = guest.get(reverse("receipt-invoice", args=[receipt.pk, receipt.public_token])).content.decode()

    seller = html[html.index("data-seller") : html.index("data-buyer")]
    buyer = html[html.index("data-buyer") : html.index("data-lines")]
    assert "Corner Holdings Ltd" in seller and "1 High Street" in seller and "Tax ID GB123456789" in seller
    assert "Acme GmbH" in buyer and "Ann Lee" in buyer and "Tax ID DE811907980" in buyer
    assert f"<span data-invoice-number>{receipt}</span>" in html


def test_the_invoice_breaks_tax_down_per_rate_and_adds_up_to_the_receipt_total(location, cashier, guest):
    receipt = _business_sale(location, cashier)

    html = guest.get(reverse("receipt-invoice", args=[receipt.pk, receipt.public_token])).content.decode()
    invoice = invoice_document(receipt)

    rows = {(r.name, r.percent): (r.net, r.tax, r.gross) for r in invoice.tax_rows}
    assert rows[("Reduced", Decimal("10.000"))] == (Decimal("40.00"), Decimal("4.00"), Decimal("44.00"))
    standard = next(v for k, v in rows.items() if k[0] != "Reduced")
    assert standard[2] == Decimal("6.00") and standard[0] + standard[1] == standard[2]
    assert sum(gross for _, _, gross in rows.values()) == invoice.total == receipt.order.total
    assert len(re.findall("data-tax-row", html)) == 2
    assert _shown(html)["total"] == "50.00"


def test_a_private_customer_gets_no_invoice(location, cashier, guest):
    receipt = _business_sale(location, cashier, company="", tax_id="")

    page = guest.get(urlsplit(receipt_url(receipt)).path).content.decode()
    invoice = guest.get(reverse("receipt-invoice", args=[receipt.pk, receipt.public_token]))

    assert "data-invoice-link" not in page
    assert invoice.status_code == 404


def test_the_invoice_needs_the_receipts_token_too(location, cashier, guest):
    receipt = _business_sale(location, cashier)

    response = guest.get(reverse("receipt-invoice", args=[receipt.pk, "A" * 22]))

    assert response.status_code == 404
