"""The counter in a real browser: an unknown barcode replaces the "Added …" message with an error across the
screen and plays the error tone; a quick sale shows no table service."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.tests.e2e.conftest import SCREENSHOTS
from orders.tests.factories import TableFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Records every tone the page starts (the page's own WebAudio calls go through it unchanged).
RECORD_TONES = """
window.tonesPlayed = [];
const RealAudioContext = window.AudioContext;
window.AudioContext = class extends RealAudioContext {
  createOscillator() {
    const tone = super.createOscillator();
    const start = tone.start.bind(tone);
    tone.start = (...args) => { window.tonesPlayed.push(tone.frequency.value); return start(...args); };
    return tone;
  }
};
"""


@pytest.fixture
def counter(location, cashier):
    drinks = CategoryFactory(name="Drinks", location=location, sort_order=1)
    ProductFactory(
        name="Cola",
        price=Decimal("3.50"),
        category=drinks,
        tax_rate=TaxRateFactory(),
        barcode="4000000000017",
        stock_policy=Product.StockPolicy.ALLOW,
    )
    TableFactory(location=location, name="4")
    return location


def test_an_unknown_barcode_replaces_the_added_message_with_an_error_and_a_tone(page, counter, cashier):
    page.add_init_script(RECORD_TONES)
    page.goto("/accounts/login/?next=/pos/")
    page.fill("#id_username", "cashier")
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    page.click("text=Quick sale")

    ticket_head = page.locator("#ticket .ticket-head")
    expect(ticket_head).not_to_contain_text("guest")
    expect(page.locator(".order-actions")).not_to_contain_text("Send")
    expect(page.locator(".order-actions")).not_to_contain_text("Move")

    page.fill("#scan", "4000000000017")
    page.press("#scan", "Enter")
    expect(page.locator("#ticket .ok-box")).to_have_text("Added Cola.")

    page.fill("#scan", "4999999999999")
    page.press("#scan", "Enter")
    error = page.locator("#scan-message [data-scan-error]")
    expect(error).to_contain_text("4999999999999")
    expect(page.locator("#ticket .ok-box")).to_have_count(0)
    expect(page.locator("#scan")).to_have_value("")
    page.wait_for_function("window.tonesPlayed.length > 0")
    screen = page.locator(".order-screen").bounding_box()
    assert error.bounding_box()["width"] >= screen["width"] - 1, "the error stands in a narrow column"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (768, 1024), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"order-unknown-barcode-{width}.png"))

    page.click("[data-product] >> text=Cola")
    expect(page.locator("#ticket .ok-box")).to_have_text("Added Cola.")
    expect(page.locator("#scan-message [data-scan-error]")).to_have_count(0)
