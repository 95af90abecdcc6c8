"""The sales report in a real browser: a manager of two stores opens on both together, beside the previous
period, and picks one store; the screen fits a desktop, a tablet and a phone."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import sessions
from billing.services import sell
from billing.tests.factories import RegisterFactory
from inventory.models import Location, Product
from inventory.tests.factories import LocationFactory, ProductFactory, TaxRateFactory
from orders.pricing import TenderInput
from orders.services import NewLine

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stores(location, manager):
    LocationFactory(code="central", name="Central Warehouse", kind=Location.Kind.WAREHOUSE)
    harbour = LocationFactory(code="harbour", name="Harbour", prices_include_tax=False)
    manager.staff.locations.add(harbour)
    beer = ProductFactory(
        name="Beer",
        price=Decimal("6.00"),
        cost=Decimal("2.00"),
        tax_rate=TaxRateFactory(),
        stock_policy=Product.StockPolicy.ALLOW,
    )
    for store, quantity in ((location, 2), (harbour, 3)):
        register = RegisterFactory(location=store)
        sessions.open_session(register_id=register.pk, user=manager, opening_float="0")
        sell(
            register_id=register.pk,
            user=manager,
            lines=[NewLine(product_id=beer.pk, quantity=Decimal(quantity))],
            tenders=[TenderInput("card")],
        )
    return location, harbour


def test_a_manager_of_two_stores_reads_both_together_then_one(page, manager, stores, screenshot):
    page.goto("/accounts/login/?next=/reports/")
    page.fill("#id_username", manager.username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/reports/$"))

    expect(page.locator("#id_location")).to_have_value("all")
    expect(page.locator("#id_location option")).to_have_text(["All stores (2)", "Harbour", "Main Street"])
    sales = page.locator("table.summary tr", has_text="Net sales")
    expect(sales).to_contain_text("33.60")  # 12.00 inclusive + 18.00 and 3.60 tax at the exclusive store
    for width, height in ((1280, 900), (768, 1024), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"sales-report-all-stores-{width}")

    page.select_option("#id_location", label="Main Street")
    page.click("button:has-text('Show')")
    expect(page.locator("table.summary tr", has_text="Net sales")).to_contain_text("12.00")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "sales-report-one-store-1280")
