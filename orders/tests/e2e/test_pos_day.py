"""A day at the till in a real browser: sale with a scanned item, reprint, table service with two courses, the
kitchen bumping them, a refund a manager approves, and the blind-count close with its Z report."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import CashSession, Printer, PrintJob, Receipt, Refund, ZReport
from billing.tests.factories import RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.models import KitchenTicket, Order
from orders.tests.factories import TableFactory
from orders.tests.pos_helpers import PINS, give_pin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(location, cashier, waiter, manager, kitchen_user, tmp_path):
    tax = TaxRateFactory()
    drinks = CategoryFactory(name="Drinks", location=location, station="bar", sort_order=1)
    snacks = CategoryFactory(name="Snacks", location=location, sort_order=2)
    kitchen = CategoryFactory(name="Kitchen", location=location, station="kitchen", sort_order=3)

    def item(name, price, category, barcode):
        return ProductFactory(
            name=name,
            price=Decimal(price),
            category=category,
            tax_rate=tax,
            barcode=barcode,
            stock_policy=Product.StockPolicy.ALLOW,
        )

    item("Cola", "3.50", drinks, "4000000000017")
    item("Lemonade", "2.00", drinks, "4000000000024")
    item("Salted crisps", "1.50", snacks, "4000000000031")
    item("Tomato soup", "6.00", kitchen, "4000000000048")
    item("Steak frites", "18.00", kitchen, "4000000000055")
    printer = Printer.objects.create(name="Receipts", connection="file", device_path=str(tmp_path / "printer.bin"))
    RegisterFactory(location=location, name="Till 1", printer=printer)
    TableFactory(location=location, name="4", section="Main room")
    TableFactory(location=location, name="5", section="Main room")
    for user in (cashier, waiter, manager, kitchen_user):
        give_pin(user)
    return location


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/?next=/pos/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pos/$"))


def switch_to(page, user, pin: str) -> None:
    page.click("text=Switch user")
    page.click(f'.staff-tiles [data-value="{user.pk}"]')
    for digit in pin:
        page.click(f'.keypad [data-key="{digit}"]')
    page.click("button:has-text('Switch')")
    expect(page).to_have_url(re.compile(r"/pos/$"))


def test_a_day_at_the_till(page, shop, cashier, waiter, manager, kitchen_user, screenshot):
    # The cashier signs in and opens the till with a float of 100.
    sign_in(page, "cashier")
    page.click("nav >> text=Shift")
    screenshot(page, "01-start-of-shift")
    page.fill("#opening_float", "100")
    page.click("text=Open the till")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    assert CashSession.objects.get().opening_float == Decimal("100.00")

    # Three items: two tapped in the grid, one scanned (typed + Enter in the search box).
    page.click("text=Quick sale")
    page.click("[data-product] >> text=Cola")
    expect(page.locator("#ticket [data-line]")).to_have_count(1)
    page.click(".categories >> text=Snacks")
    page.click("[data-product] >> text=Salted crisps")
    expect(page.locator("#ticket [data-line]")).to_have_count(2)
    page.fill("#scan", "4000000000024")
    page.press("#scan", "Enter")
    expect(page.locator("#ticket [data-line]")).to_have_count(3)
    expect(page.locator('[data-total="total"]')).to_have_text("7.00")
    expect(page.locator("#scan")).to_have_value("")
    screenshot(page, "02-order-screen")

    # Cash with change; the receipt is number 1; reprint it.
    page.click("text=Pay 7.00")
    page.click('.quick-cash [data-key="=10.00"]')
    expect(page.locator("[data-change-for]")).to_have_text("Change due: 3.00")
    screenshot(page, "03-payment")
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    expect(page.locator("[data-change]")).to_contain_text("3.00")
    screenshot(page, "04-receipt")
    page.click("button:has-text('Reprint')")
    expect(page.locator(".ok-box")).to_contain_text("copy")
    assert PrintJob.objects.filter(receipt__number=1, is_copy=True).count() == 1

    # The waiter takes over with a PIN, opens table 4 and sends two courses.
    switch_to(page, waiter, PINS["waiter"])
    screenshot(page, "05-floor")
    page.click('[data-table="4"]')
    page.click('[data-guests="2"]')
    expect(page.locator("#ticket")).to_contain_text("Table 4 · 2 guests")
    page.click(".categories >> text=Kitchen")
    page.click("[data-product] >> text=Tomato soup")
    page.click("[data-product] >> text=Steak frites")
    expect(page.locator("#ticket [data-line]")).to_have_count(2)
    page.click("#ticket [data-line]:has-text('Steak frites') summary")
    page.select_option("#ticket [data-line]:has-text('Steak frites') select[name=course]", "2")
    page.click("#ticket [data-line]:has-text('Steak frites') >> text=Save line")
    expect(page.locator(".course-head")).to_have_count(2)
    page.click("button:has-text('Send')")
    expect(page.locator(".ok-box")).to_contain_text("2 tickets.")
    assert KitchenTicket.objects.count() == 2

    # The kitchen screen shows both tickets and bumps them.
    switch_to(page, kitchen_user, PINS["kitchen"])
    page.goto("/pos/kitchen/")
    expect(page.locator(".ticket")).to_have_count(2)
    expect(page.locator(".ticket").first).to_contain_text("Table 4")
    screenshot(page, "06-kitchen")
    page.locator(".ticket button:has-text('Done')").first.click()
    expect(page.locator(".ticket")).to_have_count(1)
    page.locator(".ticket button:has-text('Done')").first.click()
    expect(page.locator(".ticket")).to_have_count(0)
    assert set(KitchenTicket.objects.values_list("status", flat=True)) == {"bumped"}

    # Back at the till, a refund of the cola, approved by the manager's PIN.
    switch_to(page, cashier, PINS["cashier"])
    page.click("nav >> text=Refund")
    page.fill("#refund-code", "1")
    page.press("#refund-code", "Enter")
    cola = Order.objects.get(receipts__number=1).lines.get(name="Cola")
    page.fill(f'[name="qty_{cola.pk}"]', "1")
    page.fill("#refund-reason", "Flat")
    page.select_option("select[name=approver]", str(manager.pk))
    page.fill("input[name=approver_pin]", PINS["manager"])
    screenshot(page, "07-refund")
    page.click("button:has-text('Refund')")
    expect(page.locator("h1")).to_contain_text("Refund No.")
    refund = Refund.objects.get()
    assert refund.amount == Decimal("3.50") and refund.approved_by == manager

    # End of shift: blind count of 100 + 7.00 - 3.50 = 103.50, then the Z report.
    page.click("nav >> text=Shift")
    page.click("text=End of shift")
    expect(page.locator("body")).not_to_contain_text("Cash expected")
    page.fill('[name="d_100"]', "1")
    page.fill('[name="d_2"]', "1")
    page.fill('[name="d_1"]', "1")
    page.fill('[name="d_0.50"]', "1")
    screenshot(page, "08-blind-count")
    page.click("button:has-text('Close the till')")
    expect(page.locator("h1")).to_contain_text("Z report No. 1")
    expect(page.locator('[data-z="over_short"]')).to_have_text("0.00")
    screenshot(page, "09-z-report")
    z = ZReport.objects.get()
    assert z.net_sales == Decimal("3.50")
    assert Receipt.objects.count() == 2


def test_the_terminal_locks_itself_when_idle_and_a_pin_unlocks_it(page, shop, cashier, settings, screenshot):
    settings.POS_IDLE_LOCK_SECONDS = 2
    sign_in(page, "cashier")

    expect(page).to_have_url(re.compile(r"/pos/switch/\?locked=1"), timeout=10_000)
    expect(page.locator("h1")).to_contain_text("locked")
    screenshot(page, "10-locked")
    page.click(f'.staff-tiles [data-value="{cashier.pk}"]')
    page.fill("#switch-pin", PINS["cashier"])
    page.click("button:has-text('Unlock')")

    expect(page).to_have_url(re.compile(r"/pos/$"))
