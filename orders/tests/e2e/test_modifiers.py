"""Modifier groups in a real browser: a dish with a forced "Doneness" group cannot be added without a choice, the
chosen options reach the kitchen ticket, the kitchen display and the receipt, and the extra's ingredient leaves
stock."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from billing.models import Printer, PrintJob, StationPrinter
from billing.receipts import render_job
from billing.tests.factories import RegisterFactory
from inventory.models import StockMove
from orders.models import OrderLine
from orders.tests.e2e.test_pos_day import sign_in, switch_to
from orders.tests.helpers import dish_with_groups
from orders.tests.pos_helpers import PINS, give_pin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {"1280": (1280, 800), "768": (768, 1024), "390": (390, 844)}


@pytest.fixture
def grill(location, cashier, kitchen_user, tmp_path):
    dish, options, bacon = dish_with_groups(location, name="Steak")
    dish.category.location = location
    dish.category.save()
    printers = {
        name: Printer.objects.create(name=name, connection="file", device_path=str(tmp_path / f"{name}.bin"))
        for name in ("Receipts", "Grill")
    }
    RegisterFactory(location=location, name="Till 1", printer=printers["Receipts"])
    StationPrinter.objects.create(location=location, station="grill", printer=printers["Grill"])
    for user in (cashier, kitchen_user):
        give_pin(user)
    return dish, options, bacon


def test_a_dish_needs_its_doneness_and_its_choices_reach_kitchen_receipt_and_stock(
    page, grill, location, cashier, kitchen_user, screenshot
):
    dish, options, bacon = grill
    sign_in(page, "cashier")
    page.click("nav >> text=Shift")
    page.fill("#opening_float", "100")
    page.click("text=Open the till")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    page.click("text=Quick sale")

    # Tapping the dish opens the chooser; "Add" without a doneness is refused with a message, and nothing is added.
    expect(page.locator(".categories .selected")).to_have_text("Grill")
    page.click("[data-product] >> text=Steak")
    chooser = page.locator("[data-chooser]")
    expect(chooser).to_contain_text("Doneness")
    expect(chooser).to_contain_text("choose 1 · required")
    expect(chooser).to_contain_text("up to 3")
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"20-modifier-chooser-{name}")
    page.set_viewport_size({"width": 1024, "height": 768})
    chooser.locator("label:has-text('Bacon')").click()
    chooser.locator("button:has-text('Add')").click()
    expect(chooser.locator(".error-box")).to_contain_text("choose one option for Doneness")
    expect(page.locator("#ticket [data-line]")).to_have_count(0)

    # The extras stop at three; with a doneness chosen the dish is added with its choices and their price.
    for name in ("Cheese", "Chips"):
        chooser.locator(f"label:has-text('{name}')").click()
    expect(chooser.locator(f"input[value='{options['Egg'].pk}']")).to_be_disabled()
    chooser.locator("label:has-text('Chips')").click()
    chooser.locator("label:has-text('Medium')").click()
    chooser.locator("button:has-text('Add')").click()
    expect(page.locator("[data-chooser]")).to_have_count(0)
    expect(page.locator("#ticket [data-line]")).to_have_count(1)
    expect(page.locator("#ticket [data-line]")).to_contain_text("Medium, Bacon +1.50, Cheese +1.00")
    expect(page.locator('[data-total="total"]')).to_have_text("14.50")
    screenshot(page, "21-order-with-modifiers")

    # The API refuses the same dish without a doneness: 400 naming the field.
    api = APIClient()
    api.force_authenticate(cashier)
    refused = api.post("/api/v1/orders/", {"location": location.pk, "lines": [{"product": dish.pk}]}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["lines[0].modifiers"]

    # Sent to the kitchen: the printed ticket and the kitchen display show the choices.
    page.click("button:has-text('Send')")
    expect(page.locator(".ok-box")).to_contain_text("1 ticket.")
    printed = render_job(PrintJob.objects.get(kind=PrintJob.Kind.KITCHEN)).decode("cp437", errors="replace")
    assert "+ Medium" in printed and "+ Bacon +1.50" in printed
    order_url = page.url
    switch_to(page, kitchen_user, PINS["kitchen"])
    page.goto("/pos/kitchen/")
    ticket = page.locator(".ticket")
    expect(ticket).to_contain_text("Steak")
    expect(ticket).to_contain_text("+ Medium")
    expect(ticket).to_contain_text("+ Bacon")
    screenshot(page, "22-kitchen-with-modifiers")

    # Paid: the receipt shows the choices, and the bacon the extra uses leaves stock.
    switch_to(page, cashier, PINS["cashier"])
    page.goto(order_url)
    page.click("text=Pay 14.50")
    page.click("button:has-text('Take payment')")
    receipt = page.locator(".receipt-paper")
    expect(receipt).to_contain_text("+ Medium")
    expect(receipt).to_contain_text("+ Bacon +1.50")
    screenshot(page, "23-receipt-with-modifiers")
    move = StockMove.objects.get(product=bacon, reason=StockMove.Reason.SALE)
    assert move.delta == Decimal("-0.050")
    assert OrderLine.objects.get().modifiers[0]["name"] == "Medium"
