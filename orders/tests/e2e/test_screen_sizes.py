"""Every POS screen on a desktop (1280), a tablet (768) and a waiter's phone (390): one column on the phone, every
action reachable, nothing overlapping or cut. Screenshots go to test-artifacts/screenshots/<screen>-<width>.png."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import Printer, Receipt
from billing.tests.factories import RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders import services
from orders.models import Order
from orders.tests.e2e.conftest import SCREENSHOTS
from orders.tests.factories import TableFactory
from orders.tests.pos_helpers import PINS, give_pin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {1280: 800, 768: 1024, 390: 844}
PHONE = {"width": 390, "height": 844}

# Every visible control a finger can hit, with its box; two that share any area overlap.
OVERLAPPING_BUTTONS = """() => {
  const seen = [];
  for (const el of document.querySelectorAll("button, .btn, summary, a.table-tile, input[type=submit]")) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === "hidden" || style.display === "none" || box.width < 1 || box.height < 1) continue;
    seen.push({el, box, text: (el.innerText || el.value || el.tagName).trim().slice(0, 30)});
  }
  const found = [];
  for (let i = 0; i < seen.length; i++) {
    for (let j = i + 1; j < seen.length; j++) {
      const a = seen[i], b = seen[j];
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const w = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
      const h = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
      if (w > 0.5 && h > 0.5) found.push(a.text + " × " + b.text);
    }
  }
  return found;
}"""

# Text cut off inside its box (an ellipsis or a clipped overflow) in any of the given elements.
CUT_TEXT = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => el.innerText.trim().slice(0, 40))"""


@pytest.fixture
def shop(location, manager, kitchen_user, tmp_path):
    tax = TaxRateFactory()
    food = CategoryFactory(name="Kitchen", location=location, station="kitchen", sort_order=1)
    drinks = CategoryFactory(name="Drinks", location=location, station="bar", sort_order=2)
    for name, price, category, barcode in [
        ("Slow-roasted pork belly with apple and celeriac remoulade", "18.50", food, "4000000000055"),
        ("Tomato soup", "6.00", food, "4000000000048"),
        ("Cola", "3.50", drinks, "4000000000017"),
        ("Sparkling elderflower lemonade, large", "4.20", drinks, "4000000000024"),
    ]:
        ProductFactory(
            name=name,
            price=Decimal(price),
            category=category,
            tax_rate=tax,
            barcode=barcode,
            stock_policy=Product.StockPolicy.ALLOW,
        )
    printer = Printer.objects.create(name="Receipts", connection="file", device_path=str(tmp_path / "printer.bin"))
    RegisterFactory(location=location, name="Till 1", printer=printer)
    for number in range(1, 9):
        TableFactory(location=location, name=str(number), section="Main room")
    for user in (manager, kitchen_user):
        give_pin(user)
    return location


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/?next=/pos/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pos/$"))


def table_order(location, user, *, table: str, guests: int) -> Order:
    products = Product.objects.filter(category__location=location).order_by("pk")
    order = services.open_order(
        location_id=location.pk,
        user=user,
        channel=Order.Channel.DINE_IN,
        table_id=location.tables.get(name=table).pk,
        guest_count=guests,
        lines=[services.NewLine(product_id=p.pk, quantity=Decimal(2)) for p in products],
    )
    services.send_to_kitchen(order.pk, user=user)
    return order


def shoot(page, screen: str) -> dict:
    """Screenshots of the page at every width; returns what was wrong at each (horizontal scrolling)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = {}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.reload(wait_until="networkidle")  # the print-problems banner has loaded: nothing in flight
        page.screenshot(path=str(SCREENSHOTS / f"{screen}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems[width] = f"{overflow}px of horizontal scrolling"
    return problems


def test_every_pos_screen_at_desktop_tablet_and_phone_widths(page, browser, live_server, shop, manager):
    problems = {}
    login = browser.new_context(base_url=live_server.url)
    login_page = login.new_page()
    login_page.goto("/accounts/login/?next=/pos/")
    problems["login"] = shoot(login_page, "login")
    login.close()

    sign_in(page, "manager")
    page.goto("/pos/shift/")
    problems["shift-start"] = shoot(page, "shift-start")
    page.fill("#opening_float", "100")
    page.click("text=Open the till")
    expect(page).to_have_url(re.compile(r"/pos/$"))

    order = table_order(shop, manager, table="4", guests=3)
    table_order(shop, manager, table="6", guests=2)
    problems["floor"] = shoot(page, "floor")
    page.goto(f"/pos/orders/{order.uuid}/")
    problems["order"] = shoot(page, "order")
    page.goto(f"/pos/orders/{order.uuid}/split/")
    problems["split"] = shoot(page, "split")
    page.goto(f"/pos/orders/{order.uuid}/pay/")
    problems["pay"] = shoot(page, "pay")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    problems["receipt"] = shoot(page, "receipt")

    page.goto("/pos/kitchen/")
    problems["kitchen"] = shoot(page, "kitchen")
    page.goto("/pos/refunds/")
    problems["refund-find"] = shoot(page, "refund-find")
    page.goto(f"/pos/refunds/{Receipt.objects.get().pk}/")
    problems["refund"] = shoot(page, "refund")
    page.goto("/pos/shift/")
    problems["shift"] = shoot(page, "shift")
    page.goto("/pos/pin/")
    problems["set-pin"] = shoot(page, "set-pin")
    page.goto("/pos/switch/")
    problems["switch"] = shoot(page, "switch")
    page.goto("/pos/shift/close/")
    problems["shift-close"] = shoot(page, "shift-close")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.fill('[name="d_100"]', "1")  # a count that does not match: the manager signs it off
    page.select_option("select[name=approver]", str(manager.pk))
    page.fill("input[name=approver_pin]", PINS["manager"])
    page.click("button:has-text('Close the till')")
    expect(page.locator("h1")).to_contain_text("Z report No. 1")
    problems["z-report"] = shoot(page, "z-report")

    page.goto("/pos/")
    page.click("button:has-text('Lock')")
    expect(page).to_have_url(re.compile(r"/pos/switch/\?locked=1"))
    problems["locked"] = shoot(page, "locked")

    assert {screen: found for screen, found in problems.items() if found} == {}


@pytest.mark.parametrize("screen", ["floor", "order", "pay"])
def test_on_a_phone_the_main_screens_are_one_column_with_no_overlapping_buttons(page, shop, manager, screen):
    sign_in(page, "manager")
    page.goto("/pos/shift/")
    page.fill("#opening_float", "100")
    page.click("text=Open the till")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    order = table_order(shop, manager, table="4", guests=3)
    page.set_viewport_size(PHONE)
    urls = {"floor": "/pos/", "order": f"/pos/orders/{order.uuid}/", "pay": f"/pos/orders/{order.uuid}/pay/"}
    page.goto(urls[screen], wait_until="networkidle")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(OVERLAPPING_BUTTONS) == []
    if screen == "order":
        ticket = page.locator("#ticket").bounding_box()
        products = page.locator(".product-panel").bounding_box()
        assert products["y"] >= ticket["y"] + ticket["height"] - 1, "the products stand beside the ticket"
        assert page.evaluate(CUT_TEXT, ".line-name") == []
        for action in ("Send", "Hold", "Pay", "Discount", "Move", "Split", "Void"):
            button = page.locator(f".order-actions >> text={action}").first
            button.scroll_into_view_if_needed()
            assert button.is_visible(), action
    if screen == "floor":  # a free table's guest count opens as a sheet inside the screen
        page.click('summary[data-table="5"]')
        guests = page.locator('[data-table="5"] + .popover-body [data-guests="8"]')
        expect(guests).to_be_in_viewport()
        box = guests.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    if screen == "order":  # so does the void popover of the last column
        page.click(".order-actions summary:has-text('Void')")
        body = page.locator(".order-actions details[open] > .popover-body")
        expect(body).to_contain_text("Why void the whole order?")  # loaded: nothing left in flight
        expect(body).to_be_in_viewport()
        box = body.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    if screen == "pay":
        sections = page.locator(".pay-screen > section").all()
        first, second = sections[0].bounding_box(), sections[1].bounding_box()
        assert second["y"] >= first["y"] + first["height"] - 1, "the payment form stands beside the total"
