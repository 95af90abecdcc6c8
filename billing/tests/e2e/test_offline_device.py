"""Selling without the server, in Chromium (issue 22, the device's part): the catalogue and the offline screen kept on
the terminal (service worker + IndexedDB), the queue of sales with its indicator, and the sync when the server is
back. Screenshots: test-artifacts/screenshots/offline-*.png at 1280, 768 and 390 pixels wide."""

import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import sessions
from billing.models import OfflineSale, Payment, PrintJob, Receipt, TerminalSync
from billing.tests.factories import PrinterFactory, RegisterFactory
from inventory.models import Product, StockLevel
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.models import ModifierGroup, Order, OrderLine
from orders.tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, pair_context
from orders.tests.factories import ModifierGroupFactory, ModifierOptionFactory
from staff.models import AuditEvent
from staff.terminals import DEVICE_COOKIE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = ((1280, 800), (768, 1024), (390, 844))
alerts: list[tuple[str, str, dict]] = []


def collect(event, message, data):
    alerts.append((event, message, data))


@pytest.fixture
def shop(location, cashier):
    """Drinks (Cola with a barcode, Latte with a milk to choose) and a last cake that may not go below zero."""
    drinks = CategoryFactory(name="Drinks", location=location, sort_order=1)
    standard = TaxRateFactory()
    allow = Product.StockPolicy.ALLOW
    cola = ProductFactory(
        name="Cola",
        sku="COLA",
        price=Decimal("3.50"),
        category=drinks,
        tax_rate=standard,
        barcode="4000000000017",
        stock_policy=allow,
    )
    latte = ProductFactory(
        name="Latte", sku="LATTE", price=Decimal("3.20"), category=drinks, tax_rate=standard, stock_policy=allow
    )
    milk = ModifierGroupFactory(name="Milk", min_choices=1, max_choices=1)
    ModifierOptionFactory(group=milk, name="Whole", price_delta=Decimal("0"))
    oat = ModifierOptionFactory(group=milk, name="Oat", price_delta=Decimal("0.40"))
    milk.products.add(latte)
    cake = ProductFactory(
        name="Last cake",
        sku="CAKE",
        price=Decimal("5.00"),
        category=drinks,
        tax_rate=standard,
        stock_policy=Product.StockPolicy.BLOCK,
    )
    StockLevel.objects.update_or_create(
        product=cake, location=location, defaults={"on_hand": Decimal("1"), "allow_negative": False}
    )
    return {"cola": cola, "latte": latte, "oat": oat, "cake": cake, "milk": milk}


@pytest.fixture
def till(browser, live_server, location, cashier):
    """A browser context paired as a terminal with a printer, its till open; yields (context, terminal)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    device, stop = pair_context(context, location, live_server.url, printer=PrinterFactory())
    register = RegisterFactory(location=location)
    sessions.open_session(register_id=register.pk, user=cashier, opening_float=Decimal("100.00"))
    device.refresh_from_db()
    assert device.register_id == register.pk
    yield context, device
    context.close()
    stop()


def sign_in(page, username="cashier"):
    page.goto("/accounts/login/?next=/pos/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pos/$"))


def ready_for_offline(page):
    """The catalogue is on the device and the offline screen is kept by the service worker."""
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "yes", timeout=20_000)


def open_offline_screen(page):
    indicator = page.locator("#offline-status")
    expect(indicator).to_have_attribute("data-state", "offline")
    page.click("[data-offline-sell]")
    expect(page).to_have_url(re.compile(r"/pos/offline/$"))
    expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")


def pay(page, tender="cash", tendered=None):
    """Pay the ticket; returns what the screen showed (total, change, reference)."""
    page.click("[data-pay]")
    panel = page.locator("#offline-pay")
    expect(panel).to_be_visible()
    panel.locator(f"[data-tender={tender}]").click()
    if tender == "cash" and tendered is not None:
        page.fill("#offline-tendered", tendered)
        expect(panel.locator("[data-change]")).to_contain_text("Change")
    panel.locator("[data-pay-complete]").click()
    done = page.locator("#offline-done")
    expect(done).to_be_visible()
    shown = {
        "reference": done.locator("[data-done-reference]").inner_text(),
        "total": done.locator("[data-done=total]").inner_text(),
        "change": done.locator("[data-done=change]").inner_text() if tender == "cash" else None,
    }
    done.locator("[data-new-sale]").click()
    expect(done).to_be_hidden()
    return shown


def tap(page, name):
    page.click(f"#products [data-product-id] >> text={name}")


def shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=False)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: {overflow}px of horizontal scrolling at {width}"
    page.set_viewport_size({"width": 1280, "height": 800})


def wait_for(page, condition, *, seconds: float, message: str):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {message}")
        page.wait_for_timeout(100)
    return time.monotonic()


def test_twenty_sales_made_offline_reach_the_database_once_each_when_the_network_returns(till, shop, cashier):
    context, device = till
    page = context.new_page()
    sign_in(page)
    ready_for_offline(page)
    expect(page.locator("#offline-status")).to_have_attribute("data-queued", "0")

    context.set_offline(True)
    open_offline_screen(page)
    expect(page.locator("[data-offline-staff]")).to_have_text(cashier.get_full_name())

    shown = []
    # 1: cash with change; 2: a latte with oat milk, by card; 3: cola scanned by its barcode.
    tap(page, "Cola")
    tap(page, "Cola")
    expect(page.locator("#totals [data-total=total]")).to_have_text("7.00")
    shown.append(pay(page, "cash", "10"))
    assert shown[-1]["change"] == "3.00"
    tap(page, "Latte")
    chooser = page.locator("[data-chooser]")
    chooser.locator("button:has-text('Add')").click()
    expect(chooser.locator(".error-box")).to_contain_text("Milk")
    chooser.locator("label:has-text('Oat')").click()
    chooser.locator("button:has-text('Add')").click()
    expect(page.locator("#lines [data-line]")).to_contain_text("Oat")
    expect(page.locator("#totals [data-total=total]")).to_have_text("3.60")
    shown.append(pay(page, "card"))
    page.fill("#scan", "4000000000017")
    page.press("#scan", "Enter")
    expect(page.locator("#ticket .ok-box")).to_have_text("Added Cola.")
    shown.append(pay(page, "cash", "5"))
    assert shown[-1]["change"] == "1.50"
    page.fill("#scan", "4999999999999")
    page.press("#scan", "Enter")
    expect(page.locator("#scan-message [data-scan-error]")).to_contain_text("4999999999999")
    for i in range(3, 10):
        tap(page, "Cola")
        shown.append(pay(page, "card" if i % 2 else "cash", None if i % 2 else "20"))
    expect(page.locator("#offline-status")).to_have_attribute("data-queued", "10")
    expect(page.locator("#offline-status")).to_contain_text("Offline · 10 queued · oldest")

    # A reload while still offline opens the offline screen again, with the queue as it was.
    page.reload()
    expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")
    expect(page.locator("#offline-status")).to_have_attribute("data-queued", "10")
    for i in range(10, 20):
        tap(page, "Latte")
        page.locator("[data-chooser] label:has-text('Whole')").click()
        page.locator("[data-chooser] button:has-text('Add')").click()
        if i % 3 == 0:
            tap(page, "Cola")
        shown.append(pay(page, "cash" if i % 2 else "card", "50" if i % 2 else None))
    indicator = page.locator("#offline-status")
    expect(indicator).to_have_attribute("data-queued", "20")
    expect(indicator).to_have_class(re.compile("is-offline"))
    tap(page, "Cola")
    shoot(page, "offline-screen-queued")
    page.click("[data-pay]")
    page.locator("#offline-tendered").fill("10")
    shoot(page, "offline-pay")
    page.click("[data-pay-cancel]")
    page.click("[data-clear]")
    assert not OfflineSale.objects.exists() and not Order.objects.exists()
    references = [s["reference"] for s in shown]
    assert references == [f"T{device.pk}-{n:06d}" for n in range(1, 21)]

    back = time.monotonic()
    context.set_offline(False)
    synced = wait_for(
        page, lambda: OfflineSale.objects.count() == 20, seconds=10, message="the 20 sales in the database"
    )
    expect(indicator).to_have_attribute("data-queued", "0", timeout=10_000)
    expect(indicator).to_have_attribute("data-state", "online")
    print(f"\n20 offline sales synced {synced - back:.2f}s after the network returned")

    sales = list(OfflineSale.objects.select_related("order").order_by("sequence"))
    assert [s.reference for s in sales] == references
    assert all(s.status == OfflineSale.Status.APPLIED and s.flags == [] for s in sales)
    assert [s.order.total for s in sales] == [Decimal(s["total"]) for s in shown]
    assert Order.objects.filter(status=Order.Status.PAID).count() == 20
    numbers = [s.order.receipts.get().number for s in sales]
    assert numbers == list(range(numbers[0], numbers[0] + 20))
    assert PrintJob.objects.filter(kind=PrintJob.Kind.RECEIPT, receipt__number__in=numbers).count() == 20
    assert Payment.objects.count() == 20
    latte_line = OrderLine.objects.get(order=sales[1].order)
    assert latte_line.modifiers and latte_line.modifiers[0]["name"] == "Oat"
    assert sales[0].order.payments.get().tendered == Decimal("10.00")
    assert sales[0].order.payments.get().change == Decimal("3.00")
    state = TerminalSync.objects.get(terminal=device)  # what the device said of its queue with the sync
    assert state.queue_length == 0 and state.last_sync_at is not None
    shoot(page, "offline-screen-synced")


def test_a_sync_cut_in_the_middle_resumes_without_doubling_any_sale(till, shop):
    """The server applies the batch of ten but the answer never reaches the device (the network is cut while the
    sync is in flight); when the network returns the device sends the same ten again: still exactly ten."""
    context, _ = till
    page = context.new_page()
    sign_in(page)
    ready_for_offline(page)
    context.set_offline(True)
    open_offline_screen(page)
    for _ in range(10):
        tap(page, "Cola")
        pay(page, "card")
    expect(page.locator("#offline-status")).to_have_attribute("data-queued", "10")

    cut = {"done": False}

    def cut_after_the_server_applied(route):
        if cut["done"]:
            route.continue_()
            return
        route.fetch()  # the server applies the ten sales ...
        context.set_offline(True)  # ... and the network goes while the answer is on its way
        route.abort("internetdisconnected")
        cut["done"] = True

    context.route("**/pos/offline/sync/", cut_after_the_server_applied)
    context.set_offline(False)
    wait_for(page, lambda: cut["done"], seconds=10, message="a sync was sent")
    assert OfflineSale.objects.count() == 10
    page.wait_for_timeout(500)
    expect(page.locator("#offline-status")).to_have_attribute("data-queued", "10")
    expect(page.locator("#offline-status")).to_have_attribute("data-state", "offline")

    context.set_offline(False)
    expect(page.locator("#offline-status")).to_have_attribute("data-queued", "0", timeout=10_000)
    assert OfflineSale.objects.count() == 10
    assert Order.objects.count() == 10 and Receipt.objects.count() == 10 and Payment.objects.count() == 10
    assert AuditEvent.objects.filter(action="offline_sale_applied").count() == 10


def test_a_price_changed_while_offline_keeps_the_old_price_and_a_block_product_oversold_is_flagged_and_alerted(
    till, shop, location, settings
):
    alerts.clear()
    settings.NOTIFIER = f"{__name__}.collect"
    context, _ = till
    page = context.new_page()
    sign_in(page)
    ready_for_offline(page)
    context.set_offline(True)
    open_offline_screen(page)
    cola = shop["cola"]
    cola.price = Decimal("4.00")
    cola.save()

    tap(page, "Cola")
    cola_sale = pay(page, "cash", "5")
    assert cola_sale["total"] == "3.50"
    tap(page, "Last cake")
    tap(page, "Last cake")
    cake_sale = pay(page, "card")
    assert cake_sale["total"] == "10.00"

    context.set_offline(False)
    expect(page.locator("#offline-status")).to_have_attribute("data-queued", "0", timeout=10_000)
    cola, cake = OfflineSale.objects.select_related("order").order_by("sequence")
    assert cola.status == cake.status == OfflineSale.Status.APPLIED
    assert [f["code"] for f in cola.flags] == ["price_changed"]
    assert Decimal(cola.flags[0]["sold_at"]) == Decimal("3.50")
    assert Decimal(cola.flags[0]["catalogue"]) == Decimal("4.00")
    assert cola.order.total == Decimal("3.50")
    assert [f["code"] for f in cake.flags] == ["oversold"]
    assert StockLevel.objects.get(product=shop["cake"], location=location).on_hand == Decimal("-1")
    assert AuditEvent.objects.filter(action="oversold_offline").count() == 1
    wait_for(page, lambda: [event for event, _, _ in alerts] == ["offline_oversold"], seconds=5, message="the alert")

    # Back online, the terminal takes the new price within its next catalogue poll (30 s; asked for here at once).
    page.evaluate("TillhouseOffline.refreshCatalogue()")
    expect(page.locator("#products [data-product-id] >> text=Cola").locator("..")).to_contain_text("4.00")
    page.reload()
    expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")
    expect(page.locator("#products [data-product-id] >> text=Cola").locator("..")).to_contain_text("4.00")


def test_the_queue_survives_a_browser_restart(browser, live_server, location, cashier, shop, tmp_path):
    """A real browser restart: a persistent profile (IndexedDB, the service worker and its cache on disk) closed with
    three sales queued offline and opened again still offline shows them queued, and sends them once online."""
    profile = tmp_path / "profile"
    launch = dict(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        base_url=live_server.url,
        viewport={"width": 1280, "height": 800},
    )
    context = browser.browser_type.launch_persistent_context(str(profile), **launch)
    device, stop = pair_context(context, location, live_server.url)
    # A paired device keeps its cookie across restarts (pairing sets it for years, not for the browser session).
    context.add_cookies(
        [{**cookie, "expires": time.time() + 86400} for cookie in context.cookies() if cookie["name"] == DEVICE_COOKIE]
    )
    try:
        register = RegisterFactory(location=location)
        sessions.open_session(register_id=register.pk, user=cashier, opening_float=Decimal("100.00"))
        page = context.pages[0] if context.pages else context.new_page()
        sign_in(page)
        ready_for_offline(page)
        context.set_offline(True)
        open_offline_screen(page)
        for _ in range(3):
            tap(page, "Cola")
            pay(page, "card")
        expect(page.locator("#offline-status")).to_have_attribute("data-queued", "3")
        context.close()

        context = browser.browser_type.launch_persistent_context(str(profile), **launch)
        context.set_offline(True)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto("/pos/offline/")
        expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")
        expect(page.locator("#offline-status")).to_have_attribute("data-queued", "3")
        assert not OfflineSale.objects.exists()
        context.set_offline(False)
        expect(page.locator("#offline-status")).to_have_attribute("data-queued", "0", timeout=10_000)
        assert list(
            OfflineSale.objects.filter(status=OfflineSale.Status.APPLIED)
            .order_by("sequence")
            .values_list("reference", flat=True)
        ) == [f"T{device.pk}-{n:06d}" for n in (1, 2, 3)]
        assert Order.objects.filter(status=Order.Status.PAID).count() == 3
    finally:
        context.close()
        stop()


def test_the_indicator_on_the_order_screens_says_offline_and_offers_the_offline_screen(till, shop):
    context, _ = till
    page = context.new_page()
    sign_in(page)
    ready_for_offline(page)
    indicator = page.locator("#offline-status")
    expect(indicator).to_have_text(re.compile("Online"))
    context.set_offline(True)
    expect(indicator).to_contain_text("Offline")
    expect(page.locator("[data-offline-sell]")).to_be_visible()
    shoot(page, "offline-indicator")
    # A POS link followed without the server opens the offline screen.
    page.goto("/pos/")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")

    # A line's quantity goes up and down and the line goes, the totals following; the sale can be a takeaway.
    tap(page, "Cola")
    line = page.locator("#lines [data-line]")
    line.locator("summary").click()
    line.locator("[data-line-more]").click()
    expect(page.locator("#totals [data-total=total]")).to_have_text("7.00")
    page.locator("#lines [data-line] [data-line-less]").click()
    expect(page.locator("#totals [data-total=total]")).to_have_text("3.50")
    page.locator("#lines [data-line] [data-line-remove]").click()
    expect(line).to_have_count(0)
    expect(page.locator("[data-pay]")).to_be_disabled()
    page.click("[data-channel=takeaway]")
    expect(page.locator("[data-offline-title]")).to_have_text("Takeaway")
    tap(page, "Cola")
    pay(page, "other")
    context.set_offline(False)
    expect(indicator).to_have_attribute("data-queued", "0", timeout=10_000)
    order = OfflineSale.objects.get().order
    assert order.channel == Order.Channel.TAKEAWAY and order.payments.get().tender == "other"
    assert ModifierGroup.objects.count() == 1


def test_a_terminal_locked_without_the_server_sells_nothing_offline_until_unlocked_online(till, shop):
    context, _ = till
    page = context.new_page()
    sign_in(page)
    ready_for_offline(page)
    context.set_offline(True)
    expect(page.locator("#offline-status")).to_have_attribute("data-state", "offline")
    page.click("#lock-form button")
    expect(page).to_have_url(re.compile(r"/pos/offline/$"))
    expect(page.locator("[data-offline-locked]")).to_contain_text("This terminal is locked")
    expect(page.locator("#products [data-product-id]")).to_have_count(0)
    page.reload()
    expect(page.locator("[data-offline-locked]")).to_be_visible()

    # Online again, the next till page locks the server's session too: the lock screen. Signed in again, the terminal
    # sells offline again.
    context.set_offline(False)
    page.goto("/pos/")
    expect(page).to_have_url(re.compile(r"/pos/switch/\?locked=1"))
    expect(page.locator("#offline-status")).to_have_attribute("data-locked", "1")
    sign_in(page)
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "yes", timeout=20_000)
    context.set_offline(True)
    page.goto("/pos/offline/")
    expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")


def test_a_price_changed_on_the_server_reaches_a_terminal_within_a_minute(till, shop):
    """The terminal asks for its catalogue every 30 s while online (the page's clock is run forward here): a new
    price is on the offline screen, ready for the next outage, without a reload."""
    context, _ = till
    page = context.new_page()
    page.clock.install()
    sign_in(page)
    ready_for_offline(page)
    page.goto("/pos/offline/")
    expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")
    ready_for_offline(page)  # the page's first catalogue check is done; the next is 30 s later
    cola_button = page.locator("#products [data-product-id] >> text=Cola").locator("..")
    expect(cola_button).to_contain_text("3.50")
    cola = shop["cola"]
    cola.price = Decimal("4.20")
    cola.save()

    page.clock.run_for(31_000)

    expect(cola_button).to_contain_text("4.20")
    context.set_offline(True)
    page.reload()
    expect(page.locator("#offline-screen")).to_have_attribute("data-ready", "yes")
    expect(cola_button).to_contain_text("4.20")
