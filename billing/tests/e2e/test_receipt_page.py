"""The guest's receipt and invoice pages in Chromium at 1280, 768 and 390 px, on screen and as printed.
Screenshots go to test-artifacts/screenshots/receipt-page-<width>.png and invoice-page-<width>.png."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from billing.receipts import receipt_url
from billing.services import sell
from billing.tests.factories import CustomerFactory, PrinterFactory
from inventory.tests.factories import ProductFactory, TaxRateFactory
from orders.models import Order
from orders.pricing import TenderInput
from orders.tests.helpers import dish_with_groups, line, open_register

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.unpaired]

WIDTHS = {1280: 800, 768: 1024, 390: 844}


@pytest.fixture
def business_sale(location, cashier):
    location.name, location.legal_name = "Corner Café", "Corner Holdings Ltd"
    location.address, location.tax_id = "1 High Street\nTownsville TW1 2AB", "GB123456789"
    location.receipt_footer = "Thank you for dining with us"
    location.save()
    dish, o, _ = dish_with_groups(location, name="Slow-roasted pork belly with apple and celeriac", price="18.50")
    reduced = TaxRateFactory(name="Reduced", percent=Decimal("10.000"))
    soup = ProductFactory(name="Tomato soup", price=Decimal("6.00"), tracked=False, tax_rate=reduced)
    wine = ProductFactory(name="House red (175 ml)", price=Decimal("7.20"), tracked=False)
    till = open_register(location, printer=PrinterFactory())
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[
            line(dish, "2", modifiers=[o["Medium"].pk, o["Bacon"].pk], note="sauce on the side"),
            line(soup),
            line(wine, "3"),
        ],
        tenders=[TenderInput("card", amount=Decimal("30.00")), TenderInput("cash", tendered=Decimal("60.00"))],
    )
    buyer = CustomerFactory(name="Ann Lee", company="Acme Consulting GmbH", tax_id="DE811907980")
    Order.objects.filter(pk=sale.order.pk).update(customer=buyer)
    return sale


def _fits(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_receipt_page_fits_each_screen_and_prints_without_its_buttons(
    page, live_server, business_sale, screenshot, width
):
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    page.goto(live_server.url + urlsplit(receipt_url(business_sale.receipt)).path)

    expect(page.locator("[data-total-amount]")).to_have_text("67.60")
    expect(page.locator("[data-modifier]").first).to_have_text("+ Medium")
    expect(page.get_by_role("button", name="Print or save as PDF")).to_be_visible()
    assert _fits(page) <= 0
    screenshot(page, f"receipt-page-{width}")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print or save as PDF")).to_be_hidden()
    expect(page.locator("[data-total-amount]")).to_be_visible()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_invoice_page_fits_each_screen(page, live_server, business_sale, screenshot, width):
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    page.goto(live_server.url + urlsplit(receipt_url(business_sale.receipt)).path)

    page.get_by_role("link", name="Invoice").click()

    expect(page.locator("[data-buyer]")).to_contain_text("Acme Consulting GmbH")
    expect(page.locator("[data-buyer]")).to_contain_text("DE811907980")
    expect(page.locator("[data-seller]")).to_contain_text("GB123456789")
    expect(page.locator("[data-tax-row]")).to_have_count(2)
    expect(page.locator("[data-total-amount]")).to_have_text("67.60")
    assert _fits(page) <= 0
    screenshot(page, f"invoice-page-{width}")
