"""The payment screen in a real browser: a tip on card, cash at a store that rounds to 0.05, the receipt and the Z."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from billing.models import Payment, Printer, PrintJob, ZReport
from billing.receipts import render_job
from billing.tests.escpos_text import read
from billing.tests.factories import RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.services import NewLine, open_order

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 768, 390)


@pytest.fixture
def shop(location, cashier, tmp_path):
    location.cash_rounding = Decimal("0.05")
    location.legal_name = "Main Street Trading Ltd"
    location.tax_id = "GB123456789"
    location.save()
    category = CategoryFactory(name="Lunch", location=location, sort_order=1)
    tax = TaxRateFactory()
    for name, price in (("Soup of the day", "23.40"), ("Sandwich", "3.58")):
        ProductFactory(
            name=name, price=Decimal(price), category=category, tax_rate=tax, stock_policy=Product.StockPolicy.ALLOW
        )
    printer = Printer.objects.create(
        name="Receipts", connection="file", device_path=str(tmp_path / "printer.bin"), columns=32
    )
    RegisterFactory(location=location, name="Till 1", printer=printer)
    return location


def sign_in_and_open_the_till(page) -> None:
    page.goto("/accounts/login/?next=/pos/")
    page.fill("#id_username", "cashier")
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    page.click("nav >> text=Shift")
    page.fill("#opening_float", "100")
    page.click("text=Open the till")
    expect(page).to_have_url(re.compile(r"/pos/$"))


def ring_up(page, product: str, total: str, *, start: str = "text=Quick sale") -> None:
    page.click(start)
    page.click(f"[data-product] >> text={product}")
    expect(page.locator('[data-total="total"]')).to_have_text(total)
    page.click(f"text=Pay {total}")
    expect(page.locator("h1")).to_contain_text("to pay")


def test_a_tip_on_card_and_rounded_cash_reach_the_payment_the_receipt_and_the_z(page, shop, cashier, screenshot):
    sign_in_and_open_the_till(page)

    # A 10% tip on card: recorded on the payment, shown on the receipt.
    ring_up(page, "Soup of the day", "23.40")
    page.click("label:has-text('Card')")
    page.click('[data-tip-percent="10"]')
    expect(page.locator("[data-tip-note]")).to_have_text("Tip 2.34 · with the tip 25.74")
    page.fill("#reference_0", "AUTH 4711")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"pay-screen-{width}")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    card = Payment.objects.get(tender="card")
    assert (card.amount, card.tip, card.reference) == (Decimal("23.40"), Decimal("2.34"), "AUTH 4711")
    expect(page.locator(".receipt-paper [data-tip]")).to_contain_text("2.34")
    expect(page.locator(".receipt-paper")).to_contain_text("Tax ID GB123456789")

    # Cash at a store rounding to 0.05: the first quick-cash button is the rounded amount; the change shows.
    ring_up(page, "Sandwich", "3.58", start="button:has-text('New sale')")
    quick = page.locator(".quick-cash .btn")
    expect(quick.first).to_have_text("3.60")
    page.click('.quick-cash [data-key="=5.00"]')
    expect(page.locator("[data-change-for]")).to_have_text("Change due: 1.40")
    screenshot(page, "pay-screen-cash-rounding")
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("2")
    cash = Payment.objects.get(tender="cash")
    assert (cash.amount, cash.tendered, cash.rounding, cash.change) == (
        Decimal("3.58"),
        Decimal("5.00"),
        Decimal("0.02"),
        Decimal("1.40"),
    )
    expect(page.locator(".receipt-paper [data-rounding]")).to_contain_text("+0.02")
    expect(page.locator(".receipt-paper [data-change-line]")).to_contain_text("1.40")
    screenshot(page, "receipt-cash-rounding")
    printed = read(render_job(PrintJob.objects.get(receipt__number=2, is_copy=False))).text
    rows = [line.split() for line in printed.splitlines()]
    assert ["Cash", "rounding", "0.02"] in rows and ["Change", "1.40"] in rows

    # End of shift: 100 + 3.60 in the drawer; the Z shows the card tip.
    page.click("nav >> text=Shift")
    page.click("text=End of shift")
    page.fill('[name="d_100"]', "1")
    page.fill('[name="d_2"]', "1")
    page.fill('[name="d_1"]', "1")
    page.fill('[name="d_0.50"]', "1")
    page.fill('[name="d_0.10"]', "1")
    page.click("button:has-text('Close the till')")
    expect(page.locator("h1")).to_contain_text("Z report No. 1")
    expect(page.locator("body")).to_contain_text(re.compile(r"Tips\s+2\.34"))
    expect(page.locator("body")).not_to_contain_text("-0.00")
    z = ZReport.objects.get()
    assert z.data["tips"] == "2.34"

    # With the till closed, the Pay button is disabled and looks it.
    sandwich = Product.objects.get(name="Sandwich")
    order = open_order(location_id=shop.pk, user=cashier, lines=[NewLine(product_id=sandwich.pk)])
    page.goto(reverse("billing:pay", args=[order.uuid]))
    button = page.locator("button:has-text('Take payment')")
    expect(button).to_be_disabled()
    style = button.evaluate("b => [getComputedStyle(b).cursor, getComputedStyle(b).backgroundColor]")
    assert style == ["not-allowed", "rgb(233, 236, 239)"]  # not the primary green of a button that works
    screenshot(page, "pay-screen-disabled")
