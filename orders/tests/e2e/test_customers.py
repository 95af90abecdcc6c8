"""The order screen's customer panel in Chromium: a cashier finds a customer by phone and attaches them.
Screenshots at 1280, 768 and 390 pixels wide: test-artifacts/screenshots/customer-*.png."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from inventory.models import Product
from inventory.tests.factories import ProductFactory
from orders import services
from orders.models import Order
from orders.tests.e2e.conftest import SCREENSHOTS
from orders.tests.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {1280: 800, 768: 1024, 390: 844}


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/?next=/pos/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pos/$"))


def shoot(page, name: str) -> dict:
    """The screen at every width (the panel stays open); returns the widths that scrolled sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = {}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=False)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems[width] = f"{overflow}px of horizontal scrolling"
    page.set_viewport_size({"width": 1280, "height": 800})
    return problems


def test_a_cashier_finds_a_customer_by_phone_on_the_order_screen_and_attaches_them(page, location, cashier):
    product = ProductFactory(name="Flat white", price=Decimal("3.20"), stock_policy=Product.StockPolicy.ALLOW)
    order = services.open_order(
        location_id=location.pk, user=cashier, lines=[services.NewLine(product_id=product.pk, quantity=Decimal(1))]
    )
    ada = CustomerFactory(name="Ada Lovelace", phone="07700900123", email="ada@example.com")
    CustomerFactory(name="Adam Other", phone="07800900123")
    sign_in(page, "cashier")
    page.goto(f"/pos/orders/{order.uuid}/")

    page.click("summary:has-text('+ Customer')")
    page.fill("#customer-q", "07700 900")
    results = page.locator("#customer-results li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Ada Lovelace")
    problems = {"found": shoot(page, "customer-found")}
    results.first.locator("button:has-text('Attach')").click()

    expect(page.locator("#ticket .customer-row")).to_contain_text("Customer: Ada Lovelace")
    expect(page.locator("#ticket-message")).to_contain_text("Customer: Ada Lovelace.")
    problems["attached"] = shoot(page, "customer-attached")
    assert Order.objects.get(pk=order.pk).customer_id == ada.pk
    assert problems == {"found": {}, "attached": {}}


def test_a_phone_number_typed_before_the_panel_is_ready_still_searches(page, location, cashier):
    """A fast cashier (or a card scanner) types into the search box in the moment between the panel arriving and
    htmx taking it over; htmx then counted the text as unchanged and never searched. The panel here arrives with the
    text already in the box, as it does in that moment."""
    product = ProductFactory(name="Flat white", price=Decimal("3.20"), stock_policy=Product.StockPolicy.ALLOW)
    order = services.open_order(
        location_id=location.pk, user=cashier, lines=[services.NewLine(product_id=product.pk, quantity=Decimal(1))]
    )
    CustomerFactory(name="Ada Lovelace", phone="07700900123")
    sign_in(page, "cashier")

    def typed_early(route):
        response = route.fetch()
        body = response.text().replace('id="customer-q" name="q"', 'id="customer-q" name="q" value="07700 900"', 1)
        assert 'value="07700 900"' in body
        route.fulfill(response=response, body=body)

    page.route(re.compile(r".*/pos/orders/[0-9a-f-]+/customer/$"), typed_early)
    page.goto(f"/pos/orders/{order.uuid}/")
    page.click("summary:has-text('+ Customer')")
    results = page.locator("#customer-results li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Ada Lovelace")
