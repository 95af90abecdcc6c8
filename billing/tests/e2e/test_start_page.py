"""The manager's start page in a real browser: today at both stores, the total, what needs a look; it fits a
desktop, a tablet and a phone."""

import re

import pytest
from playwright.sync_api import expect

from billing.models import PrintJob
from billing.tests.e2e.test_sales_report import stores  # noqa: F401 - two stores with a sale each today

# The back office in a manager's own browser, not a till: an unpaired browser (a paired one lands on the POS).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.unpaired]


def test_a_manager_starts_the_day_on_todays_figures_at_both_stores(page, manager, stores, screenshot):  # noqa: F811
    main, _ = stores
    PrintJob.objects.create(kind="receipt", location=main, status=PrintJob.Status.FAILED)
    page.goto("/accounts/login/")
    page.fill("#id_username", manager.username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))

    expect(page.locator("#today-title")).to_contain_text("Today,")
    expect(page.locator('tr[data-store="Main Street"] [data-figure="net_sales"]')).to_have_text("12.00")
    expect(page.locator('tr[data-store="All stores (2)"] [data-figure="net_sales"]')).to_have_text("33.60")
    expect(page.locator(".attention")).to_contain_text(re.compile(r"\d+ receipts or tickets did not print"))
    for width, height in ((1280, 900), (768, 1024), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"start-page-today-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
