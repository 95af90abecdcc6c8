"""Terminals are devices, in a real browser: an unpaired browser cannot sell; a manager pairs it (by the code it
shows) as Till 2 at the restaurant; the cashier signs in and lands on Till 2 with its open session; a PIN switch
keeps Till 2; revoking the terminal refuses the device at its next request. And the kitchen display flashes (and
plays its sound, unless muted) for a new ticket."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import sessions
from billing.models import Payment
from billing.tests.factories import RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders import services
from orders.models import Order
from orders.tests.pos_helpers import PINS, give_pin
from staff import terminals
from staff.models import Terminal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 768, 390)


@pytest.fixture
def restaurant(location, manager, cashier, waiter):
    location.name = "Harbour Kitchen"
    location.save()
    tax = TaxRateFactory()
    mains = CategoryFactory(name="Mains", location=location, station="kitchen", sort_order=1)
    ProductFactory(
        name="Fish pie", price=Decimal("14.00"), category=mains, tax_rate=tax, stock_policy=Product.StockPolicy.ALLOW
    )
    till_1 = RegisterFactory(location=location, name="Till 1")
    till_2 = RegisterFactory(location=location, name="Till 2")
    Terminal.objects.create(location=location, name="Till 1", register=till_1)
    Terminal.objects.create(location=location, name="Till 2", register=till_2)
    Terminal.objects.create(location=location, name="Kitchen", kitchen_stations=["kitchen"])
    sessions.open_session(register_id=till_1.pk, user=manager, opening_float=Decimal("50"))
    session = sessions.open_session(register_id=till_2.pk, user=manager, opening_float=Decimal("100"))
    for user in (manager, cashier, waiter):
        give_pin(user)
    return session


def sign_in(page, username: str, next_path: str = "/pos/") -> None:
    page.goto(f"/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")


def screenshots(page, screenshot, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1024, "height": 768})


@pytest.mark.unpaired
def test_a_manager_pairs_a_new_device_as_till_2_and_revoking_it_stops_it(
    page, browser, live_server, restaurant, manager, cashier, waiter, screenshot
):
    # An unpaired browser: the cashier signs in, but every POS screen is the pairing screen, and a sale is refused.
    sign_in(page, "cashier")
    expect(page.locator("h1")).to_have_text("Pair this device")
    expect(page.locator("text=Quick sale")).to_have_count(0)
    code = page.locator("[data-pairing-code]").get_attribute("data-pairing-code")
    assert re.fullmatch(r"[A-Z0-9]{6}", code)
    token = page.evaluate("JSON.parse(document.querySelector('.pos-root').getAttribute('hx-headers'))['X-CSRFToken']")
    refused = page.request.post("/pos/orders/new/", form={"channel": "retail"}, headers={"X-CSRFToken": token})
    assert refused.status == 403 and "Pair this device" in refused.text()
    assert not Order.objects.exists()
    screenshots(page, screenshot, "pairing-screen")

    # The manager, on their phone, confirms the code shown on the device and chooses Till 2.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    manager_page = phone.new_page()
    sign_in(manager_page, "manager", "/terminals/pair/")
    expect(manager_page.locator("h1")).to_have_text("Pair a device")
    screenshots(manager_page, screenshot, "pair-a-device")
    manager_page.fill("#id_code", code.lower())
    manager_page.select_option("#id_terminal", label="Till 2 — Harbour Kitchen · Till 2")
    manager_page.click("button:has-text('Pair')")
    expect(manager_page.locator("[data-paired]")).to_contain_text("Paired as Till 2")
    phone.close()

    # The device moves on by itself (its poll collects the pairing); the cashier signs in and lands on Till 2 with
    # its open session (opened by the manager), and sells on it.
    expect(page).to_have_url(re.compile(r"/pos/$"), timeout=10_000)
    sign_in(page, "cashier")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    expect(page.locator("nav")).to_contain_text("Harbour Kitchen · Till 2")
    page.click("text=Quick sale")
    page.click("[data-product] >> text=Fish pie")
    page.click("text=Pay 14.00")
    expect(page.locator("text=No cash session is open")).to_have_count(0)
    page.click('.quick-cash [data-key="=20.00"]')
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    assert Payment.objects.get().session == restaurant

    # A PIN switch changes the person, not the terminal.
    page.click("text=Switch user")
    page.click(f'.staff-tiles [data-value="{waiter.pk}"]')
    for digit in PINS["waiter"]:
        page.click(f'.keypad [data-key="{digit}"]')
    page.click("button:has-text('Switch')")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    expect(page.locator("nav")).to_contain_text("Harbour Kitchen · Till 2")

    # Revoked in the admin (here: the same service): the device is refused at its next request.
    terminals.revoke(terminal_id=Terminal.objects.get(name="Till 2").pk, actor=manager)
    page.click("text=Quick sale")
    expect(page.locator("h1")).to_have_text("Pair this device")
    expect(page.locator("[data-pair-message]")).to_contain_text("revoked")
    assert Order.objects.count() == 1


def test_the_kitchen_display_flashes_and_sounds_for_a_new_ticket_unless_muted(page, location, waiter, kitchen_user):
    tax = TaxRateFactory()
    grill = CategoryFactory(name="Grill", location=location, station="grill")
    steak = ProductFactory(name="Steak", price=Decimal("20"), category=grill, tax_rate=tax)

    def send_a_ticket():
        order = services.open_order(location_id=location.pk, user=waiter)
        services.add_lines(order.pk, user=waiter, lines=[services.NewLine(product_id=steak.pk)])
        services.send_to_kitchen(order.pk, user=waiter)

    send_a_ticket()  # already up when the display opens: no alert for it
    sign_in(page, "kitchen", "/pos/kitchen/")
    expect(page.locator("[data-ticket]")).to_have_count(1)
    expect(page.locator("#kitchen-board")).to_have_attribute("data-sound", "on")

    send_a_ticket()
    expect(page.locator("[data-ticket]")).to_have_count(2, timeout=12_000)
    expect(page.locator(".ticket.is-new")).to_have_count(1)
    expect(page.locator("#kds-sound")).to_have_attribute("data-plays", "1")

    page.click("[data-kds-sound]")  # mute: saved on the terminal, so it stays muted after the reload
    expect(page.locator("[data-kds-sound]")).to_have_text(re.compile("Muted"))
    send_a_ticket()
    expect(page.locator("[data-ticket]")).to_have_count(3, timeout=12_000)
    expect(page.locator(".ticket.is-new")).to_have_count(1)  # the new one flashes …
    expect(page.locator("#kitchen-board")).to_have_attribute("data-alerts", "1")
    assert page.locator("#kds-sound").get_attribute("data-plays") is None  # … without a sound


def test_the_kitchen_board_poll_is_answered_304_while_nothing_changed_and_keeps_the_board(
    page, location, waiter, kitchen_user
):
    tax = TaxRateFactory()
    grill = CategoryFactory(name="Grill", location=location, station="grill")
    steak = ProductFactory(name="Steak", price=Decimal("20"), category=grill, tax_rate=tax)

    def send_a_ticket():
        order = services.open_order(location_id=location.pk, user=waiter)
        services.add_lines(order.pk, user=waiter, lines=[services.NewLine(product_id=steak.pk)])
        services.send_to_kitchen(order.pk, user=waiter)

    send_a_ticket()
    polls = []
    page.on("response", lambda r: polls.append(r.status) if r.url.split("?")[0].endswith("/kitchen/board/") else None)
    sign_in(page, "kitchen", "/pos/kitchen/")
    expect(page.locator("[data-ticket]")).to_have_count(1)

    page.wait_for_function("() => !!document.getElementById('kitchen-board').posEtag", timeout=12_000)
    with page.expect_response(lambda r: r.url.endswith("/kitchen/board/") and r.status == 304, timeout=12_000):
        pass
    expect(page.locator("[data-ticket]")).to_have_count(1)  # the empty 304 was not swapped in
    assert polls[0] == 200 and 304 in polls

    send_a_ticket()
    expect(page.locator("[data-ticket]")).to_have_count(2, timeout=12_000)
    expect(page.locator(".ticket.is-new")).to_have_count(1)


def test_take_payment_looks_disabled_while_the_terminals_till_has_no_open_session(page, location, cashier):
    category = CategoryFactory(name="Shop", location=location)
    ProductFactory(name="Candle", price=Decimal("4.00"), category=category, tax_rate=TaxRateFactory())
    RegisterFactory(location=location, name="Till 1")  # the terminal's till (see the e2e conftest), not opened
    sign_in(page, "cashier")
    page.click("text=Quick sale")
    page.click("[data-product] >> text=Candle")
    page.click("text=Pay 4.00")

    button = page.locator("button:has-text('Take payment')")
    expect(button).to_be_disabled()
    style = button.evaluate("b => { const s = getComputedStyle(b); return [s.cursor, s.opacity, s.backgroundColor]; }")
    assert style[0] == "not-allowed" and float(style[1]) < 1
    assert style[2] == "rgb(233, 236, 239)"  # grey, not the primary colour of an enabled button
    expect(page.locator(".error-box")).to_contain_text("No cash session is open")
