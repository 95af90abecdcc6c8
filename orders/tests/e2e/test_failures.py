"""Failures are visible and retries are safe, in a real browser: the network cut while adding a product or paying, a
server error, an answer lost after the server applied the action; a refused refund or close keeps what was typed."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import sessions
from billing.models import Payment, Printer, Receipt, Refund
from billing.tests.factories import RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.models import Order, OrderLine
from orders.tests.pos_helpers import give_pin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 768, 390)
BANNER = "#failure-banner"
RETRY = "#failure-banner [data-failure-retry]"


@pytest.fixture
def shop(location, cashier, manager, tmp_path):
    category = CategoryFactory(name="Drinks", location=location, sort_order=1)
    tax = TaxRateFactory()
    for name, price in (("Cola", "3.50"), ("Tea", "2.00")):
        ProductFactory(
            name=name, price=Decimal(price), category=category, tax_rate=tax, stock_policy=Product.StockPolicy.ALLOW
        )
    printer = Printer.objects.create(name="Receipts", connection="file", device_path=str(tmp_path / "printer.bin"))
    RegisterFactory(location=location, name="Till 1", printer=printer)
    give_pin(manager)
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


def lose_the_answer(route) -> None:
    """The request reaches the server and is applied; its answer never reaches the page (the network dropped)."""
    route.fetch(max_redirects=0)
    route.abort("connectionreset")


def quick_sale(page) -> Order:
    page.click("text=Quick sale")
    expect(page.locator("[data-product]").first).to_be_visible()
    return Order.objects.get(status=Order.Status.OPEN)


def test_a_product_tapped_while_offline_shows_the_banner_and_retry_adds_it_once(page, shop, screenshot):
    sign_in_and_open_the_till(page)
    order = quick_sale(page)

    page.context.set_offline(True)
    page.click("[data-product] >> text=Cola")
    expect(page.locator(BANNER)).to_be_visible(timeout=2_000)
    expect(page.locator(BANNER)).to_contain_text("No answer from the till server")
    assert not OrderLine.objects.filter(order=order).exists()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        screenshot(page, f"failure-banner-{width}")
    page.set_viewport_size({"width": 1024, "height": 768})

    page.context.set_offline(False)
    page.click(RETRY)

    expect(page.locator("#ticket")).to_contain_text("Cola")
    expect(page.locator(BANNER)).to_be_hidden()
    assert list(OrderLine.objects.filter(order=order).values_list("name", "quantity")) == [("Cola", 1)]


def test_an_answer_lost_after_the_line_was_added_is_retried_without_a_second_line(page, shop):
    sign_in_and_open_the_till(page)
    order = quick_sale(page)
    page.route("**/lines/", lose_the_answer)

    page.click("[data-product] >> text=Tea")
    expect(page.locator(BANNER)).to_be_visible(timeout=2_000)
    assert OrderLine.objects.get(order=order).quantity == 1  # the server applied it; the page does not know

    page.unroute("**/lines/")
    page.click(RETRY)

    expect(page.locator("#ticket")).to_contain_text("Tea")
    expect(page.locator(BANNER)).to_be_hidden()
    assert OrderLine.objects.get(order=order).quantity == 1

    page.click("[data-product] >> text=Tea")  # answered: the next tap is a new tap
    expect(page.locator('[data-total="total"]')).to_have_text("4.00")


def test_a_server_error_shows_the_banner_until_dismissed(page, shop):
    sign_in_and_open_the_till(page)
    order = quick_sale(page)
    page.route("**/lines/", lambda route: route.fulfill(status=500, body="Server Error (500)"))

    page.click("[data-product] >> text=Cola")

    banner = page.locator(BANNER)
    expect(banner).to_be_visible(timeout=2_000)
    expect(banner).to_contain_text("error 500")
    expect(banner).to_have_attribute("role", "alert")
    expect(page.locator("[data-product] >> text=Cola")).to_be_enabled()  # no longer busy
    page.click(f"{BANNER} [data-failure-dismiss]")
    expect(banner).to_be_hidden()
    assert not OrderLine.objects.filter(order=order).exists()


def test_a_double_tapped_payment_whose_answer_was_lost_is_one_sale_after_retry(page, shop):
    sign_in_and_open_the_till(page)
    order = quick_sale(page)
    page.click("[data-product] >> text=Cola")
    expect(page.locator('[data-total="total"]')).to_have_text("3.50")
    page.click("text=Pay 3.50")
    expect(page.locator("h1")).to_contain_text("to pay")
    page.fill("#amount_0", "5.00")
    pay_url = f"**/pos/orders/{order.uuid}/pay/"
    page.route(pay_url, lose_the_answer)

    with page.expect_event("requestfailed"):
        page.dblclick("button:has-text('Take payment')")
    expect(page.locator(BANNER)).to_be_visible(timeout=2_000)
    with page.expect_event("requestfailed"):
        page.click("button:has-text('Take payment')")  # tapped again after the failure: the same action
    expect(page.locator(BANNER)).to_be_visible()
    assert (Payment.objects.count(), Receipt.objects.count()) == (1, 1)  # applied by the first; the page never knew

    page.unroute(pay_url)
    page.click(RETRY)

    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    assert (Payment.objects.count(), Receipt.objects.count()) == (1, 1)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_refused_refund_keeps_the_quantities_reason_and_tender_typed(page, shop, cashier):
    sign_in_and_open_the_till(page)
    order = quick_sale(page)
    page.click("[data-product] >> text=Cola")
    page.click("[data-product] >> text=Tea")
    expect(page.locator('[data-total="total"]')).to_have_text("5.50")
    page.click("text=Pay 5.50")
    page.fill("#amount_0", "5.50")
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    cola, tea = order.lines.order_by("name")

    page.click("nav >> text=Refund")
    page.fill("#refund-code", "1")
    page.press("#refund-code", "Enter")
    page.fill(f'[name="qty_{cola.pk}"]', "1")
    page.fill(f'[name="qty_{tea.pk}"]', "1")
    page.select_option(f'[name="restock_{tea.pk}"]', "0")
    page.fill("#refund-reason", "Flat")
    page.select_option("#refund-tender", "card")
    page.click("button:has-text('Refund')")  # no manager PIN: refused

    expect(page.locator(".error-box[role=alert]")).to_be_visible()
    expect(page.locator(f'[name="qty_{cola.pk}"]')).to_have_value("1")
    expect(page.locator(f'[name="qty_{tea.pk}"]')).to_have_value("1")
    expect(page.locator(f'[name="restock_{tea.pk}"]')).to_have_value("0")
    expect(page.locator("#refund-reason")).to_have_value("Flat")
    expect(page.locator("#refund-tender")).to_have_value("card")
    assert not Refund.objects.exists()


def test_a_refused_close_keeps_every_denomination_count_and_the_note(page, shop, screenshot):
    sign_in_and_open_the_till(page)
    page.click("nav >> text=Shift")
    page.click("text=End of shift")
    counts = {str(d): str(i + 1) for i, d in enumerate(sessions.denominations())}
    assert len(counts) == 15
    for denomination, count in counts.items():
        page.fill(f'[name="d_{denomination}"]', count)
    page.fill("#close-note", "Float bag short")
    page.click("button:has-text('Close the till')")  # far off the expected cash: a manager must sign off

    expect(page.locator(".error-box[role=alert]")).to_contain_text("manager")
    for denomination, count in counts.items():
        expect(page.locator(f'[name="d_{denomination}"]')).to_have_value(count)
    expect(page.locator("#close-note")).to_have_value("Float bag short")
    screenshot(page, "shift-close-refused-keeps-counts")


def test_a_key_reused_for_another_product_is_refused_in_the_banner_and_adds_nothing(page, shop):
    sign_in_and_open_the_till(page)
    order = quick_sale(page)
    with page.expect_request(lambda request: request.method == "POST") as sent:
        page.click("[data-product] >> text=Cola")
    expect(page.locator('[data-total="total"]')).to_have_text("3.50")
    used = sent.value.headers["idempotency-key"]

    # A device that reused a key for another action (the server must not take it for a retry of the first).
    page.evaluate("(key) => { document.querySelectorAll('[data-product]')[1].form.posKey = key; }", used)
    page.click("[data-product] >> text=Tea")

    banner = page.locator(BANNER)
    expect(banner).to_be_visible(timeout=2_000)
    expect(banner).to_contain_text("already sent with other details")
    expect(page.locator(RETRY)).to_be_hidden()
    expect(page.locator('[data-total="total"]')).to_have_text("3.50")
    assert list(OrderLine.objects.filter(order=order).values_list("name", flat=True)) == ["Cola"]


def test_a_tap_is_busy_at_once_until_the_server_answers(page, shop, screenshot):
    sign_in_and_open_the_till(page)
    order = quick_sale(page)
    held = []
    page.route("**/lines/", lambda route: held.append(route))  # the request waits here until the test lets it go

    page.click("[data-product] >> text=Cola")

    button = page.locator("[data-product] >> text=Cola").locator("xpath=ancestor::button")
    expect(button).to_be_disabled()
    expect(button.locator("xpath=ancestor::form")).to_have_attribute("aria-busy", "true")
    screenshot(page, "busy-tap")
    assert len(held) == 1 and not OrderLine.objects.filter(order=order).exists()

    held[0].continue_()

    expect(page.locator("#ticket")).to_contain_text("Cola")
    expect(button).to_be_enabled()
    expect(page.locator("form[aria-busy]")).to_have_count(0)
