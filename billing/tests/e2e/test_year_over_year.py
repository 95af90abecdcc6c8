"""The year-over-year screen in a real browser: a manager of two stores sees both together, month by month beside
last year, then one store; the screen fits a desktop, a tablet and a phone."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from billing import sessions
from billing.tests.cash_data import product, sell
from billing.tests.factories import RegisterFactory
from inventory.tests.factories import LocationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stores(location, manager):
    harbour = LocationFactory(code="harbour", name="Harbour")
    manager.staff.locations.add(harbour)
    item = product("12.50")
    for store, pattern in ((location, (3, 5, 2)), (harbour, (4, 1, 6))):
        till = sessions.open_session(register_id=RegisterFactory(location=store).pk, user=manager, opening_float="0")
        for year in (2025, 2026):
            for month in range(1, 13):
                quantity = pattern[(month + year) % 3] + (month % 4 if year == 2026 else 0)
                when = datetime(year, month, 10, 12, tzinfo=ZoneInfo("UTC"))
                sell(till, manager, [(item, quantity)], paid_at=when, tender="card")
    return location, harbour


def test_a_manager_compares_this_year_with_last_at_both_stores_then_one(page, manager, stores, screenshot):
    page.goto("/accounts/login/?next=/reports/year/%3Fyear%3D2026")
    page.fill("#id_username", manager.username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/reports/year/"))

    expect(page.locator("#id_location")).to_have_value("all")
    expect(page.locator("table.year-over-year tbody tr")).to_have_count(12)
    expect(page.locator("table.year-over-year thead")).to_contain_text("2026")
    expect(page.locator("table.year-over-year thead")).to_contain_text("2025")
    for width, height in ((1280, 900), (768, 1024), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"year-over-year-all-stores-{width}")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page scrolls sideways at {width}px"

    page.set_viewport_size({"width": 1280, "height": 900})
    page.select_option("#id_location", label="Main Street")
    page.click("button:has-text('Show')")
    january = page.locator("table.year-over-year tbody tr").first
    # Main Street in January: 2025 sold 5 × 12.50, 2026 sold (2 + 1) × 12.50
    expect(january).to_contain_text("37.50")
    expect(january).to_contain_text("62.50")
    expect(january).to_contain_text("-25.00")
    expect(january).to_contain_text("-40.0")
    screenshot(page, "year-over-year-one-store-1280")
