"""Terminals are devices: pairing by code or directly, the device cookie, revocation, and what the POS takes from
the terminal (store, till, kitchen stations)."""

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing import sessions
from billing.tests.factories import RegisterFactory
from inventory.tests.factories import LocationFactory
from orders.models import KitchenTicket, Order
from orders.tests.pos_helpers import PINS, give_pin, pair_client, paired_terminal, product, terminal
from staff import terminals
from staff.middleware import LAST_ACTIVITY_KEY
from staff.models import AuditEvent, PairingCode, Terminal
from staff.terminals import CODE_ALPHABET, DEVICE_COOKIE, PAIRING_COOKIE

pytestmark = pytest.mark.django_db

POLL = {"X-Background-Poll": "1"}


def _code_on(response) -> str:
    match = re.search(r'data-pairing-code="([A-Z0-9]+)"', response.content.decode())
    assert match, "no pairing code on the page"
    return match.group(1)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- pairing by code --------------------------------------------------------------------------------------------


def test_an_unpaired_browser_sees_a_pairing_code_and_cannot_open_an_order(cashier, location):
    device = _signed_in(cashier)

    screen = device.get(reverse("orders:floor"))
    sale = device.post(reverse("orders:open_order"), {"channel": "retail"})

    assert screen.status_code == 403 and "Pair this device" in screen.content.decode()
    code = _code_on(screen)
    assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    assert sale.status_code == 403 and "Pair this device" in sale.content.decode()
    assert not Order.objects.exists()


def test_a_pairing_code_is_kept_only_as_a_hash(location):
    device = Client()
    code = _code_on(device.get(reverse("orders:floor")))

    row = PairingCode.objects.get()
    assert code not in (row.code_hash, row.device_hash)
    assert row.expires_at - timezone.now() <= timedelta(minutes=10)


def test_a_reload_shows_the_same_code(location):
    device = Client()

    first = _code_on(device.get(reverse("orders:floor")))
    again = _code_on(device.get(reverse("terminals:pair")))

    assert first == again and PairingCode.objects.count() == 1


def test_a_manager_confirms_the_code_and_the_device_collects_its_cookie_at_its_next_poll(manager, cashier, location):
    till = paired_terminal(location, name="Till 2")
    Terminal.objects.filter(pk=till.pk).update(paired_at=None, generation=0)
    device = Client()
    code = _code_on(device.get(reverse("orders:floor")))
    assert device.get(reverse("terminals:pair_status"), headers=POLL).status_code == 200  # still waiting

    confirmed = _signed_in(manager).post(
        reverse("terminals:pair_device"), {"code": code.lower()[:3] + " " + code[3:], "terminal": till.pk}
    )
    collected = device.get(reverse("terminals:pair_status"), headers=POLL)

    assert confirmed.status_code == 200 and "Paired as Till 2" in confirmed.content.decode()
    assert collected["HX-Redirect"] == reverse("orders:floor")
    cookie = collected.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] == 730 * 86400
    device.force_login(cashier)
    floor = device.get(reverse("orders:floor"))
    assert floor.status_code == 200 and floor.context["terminal"] == till
    assert not PairingCode.objects.exists()  # used up
    event = AuditEvent.objects.get(action="terminal_paired")
    assert (event.actor, event.object_id, event.data["how"]) == (manager, str(till.pk), "code")


def test_a_wrong_code_is_refused_and_too_many_stop_the_manager_for_a_while(manager, location, settings):
    settings.POS_PAIRING_MAX_WRONG_CODES = 3
    till = paired_terminal(location)
    device = Client()
    code = _code_on(device.get(reverse("orders:floor")))
    page = _signed_in(manager)

    wrong = [page.post(reverse("terminals:pair_device"), {"code": "AAAAAA", "terminal": till.pk}) for _ in range(3)]
    right = page.post(reverse("terminals:pair_device"), {"code": code, "terminal": till.pk})

    assert [response.status_code for response in wrong] == [400, 400, 400]
    assert "expired" in wrong[0].content.decode()
    assert right.status_code == 400 and "Too many wrong codes" in right.content.decode()
    assert not AuditEvent.objects.filter(action="terminal_paired").exists()


def test_an_expired_code_cannot_be_confirmed(manager, location):
    till = paired_terminal(location)
    code = _code_on(Client().get(reverse("orders:floor")))
    PairingCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _signed_in(manager).post(reverse("terminals:pair_device"), {"code": code, "terminal": till.pk})

    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="terminal_paired").exists()


def test_a_manager_cannot_pair_a_terminal_of_a_store_they_cannot_see(manager, location):
    """Managers act everywhere (staff.selectors.locations_for), so the store here is checked by the terminal's id:
    a made-up one is refused without pairing anything."""
    code = _code_on(Client().get(reverse("orders:floor")))

    response = _signed_in(manager).post(reverse("terminals:pair_device"), {"code": code, "terminal": 999999})

    assert response.status_code == 400
    assert PairingCode.objects.get().terminal is None


def test_asking_for_too_many_codes_from_one_address_is_refused(location, settings):
    settings.POS_PAIRING_CODES_PER_HOUR = 2
    for _ in range(2):
        Client().get(reverse("orders:floor"))

    refused = Client().get(reverse("orders:floor"))

    assert refused.status_code == 403 and "Too many pairing codes" in refused.content.decode()
    assert PairingCode.objects.count() == 2


# --- pairing directly, revoking, cookies ---------------------------------------------------------------------------


def test_a_manager_signed_in_on_the_unpaired_device_pairs_it_directly(manager, location):
    till = paired_terminal(location, name="Till 2")
    device = _signed_in(manager)
    assert "Till 2" in device.get(reverse("orders:floor")).content.decode()

    response = device.post(reverse("terminals:pair_direct"), {"terminal": till.pk})

    assert response.status_code == 302 and response["Location"] == reverse("orders:floor")
    assert device.get(reverse("orders:floor")).context["terminal"] == till
    assert AuditEvent.objects.get(action="terminal_paired").data["how"] == "direct"


def test_a_cashier_cannot_pair_a_device(cashier, location):
    till = paired_terminal(location)
    device = _signed_in(cashier)

    response = device.post(reverse("terminals:pair_direct"), {"terminal": till.pk})

    assert response.status_code == 403 and DEVICE_COOKIE not in response.cookies
    assert not AuditEvent.objects.filter(action="terminal_paired").exists()


def test_revoking_a_terminal_refuses_its_device_at_the_next_request_with_a_message(manager, cashier, location):
    device = terminal(cashier)
    assert device.get(reverse("orders:floor")).status_code == 200

    terminals.revoke(terminal_id=device.pos_terminal.pk, actor=manager)
    refused = device.post(reverse("orders:open_order"), {"channel": "retail"})

    assert refused.status_code == 403
    assert "was revoked" in refused.content.decode() and "Pair this device" in refused.content.decode()
    assert not Order.objects.exists()
    assert AuditEvent.objects.filter(action="terminal_revoked", actor=manager).count() == 1


def test_pairing_a_terminal_again_refuses_the_device_it_was_on_before(manager, cashier, location):
    old = terminal(cashier)
    new = _signed_in(manager)

    new.post(reverse("terminals:pair_direct"), {"terminal": old.pos_terminal.pk})

    assert new.get(reverse("orders:floor")).status_code == 200
    assert old.get(reverse("orders:floor")).status_code == 403


def test_a_forged_or_tampered_device_cookie_is_refused(cashier, location):
    till = paired_terminal(location)
    device = _signed_in(cashier)
    device.cookies[DEVICE_COOKIE] = signing.dumps({"t": till.pk, "g": till.generation}, salt="someone-else")

    assert device.get(reverse("orders:floor")).status_code == 403


def test_the_device_cookie_is_secure_when_the_setting_says_so(manager, location, settings):
    settings.POS_TERMINAL_COOKIE_SECURE = True
    till = paired_terminal(location)

    response = _signed_in(manager).post(reverse("terminals:pair_direct"), {"terminal": till.pk})

    assert response.cookies[DEVICE_COOKIE]["secure"] and response.cookies[DEVICE_COOKIE]["httponly"]
    assert response.cookies[PAIRING_COOKIE]["max-age"] == 0  # the pairing cookie is dropped


def test_the_admin_revoke_action_is_audited_and_the_list_shows_last_seen(manager, cashier, location):
    device = terminal(cashier)
    device.get(reverse("orders:floor"))
    admin = _signed_in(manager)

    listing = admin.get(reverse("admin:staff_terminal_changelist"))
    admin.post(
        reverse("admin:staff_terminal_changelist"),
        {"action": "revoke", "_selected_action": [device.pos_terminal.pk]},
    )

    assert listing.status_code == 200 and "Last seen" in listing.content.decode()
    assert Terminal.objects.get(pk=device.pos_terminal.pk).last_seen_at is not None
    assert Terminal.objects.get(pk=device.pos_terminal.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="terminal_revoked", actor=manager).exists()
    assert device.get(reverse("orders:floor")).status_code == 403


# --- what the POS takes from the terminal -----------------------------------------------------------------------


def test_signing_in_on_a_paired_till_lands_on_its_open_session_opened_by_someone_else(manager, cashier, location):
    till_1, till_2 = (
        RegisterFactory(location=location, name="Till 1"),
        RegisterFactory(location=location, name="Till 2"),
    )
    sessions.open_session(register_id=till_1.pk, user=manager, opening_float=Decimal("50"))
    open_2 = sessions.open_session(register_id=till_2.pk, user=manager, opening_float=Decimal("100"))
    device = Client()
    pair_client(device, location, register=till_2)
    signed_in = device.post(reverse("login"), {"username": "cashier", "password": "secret-pass-123"})
    order = Order.objects.create(location=location, channel=Order.Channel.RETAIL, staff=cashier)

    pay = device.get(reverse("billing:pay", args=[order.uuid]))

    assert signed_in.status_code == 302
    assert pay.status_code == 200 and pay.context["session"] == open_2
    assert "No cash session is open" not in pay.content.decode()


def test_a_pin_switch_keeps_the_terminal_and_its_till(cashier, waiter, location):
    give_pin(waiter)
    register = RegisterFactory(location=location, name="Till 2")
    device = Client()
    device.force_login(cashier)
    pair_client(device, location, register=register)

    device.post(reverse("orders:switch"), {"user": waiter.pk, "pin": PINS["waiter"]})
    floor = device.get(reverse("orders:floor"))

    assert int(device.session["_auth_user_id"]) == waiter.pk
    assert floor.context["terminal"].register == register and "Till 2" in floor.content.decode()


def test_someone_who_does_not_work_at_the_terminals_store_is_refused_with_a_clear_message(cashier):
    elsewhere = LocationFactory(code="north", name="North Pier")
    device = terminal(cashier, location=elsewhere)

    response = device.get(reverse("orders:floor"))
    sale = device.post(reverse("orders:open_order"), {"channel": "retail"})

    assert response.status_code == 403
    assert "does not work at North Pier" in response.content.decode()
    assert sale.status_code == 403 and not Order.objects.exists()
    assert device.get(reverse("orders:switch")).status_code == 200  # the way out: switch to someone who does


def test_opening_the_shift_uses_the_terminals_register_and_no_other(cashier, location):
    mine, other = RegisterFactory(location=location, name="Till 2"), RegisterFactory(location=location, name="Till 1")
    device = Client()
    device.force_login(cashier)
    pair_client(device, location, register=mine)

    device.post(reverse("billing:shift_open"), {"register": other.pk, "opening_float": "100"})

    assert list(sessions.CashSession.objects.values_list("register", flat=True)) == [mine.pk]


def test_a_terminal_without_a_till_cannot_open_a_shift(cashier, location):
    RegisterFactory(location=location)
    device = terminal(cashier)

    page = device.get(reverse("billing:shift"))
    refused = device.post(reverse("billing:shift_open"), {"opening_float": "100"})

    assert "has no till" in page.content.decode()
    assert refused.status_code == 400 and not sessions.CashSession.objects.exists()


# --- kitchen display ----------------------------------------------------------------------------------------------


def _ticket(location, user, station: str, name: str) -> KitchenTicket:
    from orders import services

    order = services.open_order(location_id=location.pk, user=user)
    item = product(location, name=name, station=station)
    services.add_lines(order.pk, user=user, lines=[services.NewLine(product_id=item.pk)])
    services.send_to_kitchen(order.pk, user=user)
    return KitchenTicket.objects.get(order=order)


def test_the_kitchen_display_shows_its_terminals_stations_and_the_picker_narrows_them(waiter, kitchen_user, location):
    _ticket(location, waiter, "grill", "Steak")
    _ticket(location, waiter, "fryer", "Chips")
    _ticket(location, waiter, "bar", "Cola")
    device = terminal(kitchen_user)
    Terminal.objects.filter(pk=device.pos_terminal.pk).update(kitchen_stations=["grill", "fryer"])

    everything = device.get(reverse("orders:kitchen"))
    narrowed = device.get(reverse("orders:kitchen"), {"station": "fryer"})
    not_mine = device.get(reverse("orders:kitchen"), {"station": "bar"})

    assert sorted(t.station for t in everything.context["tickets"]) == ["fryer", "grill"]
    assert everything.context["stations"] == ["grill", "fryer"]
    assert [t.station for t in narrowed.context["tickets"]] == ["fryer"]
    assert sorted(t.station for t in not_mine.context["tickets"]) == ["fryer", "grill"]  # not its station: ignored


def test_the_kitchen_sound_toggle_is_saved_on_the_terminal(kitchen_user, location):
    device = terminal(kitchen_user)
    assert 'data-sound="on"' in device.get(reverse("orders:kitchen")).content.decode()

    device.post(reverse("orders:kitchen_sound"), {"sound": "off"})

    assert Terminal.objects.get(pk=device.pos_terminal.pk).kitchen_sound is False
    page = device.get(reverse("orders:kitchen")).content.decode()
    assert 'data-sound="off"' in page and "Muted" in page


# --- idle sign-out while a POS tab polls -------------------------------------------------------------------------


def test_the_idle_sign_out_fires_while_a_pos_tab_keeps_polling(cashier, location, settings):
    """The POS pages poll (print problems every 20 s, the kitchen board every 5 s) with X-Background-Poll: those
    polls never count as activity, so 15 minutes without a tap signs a cashier out though the tab kept polling."""
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 15
    device = terminal(cashier)
    device.get(reverse("orders:floor"))
    session = device.session
    session[LAST_ACTIVITY_KEY] = int(time.time()) - 14 * 60
    session.save()

    for _ in range(3):  # polls at minute 14 do not move the clock
        assert device.get(reverse("billing:print_problems"), headers=POLL).status_code == 200
    assert device.session[LAST_ACTIVITY_KEY] <= int(time.time()) - 14 * 60
    session = device.session
    session[LAST_ACTIVITY_KEY] = int(time.time()) - 15 * 60 - 1
    session.save()
    device.get(reverse("billing:print_problems"), headers=POLL)

    assert "_auth_user_id" not in device.session
    assert device.get(reverse("orders:floor"))["Location"].startswith(reverse("login"))


def test_the_receipt_prints_on_the_terminals_printer_rather_than_the_registers(cashier, location, tmp_path):
    from billing.models import Printer, PrintJob

    counter = Printer.objects.create(name="Counter", connection="file", device_path=str(tmp_path / "counter.bin"))
    bar = Printer.objects.create(name="Bar end", connection="file", device_path=str(tmp_path / "bar.bin"))
    register = RegisterFactory(location=location, printer=counter)
    sessions.open_session(register_id=register.pk, user=cashier, opening_float=Decimal("100"))
    device = Client()
    device.force_login(cashier)
    pair_client(device, location, register=register, printer=bar)
    order = Order.objects.create(location=location, channel=Order.Channel.RETAIL, staff=cashier)
    from orders import services

    services.add_lines(order.pk, user=cashier, lines=[services.NewLine(product_id=product(location).pk)])
    key = device.get(reverse("billing:pay", args=[order.uuid])).context["key"]

    paid = device.post(
        reverse("billing:pay", args=[order.uuid]),
        {"key": key, "rows": "1", "tender_0": "cash", "amount_0": "10.00"},
    )

    assert paid.status_code == 302
    assert PrintJob.objects.get(kind="receipt").printer == bar


def test_a_manager_adds_a_terminal_in_the_admin_and_bad_stations_or_a_till_elsewhere_are_refused(manager, location):
    admin = _signed_in(manager)
    other_store_till = RegisterFactory(location=LocationFactory(code="north", name="North Pier"))
    url = reverse("admin:staff_terminal_add")
    form = {"name": "Kitchen", "location": location.pk, "kitchen_stations": '["grill", "bar"]', "kitchen_sound": "on"}

    bad_stations = admin.post(url, {**form, "kitchen_stations": '["grill", 7]'})
    till_elsewhere = admin.post(url, {**form, "register": other_store_till.pk})
    added = admin.post(url, form)

    assert bad_stations.status_code == 200 and "A list of station names" in bad_stations.content.decode()
    assert till_elsewhere.status_code == 200 and "another store" in till_elsewhere.content.decode()
    assert added.status_code == 302
    kitchen = Terminal.objects.get(name="Kitchen")
    assert kitchen.kitchen_stations == ["grill", "bar"] and not kitchen.is_paired


def test_the_demo_manager_signing_in_on_a_new_browser_pairs_it_from_the_pairing_screen(db):
    """`make run`: a new user opens the POS, signs in as the demo manager, taps "Till 1" and sells there."""
    from django.core.management import call_command

    call_command("load_demo", verbosity=0)
    browser = Client()
    browser.post(reverse("login"), {"username": "manager", "password": "tillhouse-demo"})

    screen = browser.get(reverse("orders:floor"))
    till = Terminal.objects.get(location__code="harbour", name="Till 1")
    assert f'value="{till.pk}"' in screen.content.decode()
    browser.post(reverse("terminals:pair_direct"), {"terminal": till.pk})

    floor = browser.get(reverse("orders:floor"))
    assert floor.status_code == 200 and "Harbour Kitchen · Till 1" in floor.content.decode()


def test_a_device_paired_from_the_kitchen_display_goes_back_to_it(manager, location):
    till = paired_terminal(location, name="Kitchen")
    device = _signed_in(manager)
    screen = device.get(reverse("orders:kitchen"))
    assert 'name="next" value="/pos/kitchen/"' in screen.content.decode()

    response = device.post(reverse("terminals:pair_direct"), {"terminal": till.pk, "next": "/pos/kitchen/"})

    assert response["Location"] == "/pos/kitchen/"


def test_an_htmx_request_from_an_unpaired_device_is_sent_to_the_pairing_screen_of_its_page(cashier, location):
    device = _signed_in(cashier)

    response = device.post(
        reverse("orders:open_order"),
        {"channel": "retail"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/pos/kitchen/"},
    )

    assert response["HX-Redirect"] == "/pos/pair/?next=%2Fpos%2Fkitchen%2F"
    assert not Order.objects.exists()


def test_signing_in_without_a_next_page_lands_on_the_pos_on_a_paired_terminal_and_the_start_page_elsewhere(
    cashier, location
):
    paired, unpaired = Client(), Client()
    pair_client(paired, location)
    credentials = {"username": "cashier", "password": "secret-pass-123"}

    assert paired.post(reverse("login"), credentials)["Location"] == reverse("orders:floor")
    assert unpaired.post(reverse("login"), credentials)["Location"] == reverse("home")


def test_the_admin_action_pairs_the_managers_own_browser_as_the_chosen_terminal(manager, location):
    till = paired_terminal(location, name="Till 3")
    Terminal.objects.filter(pk=till.pk).update(paired_at=None, generation=0)
    browser = _signed_in(manager)

    browser.post(
        reverse("admin:staff_terminal_changelist"), {"action": "pair_this_browser", "_selected_action": [till.pk]}
    )

    assert browser.get(reverse("orders:floor")).context["terminal"] == till
    assert AuditEvent.objects.get(action="terminal_paired").data["how"] == "admin"
