"""The order-side POS screens: PIN switch and lock, floor, order screen, kitchen display."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError
from orders import services
from orders.models import KitchenTicket, Order, OrderLine
from orders.tests.factories import ModifierGroupFactory, ModifierOptionFactory, TableFactory
from orders.tests.pos_helpers import PINS, give_pin, open_till, product, terminal
from orders.views import SESSION_LOCKED, SESSION_SEEN
from staff import pins
from staff.middleware import LAST_ACTIVITY_KEY
from staff.models import AuditEvent, StaffProfile

pytestmark = pytest.mark.django_db

POLL_HEADER = "X-Background-Poll"  # what the POS pages' htmx polls send (templates/pos/base.html)
POLL = {POLL_HEADER: "1"}


def _open(user, location, **kwargs) -> Order:
    return services.open_order(location_id=location.pk, user=user, **kwargs)


def _add(order, user, item, quantity="1", **extra):
    return services.add_lines(
        order.pk, user=user, lines=[services.NewLine(product_id=item.pk, quantity=Decimal(quantity), **extra)]
    )


# --- PIN switch and lock ------------------------------------------------------------------------------------------


def test_a_pin_switches_the_terminal_to_another_person_and_keeps_its_register(cashier, waiter, location):
    give_pin(waiter)
    client = terminal(cashier)
    register = open_till(client, location, cashier)

    response = client.post(reverse("orders:switch"), {"user": waiter.pk, "pin": PINS["waiter"]})

    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == waiter.pk
    assert client.get(reverse("orders:floor")).context["terminal"].register == register
    assert AuditEvent.objects.filter(action="pin_switch", actor=waiter).exists()


def test_a_wrong_pin_does_not_switch_and_says_so(cashier, waiter, location):
    give_pin(waiter)
    client = terminal(cashier)

    response = client.post(reverse("orders:switch"), {"user": waiter.pk, "pin": "000000"})

    assert response.status_code == 400
    assert "Wrong PIN" in response.content.decode()
    assert int(client.session["_auth_user_id"]) == cashier.pk


def test_repeated_wrong_pins_lock_the_pin_even_for_the_right_one(cashier, waiter, location, settings):
    settings.POS_PIN_MAX_ATTEMPTS = 3
    give_pin(waiter)
    client = terminal(cashier)
    for _ in range(3):
        client.post(reverse("orders:switch"), {"user": waiter.pk, "pin": "000000"})

    response = client.post(reverse("orders:switch"), {"user": waiter.pk, "pin": PINS["waiter"]})

    assert response.status_code == 400
    assert "locked" in response.content.decode()
    assert int(client.session["_auth_user_id"]) == cashier.pk
    assert StaffProfile.objects.get(user=waiter).pin_locked_until > timezone.now()
    assert AuditEvent.objects.filter(action="pin_locked", actor=waiter).count() == 1
    assert AuditEvent.objects.filter(action="pin_failed", actor=waiter).count() == 3


def test_wrong_pins_from_one_terminal_from_several_people_lock_that_terminal_but_not_the_others(
    cashier, waiter, manager, location, settings
):
    settings.POS_PIN_MAX_ATTEMPTS = 5
    settings.POS_PIN_IP_MAX_ATTEMPTS = 4
    give_pin(waiter)
    give_pin(manager)
    guessing = terminal(cashier)
    guessing.defaults["REMOTE_ADDR"] = "10.20.30.40"
    for person in (waiter, manager, waiter, manager):  # two each: no one's own PIN is locked
        assert guessing.post(reverse("orders:switch"), {"user": person.pk, "pin": "000000"}).status_code == 400

    refused = guessing.post(reverse("orders:switch"), {"user": waiter.pk, "pin": PINS["waiter"]})

    assert refused.status_code == 400
    assert "Too many wrong PINs from this terminal" in refused.content.decode()
    assert int(guessing.session["_auth_user_id"]) == cashier.pk
    assert not StaffProfile.objects.filter(pin_locked_until__isnull=False).exists()
    lockouts = AuditEvent.objects.filter(action="pin_ip_locked")
    assert [event.data["ip"] for event in lockouts] == ["10.20.30.40"]
    other = terminal(cashier)
    other.defaults["REMOTE_ADDR"] = "10.20.30.41"
    assert other.post(reverse("orders:switch"), {"user": waiter.pk, "pin": PINS["waiter"]}).status_code == 302
    assert int(other.session["_auth_user_id"]) == waiter.pk


def test_a_pin_is_stored_hashed(waiter):
    give_pin(waiter, "246813")

    stored = StaffProfile.objects.get(user=waiter).pin_hash
    assert "246813" not in stored
    assert pins.verify_pin(user_id=waiter.pk, pin="246813") == waiter


def test_setting_my_pin_needs_my_password(cashier, location):
    client = terminal(cashier)

    refused = client.post(reverse("orders:set_pin"), {"password": "nope", "pin": "583920", "pin_again": "583920"})
    accepted = client.post(
        reverse("orders:set_pin"), {"password": "secret-pass-123", "pin": "583920", "pin_again": "583920"}
    )

    assert refused.status_code == 400
    assert accepted.status_code == 200
    assert pins.verify_pin(user_id=cashier.pk, pin="583920") == cashier


def test_an_idle_terminal_is_locked_until_someone_types_a_pin(cashier, location, settings):
    settings.POS_IDLE_LOCK_SECONDS = 60
    give_pin(cashier)
    client = terminal(cashier)
    client.get(reverse("orders:floor"))
    session = client.session
    session[SESSION_SEEN] = time.time() - 61
    session.save()

    locked = client.get(reverse("orders:floor"))
    unlocked = client.post(reverse("orders:switch"), {"user": cashier.pk, "pin": PINS["cashier"]})

    assert locked.status_code == 302 and "locked=1" in locked["Location"]
    assert unlocked.status_code == 302
    assert client.get(reverse("orders:floor")).status_code == 200
    assert AuditEvent.objects.filter(action="pin_unlock", actor=cashier).exists()


def test_the_lock_button_locks_the_terminal_at_once(cashier, location):
    client = terminal(cashier)

    client.post(reverse("orders:lock"))

    assert client.session[SESSION_LOCKED] is True
    assert "locked=1" in client.get(reverse("orders:floor"))["Location"]


# --- Floor --------------------------------------------------------------------------------------------------------


def test_the_floor_shows_free_open_and_long_open_tables(waiter, location, settings):
    settings.POS_LONG_OPEN_MINUTES = 90
    TableFactory(location=location, name="1", section="Terrace")
    table_2 = TableFactory(location=location, name="2", section="Terrace")
    table_3 = TableFactory(location=location, name="3", section="Terrace")
    _open(waiter, location, channel="dine_in", table_id=table_2.pk, guest_count=3)
    old = _open(waiter, location, channel="dine_in", table_id=table_3.pk)
    Order.objects.filter(pk=old.pk).update(opened_at=timezone.now() - timedelta(hours=2))

    html = terminal(waiter).get(reverse("orders:floor")).content.decode()

    assert "Terrace" in html
    assert 'status-free" data-table="1"' in html
    assert 'status-open" href' in html and "3 guests" in html
    assert 'status-long" href' in html


def test_tapping_a_free_table_and_a_guest_count_opens_a_dine_in_order_on_it(waiter, location):
    table = TableFactory(location=location, name="4")

    response = terminal(waiter).post(
        reverse("orders:open_order"), {"channel": "dine_in", "table": table.pk, "guest_count": "3"}
    )

    order = Order.objects.get(table=table)
    assert order.channel == "dine_in" and order.status == "open" and order.guest_count == 3
    assert response["Location"] == reverse("orders:order", args=[order.uuid])


# --- Order screen -------------------------------------------------------------------------------------------------


def test_a_scanned_barcode_adds_the_product_and_the_total_follows(cashier, location):
    cola = product(location, name="Cola", price="3.50", barcode="4000000000017")
    order = _open(cashier, location)
    client = terminal(cashier)

    response = client.post(
        reverse("orders:add_line", args=[order.uuid]), {"code": "4000000000017"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    line = OrderLine.objects.get(order=order)
    assert line.product == cola and line.quantity == 1
    assert 'data-total="total">3.50<' in response.content.decode()


def test_a_typed_name_lists_the_matching_products_instead_of_adding_one(cashier, location):
    product(location, name="Sparkling water")
    product(location, name="Still water")
    order = _open(cashier, location)

    response = terminal(cashier).post(
        reverse("orders:add_line", args=[order.uuid]), {"code": "water"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert response["HX-Retarget"] == "#products"
    assert "Sparkling water" in html and "Still water" in html
    assert not OrderLine.objects.filter(order=order).exists()


def test_changing_a_line_updates_quantity_modifiers_note_and_course(waiter, location):
    burger = product(location, name="Burger", price="10.00", station="kitchen")
    extras = ModifierGroupFactory(name="Extras", max_choices=3)
    extras.products.add(burger)
    cheese = ModifierOptionFactory(group=extras, name="extra cheese", price_delta=Decimal("0.50"))
    no_onions = ModifierOptionFactory(group=extras, name="no onions")
    order = _open(waiter, location, channel="dine_in")
    (line,) = _add(order, waiter, burger)

    response = terminal(waiter).post(
        reverse("orders:change_line", args=[order.uuid, line.pk]),
        {
            "quantity": "2",
            "options_shown": "1",
            "option": [cheese.pk, no_onions.pk],
            "note": "well done",
            "course": "2",
        },
        headers={"HX-Request": "true"},
    )

    line.refresh_from_db()
    assert response.status_code == 200
    assert line.quantity == 2 and line.course == 2 and line.note == "well done"
    assert [(m["name"], m["price"]) for m in line.modifiers] == [("extra cheese", "0.50"), ("no onions", "0.00")]
    assert 'data-total="total">21.00<' in response.content.decode()


def test_a_bad_quantity_shows_a_message_and_changes_nothing(cashier, location):
    cola = product(location)
    order = _open(cashier, location)
    (line,) = _add(order, cashier, cola)

    response = terminal(cashier).post(
        reverse("orders:change_line", args=[order.uuid, line.pk]), {"quantity": "0"}, headers={"HX-Request": "true"}
    )

    line.refresh_from_db()
    assert response.status_code == 400
    assert "error-box" in response.content.decode()
    assert line.quantity == 1


def test_voiding_a_line_sent_to_the_kitchen_needs_a_manager_pin(waiter, manager, location):
    give_pin(manager)
    burger = product(location, name="Burger", station="kitchen")
    order = _open(waiter, location, channel="dine_in")
    (line,) = _add(order, waiter, burger)
    services.send_to_kitchen(order.pk, user=waiter)
    client = terminal(waiter)
    url = reverse("orders:void_line", args=[order.uuid, line.pk])

    refused = client.post(url, {"reason": "guest left"}, headers={"HX-Request": "true"})
    wrong_pin = client.post(
        url, {"reason": "guest left", "approver": manager.pk, "approver_pin": "000000"}, headers={"HX-Request": "true"}
    )
    line.refresh_from_db()
    assert refused.status_code == 403 and "manager" in refused.content.decode()
    assert wrong_pin.status_code == 403 and line.status == "active"

    approved = client.post(
        url,
        {"reason": "guest left", "approver": manager.pk, "approver_pin": PINS["manager"]},
        headers={"HX-Request": "true"},
    )

    line.refresh_from_db()
    assert approved.status_code == 200
    assert line.status == "voided" and line.void_approved_by == manager
    assert 'data-total="total">0.00<' in approved.content.decode()


def test_a_discount_over_the_cashier_limit_needs_a_manager_pin(cashier, manager, location):
    give_pin(manager)
    order = _open(cashier, location)
    _add(order, cashier, product(location, price="20.00"))
    client = terminal(cashier)
    url = reverse("orders:discount", args=[order.uuid])
    fields = {"kind": "percent", "value": "50", "reason": "regular"}

    refused = client.post(url, fields, headers={"HX-Request": "true"})
    approved = client.post(
        url, {**fields, "approver": manager.pk, "approver_pin": PINS["manager"]}, headers={"HX-Request": "true"}
    )

    order.refresh_from_db()
    assert refused.status_code == 403
    assert approved.status_code == 200
    assert order.total == Decimal("10.00")


def test_hold_parks_the_order_and_resume_reopens_it(waiter, location):
    order = _open(waiter, location)
    client = terminal(waiter)

    client.post(reverse("orders:hold", args=[order.uuid]))
    order.refresh_from_db()
    assert order.status == "held"

    client.post(reverse("orders:resume", args=[order.uuid]), headers={"HX-Request": "true"})
    order.refresh_from_db()
    assert order.status == "open"


def test_moving_an_order_puts_it_on_the_other_table(waiter, location):
    table_1 = TableFactory(location=location, name="1")
    table_2 = TableFactory(location=location, name="2")
    order = _open(waiter, location, channel="dine_in", table_id=table_1.pk)

    terminal(waiter).post(
        reverse("orders:move", args=[order.uuid]), {"table": table_2.pk}, headers={"HX-Request": "true"}
    )

    order.refresh_from_db()
    assert order.table == table_2


def test_split_moves_the_chosen_lines_to_a_new_order(waiter, location):
    order = _open(waiter, location, channel="dine_in")
    _add(order, waiter, product(location, name="Soup"))
    (move,) = _add(order, waiter, product(location, name="Steak"))

    response = terminal(waiter).post(reverse("orders:split", args=[order.uuid]), {f"move_{move.pk}": "1"})

    new = Order.objects.exclude(pk=order.pk).get()
    assert response["Location"] == reverse("orders:order", args=[new.uuid])
    assert list(new.lines.values_list("name", flat=True)) == ["Steak"]
    assert list(order.lines.values_list("name", flat=True)) == ["Soup"]


def test_a_split_that_takes_a_discount_over_the_cashier_limit_needs_a_manager_pin(cashier, manager, location):
    give_pin(manager)
    order = _open(cashier, location, channel="dine_in")
    (soup,) = _add(order, cashier, product(location, name="Soup", price="10.00"))
    (steak,) = _add(order, cashier, product(location, name="Steak", price="10.00"))
    discount = {"kind": "percent", "value": Decimal("20"), "reason": "regular", "line_id": soup.pk}
    services.apply_discount(order.pk, user=cashier, approver=manager, **discount)
    client = terminal(cashier)
    url = reverse("orders:split", args=[order.uuid])

    refused = client.post(url, {f"move_{steak.pk}": "1"})
    assert refused.status_code == 403 and "manager" in refused.content.decode()
    assert Order.objects.count() == 1

    approved = client.post(url, {f"move_{steak.pk}": "1", "approver": manager.pk, "approver_pin": PINS["manager"]})

    new = Order.objects.exclude(pk=order.pk).get()
    order.refresh_from_db()
    assert approved["Location"] == reverse("orders:order", args=[new.uuid])
    assert order.discount_approved_by == manager


def test_an_order_of_another_store_is_not_found(cashier, location):
    from inventory.tests.factories import LocationFactory

    other = LocationFactory(code="elsewhere")
    order = Order.objects.create(location=other, staff=cashier)

    assert terminal(cashier).get(reverse("orders:order", args=[order.uuid])).status_code == 404


def _queries_for_order_screen(user, location, lines: int) -> tuple[int, int, str]:
    """Queries to draw the order screen, and to add one more line, for an order of `lines` lines."""
    order = _open(user, location)
    items = [product(location, name=f"Item {lines}-{i}", on_hand="0") for i in range(lines)]
    services.add_lines(order.pk, user=user, lines=[services.NewLine(product_id=p.pk) for p in items])
    client = terminal(user)
    open_till(client, location, user)
    client.get(reverse("orders:order", args=[order.uuid]))  # the session's first request writes it; not counted
    with CaptureQueriesContext(connection) as screen:
        html = client.get(reverse("orders:order", args=[order.uuid])).content.decode()
    with CaptureQueriesContext(connection) as add:
        client.post(
            reverse("orders:add_line", args=[order.uuid]), {"product": items[0].pk}, headers={"HX-Request": "true"}
        )
    return len(screen), len(add), html


def test_the_order_screen_with_30_lines_takes_as_few_queries_as_with_one(cashier, location):
    screen_1, add_1, _ = _queries_for_order_screen(cashier, location, 1)
    screen_30, add_30, html = _queries_for_order_screen(cashier, location, 30)

    assert html.count("data-line=") == 30
    assert screen_30 == screen_1 <= 12
    assert add_30 == add_1 <= 18


def test_adding_a_line_reads_the_persons_roles_and_permissions_in_one_statement(cashier, location):
    order = _open(cashier, location)
    item = product(location, name="Lemonade", on_hand="0")
    client = terminal(cashier)
    client.get(reverse("orders:order", args=[order.uuid]))  # the session's first request writes it; not counted

    with CaptureQueriesContext(connection) as add:
        added = client.post(reverse("orders:add_line", args=[order.uuid]), {"product": item.pk}, HTTP_HX_REQUEST="true")

    assert added.status_code == 200 and "Lemonade" in added.content.decode()
    access = [q["sql"] for q in add.captured_queries if "auth_permission" in q["sql"] or "auth_group" in q["sql"]]
    assert len(access) == 1, access


def test_a_permission_taken_from_a_role_applies_at_the_persons_next_request(cashier, location):
    from django.contrib.auth.models import Group, Permission

    order = _open(cashier, location)
    item = product(location, name="Lemonade", on_hand="0")
    client = terminal(cashier)
    url = reverse("orders:add_line", args=[order.uuid])
    assert client.post(url, {"product": item.pk}, HTTP_HX_REQUEST="true").status_code == 200

    Group.objects.get(name="Cashier").permissions.remove(Permission.objects.get(codename="add_orderline"))

    assert client.post(url, {"product": item.pk}, HTTP_HX_REQUEST="true").status_code == 403
    assert OrderLine.objects.get(order=order).quantity == 1


def test_a_tap_on_a_dish_with_choices_opens_its_chooser_and_adds_nothing(cashier, location):
    order = _open(cashier, location)
    dish = product(location, name="Steak", on_hand="0")
    doneness = ModifierGroupFactory(name="Doneness", min_choices=1, max_choices=1)
    doneness.products.add(dish)
    ModifierOptionFactory(group=doneness, name="Medium rare")

    chooser = terminal(cashier).post(
        reverse("orders:add_line", args=[order.uuid]), {"product": dish.pk}, HTTP_HX_REQUEST="true"
    )

    assert chooser.status_code == 200 and chooser["HX-Retarget"] == "#chooser"
    assert "Medium rare" in chooser.content.decode()
    assert not OrderLine.objects.filter(order=order).exists()


# --- Kitchen display ----------------------------------------------------------------------------------------------


def test_tickets_sent_from_the_order_screen_show_on_the_kitchen_display(waiter, kitchen_user, location):
    table = TableFactory(location=location, name="4")
    order = _open(waiter, location, channel="dine_in", table_id=table.pk)
    _add(order, waiter, product(location, name="Soup", station="kitchen"), course=1)
    _add(order, waiter, product(location, name="Steak", station="kitchen"), course=2)

    sent = terminal(waiter).post(reverse("orders:send", args=[order.uuid]), headers={"HX-Request": "true"})
    board = terminal(kitchen_user).get(reverse("orders:kitchen")).content.decode()

    assert "2 tickets." in sent.content.decode()
    assert board.count('class="ticket"') == 2
    assert "Table 4" in board and "Soup" in board and "Steak" in board


def test_bumping_a_ticket_takes_it_off_the_board_and_recall_brings_it_back(waiter, kitchen_user, location):
    order = _open(waiter, location, channel="dine_in")
    _add(order, waiter, product(location, name="Soup", station="kitchen"))
    (ticket,) = services.send_to_kitchen(order.pk, user=waiter)
    client = terminal(kitchen_user)

    bumped = client.post(reverse("orders:kitchen_bump", args=[ticket.pk]), headers={"HX-Request": "true"})
    ticket.refresh_from_db()
    assert ticket.status == KitchenTicket.Status.BUMPED
    assert 'class="ticket"' not in bumped.content.decode()
    assert "Recall" in bumped.content.decode()

    twice = client.post(reverse("orders:kitchen_bump", args=[ticket.pk]), headers={"HX-Request": "true"})
    assert "already done" in twice.content.decode()

    recalled = client.post(reverse("orders:kitchen_recall", args=[ticket.pk]), headers={"HX-Request": "true"})
    ticket.refresh_from_db()
    assert ticket.status == KitchenTicket.Status.NEW
    assert 'class="ticket"' in recalled.content.decode()


def test_the_kitchen_display_filters_by_station(waiter, kitchen_user, location):
    order = _open(waiter, location, channel="dine_in")
    _add(order, waiter, product(location, name="Soup", station="kitchen"))
    _add(order, waiter, product(location, name="Mojito", station="bar"))
    services.send_to_kitchen(order.pk, user=waiter)

    board = terminal(kitchen_user).get(reverse("orders:kitchen_board"), {"station": "bar"}).content.decode()

    assert "Mojito" in board and "Soup" not in board


def test_the_kitchen_board_poll_answers_304_until_something_on_it_changes(waiter, kitchen_user, location):
    order = _open(waiter, location, channel="dine_in")
    _add(order, waiter, product(location, name="Soup", station="kitchen"))
    (ticket,) = services.send_to_kitchen(order.pk, user=waiter)
    client = terminal(kitchen_user)
    board = reverse("orders:kitchen_board")

    def poll(etag, **params):
        return client.get(board, params, headers={"HX-Request": "true", **POLL, "If-None-Match": etag})

    first = poll("")
    etag = first["ETag"]
    with CaptureQueriesContext(connection) as statements:
        same = poll(etag)
    assert first.status_code == 200 and "Soup" in first.content.decode()
    assert same.status_code == 304 and same.content == b"" and same["ETag"] == etag
    assert same["Cache-Control"] == "private, no-cache"
    # session, user, terminal, roles and permissions (one), store access, stations, tickets, their lines, the done
    assert len(statements) <= 9, [q["sql"] for q in statements.captured_queries]

    assert poll(etag, station="kitchen")["ETag"] != etag  # another station picked: another board

    _add(order, waiter, product(location, name="Salad", station="kitchen"))
    services.send_to_kitchen(order.pk, user=waiter)  # a second ticket arrives
    arrived = poll(etag)
    assert arrived.status_code == 200 and "Salad" in arrived.content.decode()
    etag = arrived["ETag"]

    soup = ticket.lines.get()
    OrderLine.objects.filter(pk=soup.pk).update(status=OrderLine.Status.VOIDED)  # as a manager's void leaves it
    voided = poll(etag)
    assert voided.status_code == 200 and "VOID" in voided.content.decode()
    etag = voided["ETag"]

    client.post(reverse("orders:kitchen_bump", args=[ticket.pk]), headers={"HX-Request": "true"})
    bumped = poll(etag)
    assert bumped.status_code == 200 and "Recall" in bumped.content.decode()
    assert poll(bumped["ETag"]).status_code == 304


def test_the_kitchen_board_etag_differs_for_someone_who_may_not_bump(waiter, kitchen_user, location):
    order = _open(waiter, location, channel="dine_in")
    _add(order, waiter, product(location, name="Soup", station="kitchen"))
    services.send_to_kitchen(order.pk, user=waiter)
    etag = terminal(kitchen_user).get(reverse("orders:kitchen_board"))["ETag"]

    other = terminal(waiter).get(reverse("orders:kitchen_board"), headers={"If-None-Match": etag})

    assert other.status_code == 200 and other["ETag"] != etag


def test_a_waiter_cannot_bump_kitchen_tickets(waiter, location):
    order = _open(waiter, location, channel="dine_in")
    _add(order, waiter, product(location, name="Soup", station="kitchen"))
    (ticket,) = services.send_to_kitchen(order.pk, user=waiter)

    response = terminal(waiter).post(reverse("orders:kitchen_bump", args=[ticket.pk]))

    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == KitchenTicket.Status.NEW


def test_opening_a_line_loads_its_editor_with_the_manager_prompt_for_a_sent_line(waiter, manager, location):
    give_pin(manager)
    order = _open(waiter, location, channel="dine_in")
    (line,) = _add(order, waiter, product(location, name="Soup", station="kitchen"))
    services.send_to_kitchen(order.pk, user=waiter)

    html = terminal(waiter).get(reverse("orders:change_line", args=[order.uuid, line.pk])).content.decode()

    assert "Void reason" in html and "Sent to the kitchen" in html
    assert f'value="{manager.pk}"' in html


def test_the_order_tools_load_when_opened(cashier, manager, location):
    give_pin(manager)
    TableFactory(location=location, name="7")
    order = _open(cashier, location)
    client = terminal(cashier)

    discount = client.get(reverse("orders:discount", args=[order.uuid])).content.decode()
    move = client.get(reverse("orders:move", args=[order.uuid])).content.decode()
    void = client.get(reverse("orders:void_order", args=[order.uuid])).content.decode()

    assert "Apply" in discount and f'value="{manager.pk}"' in discount
    assert "· 7</option>" in move
    assert "Void order" in void


def test_a_locked_pin_works_again_after_the_lockout_period(waiter, settings):
    settings.POS_PIN_MAX_ATTEMPTS = 2
    give_pin(waiter)
    for _ in range(2):
        with pytest.raises(pins.InvalidPin if _ == 0 else pins.PinLocked):
            pins.verify_pin(user_id=waiter.pk, pin="000000")
    StaffProfile.objects.filter(user=waiter).update(pin_locked_until=timezone.now() - timedelta(seconds=1))

    assert pins.verify_pin(user_id=waiter.pk, pin=PINS["waiter"]) == waiter


def test_a_waiter_pin_cannot_approve_what_needs_a_manager(waiter):
    give_pin(waiter)

    with pytest.raises(pins.ApprovalRequired):
        pins.verify_manager_pin(user_id=waiter.pk, pin=PINS["waiter"])


def test_the_kitchen_display_never_locks_itself(kitchen_user, location, settings):
    settings.POS_IDLE_LOCK_SECONDS = 60
    client = terminal(kitchen_user)
    client.get(reverse("orders:kitchen"))
    session = client.session
    session[SESSION_SEEN] = time.time() - 3600
    session.save()

    response = client.get(reverse("orders:kitchen"))

    assert response.status_code == 200
    assert 'data-idle-seconds="0"' in response.content.decode()
    assert 'hx-trigger="every 5s"' in response.content.decode()


def test_a_line_cannot_be_added_to_an_order_of_another_store_from_this_terminal(manager, location):
    from inventory.tests.factories import LocationFactory

    other = LocationFactory(code="elsewhere")
    order = _open(manager, other)
    cola = product(other)

    response = terminal(manager).post(
        reverse("orders:add_line", args=[order.uuid]), {"product": cola.pk}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 404
    assert not OrderLine.objects.filter(order=order).exists()


# --- PIN policy, PIN limits on every path, PIN sessions, the lock, background polls (issue 15) -------------------


@pytest.mark.parametrize("pin", ["1234", "0000", "111111", "123456", "654321", "890123", "121212", "12345a", ""])
def test_a_short_or_trivially_guessable_pin_is_refused(waiter, pin):
    with pytest.raises(DomainError) as refused:
        pins.set_pin(user=waiter, pin=pin)

    assert refused.value.fields["pin"]
    assert not StaffProfile.objects.filter(user=waiter, pin_hash__gt="").exists()


def test_a_six_digit_pin_that_is_not_trivial_is_accepted_and_the_length_is_a_setting(waiter, settings):
    pins.set_pin(user=waiter, pin="530691")
    assert pins.verify_pin(user_id=waiter.pk, pin="530691") == waiter

    settings.POS_PIN_LENGTH = 8
    with pytest.raises(DomainError):
        pins.set_pin(user=waiter, pin="530691")
    pins.set_pin(user=waiter, pin="53069184")
    assert pins.verify_pin(user_id=waiter.pk, pin="53069184") == waiter


def test_a_pin_set_earlier_with_four_digits_still_works(waiter):
    StaffProfile.objects.update_or_create(user=waiter, defaults={"pin_hash": make_password("2580")})

    assert pins.verify_pin(user_id=waiter.pk, pin="2580") == waiter


def test_the_set_pin_screen_refuses_a_trivial_pin(cashier, location):
    client = terminal(cashier)

    refused = client.post(
        reverse("orders:set_pin"), {"password": "secret-pass-123", "pin": "123456", "pin_again": "123456"}
    )

    assert refused.status_code == 400
    assert not StaffProfile.objects.filter(user=cashier, pin_hash__gt="").exists()


def test_wrong_pins_at_one_store_from_several_terminals_lock_pin_entry_at_that_store(
    cashier, waiter, manager, location, settings
):
    settings.POS_PIN_IP_MAX_ATTEMPTS = 100
    settings.POS_PIN_STORE_MAX_ATTEMPTS = 4
    give_pin(waiter)
    give_pin(manager)
    for number, person in enumerate((waiter, manager, waiter, manager)):
        guessing = terminal(cashier)
        guessing.defaults["REMOTE_ADDR"] = f"10.20.30.{number}"
        assert guessing.post(reverse("orders:switch"), {"user": person.pk, "pin": "000000"}).status_code == 400

    other = terminal(cashier)
    other.defaults["REMOTE_ADDR"] = "10.20.30.99"
    refused = other.post(reverse("orders:switch"), {"user": waiter.pk, "pin": PINS["waiter"]})

    assert refused.status_code == 400
    assert "Too many wrong PINs at this store" in refused.content.decode()
    assert int(other.session["_auth_user_id"]) == cashier.pk
    assert AuditEvent.objects.filter(action="pin_store_locked", location=location).count() == 1


def test_a_terminal_locked_for_wrong_pins_cannot_try_a_manager_pin_for_an_approval(
    cashier, waiter, manager, location, settings
):
    settings.POS_PIN_IP_MAX_ATTEMPTS = 2
    give_pin(waiter)
    give_pin(manager)
    client = terminal(cashier)
    client.defaults["REMOTE_ADDR"] = "10.20.30.40"
    for _ in range(2):
        client.post(reverse("orders:switch"), {"user": waiter.pk, "pin": "000000"})
    with pytest.raises(pins.PinLocked):
        pins.verify_manager_pin(user_id=manager.pk, pin=PINS["manager"], location=location, terminal="10.20.30.40")


def _pin_session(client, cashier, manager):
    """`client` (signed in by password as `cashier`) switches to `manager` with the manager's PIN."""
    give_pin(manager)
    response = client.post(reverse("orders:switch"), {"user": manager.pk, "pin": PINS["manager"]})
    assert response.status_code == 302 and int(client.session["_auth_user_id"]) == manager.pk


def test_a_manager_signed_in_by_pin_reaches_the_pos_but_nothing_else(cashier, manager, location):
    client = terminal(cashier)
    _pin_session(client, cashier, manager)

    assert client.get(reverse("orders:floor")).status_code == 200
    for path in ("/admin/", "/admin/auth/user/", "/admin/staff/apiclient/add/", "/reports/", "/ops/backups/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path
    api = client.get("/api/v1/orders/")
    assert api.status_code == 403 and api.json()["code"] == "password_required"


def test_a_password_sign_in_ends_the_pin_only_session(client, cashier, manager, location):
    client.force_login(cashier)
    _pin_session(client, cashier, manager)

    client.post("/accounts/login/", {"username": "manager", "password": "secret-pass-123"})

    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/orders/").status_code == 200


def test_an_approval_by_a_manager_pin_does_not_give_the_cashier_a_manager_session(cashier, manager, location):
    give_pin(manager)
    order = _open(cashier, location)
    _add(order, cashier, product(location))
    client = terminal(cashier)
    url = reverse("orders:void_order", args=[order.uuid])

    response = client.post(
        url,
        {"reason": "guest left", "approver": manager.pk, "approver_pin": PINS["manager"]},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert Order.objects.get(pk=order.pk).status == Order.Status.VOIDED
    assert int(client.session["_auth_user_id"]) == cashier.pk
    assert client.get("/reports/").status_code == 403


def test_a_locked_terminal_reaches_nothing_but_the_lock_screen(cashier, location):
    give_pin(cashier)
    client = terminal(cashier)
    client.post(reverse("orders:lock"))

    for path in ("/pos/", "/pos/shift/", "/", "/reports/sessions/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302 and "/pos/switch/" in response["Location"], path
    api = client.get("/api/v1/orders/")
    assert api.status_code == 403 and api.json()["code"] == "locked"
    assert client.get(reverse("orders:switch")).status_code == 200

    client.post(reverse("orders:switch"), {"user": cashier.pk, "pin": PINS["cashier"]})

    assert client.get(reverse("orders:floor")).status_code == 200


def test_a_password_sign_in_unlocks_a_locked_terminal(client, cashier, location, settings):
    settings.POS_IDLE_LOCK_SECONDS = 60
    client.force_login(cashier)
    client.get(reverse("orders:floor"))
    session = client.session
    session[SESSION_SEEN] = time.time() - 61
    session.save()
    client.post(reverse("orders:lock"))

    client.post("/accounts/login/", {"username": "cashier", "password": "secret-pass-123"})

    assert client.get(reverse("orders:floor")).status_code == 200


def test_the_print_problems_poll_does_not_keep_an_idle_terminal_awake(cashier, location, settings):
    settings.POS_IDLE_LOCK_SECONDS = 60
    client = terminal(cashier)
    client.get(reverse("orders:floor"))
    session = client.session
    session[SESSION_SEEN] = time.time() - 61
    session[LAST_ACTIVITY_KEY] = int(time.time()) - 61
    session.save()

    poll = client.get(reverse("billing:print_problems"), headers={"HX-Request": "true", **POLL})

    assert poll.status_code in (200, 204)
    assert client.session[LAST_ACTIVITY_KEY] <= int(time.time()) - 61
    locked = client.get(reverse("orders:floor"))
    assert locked.status_code == 302 and "locked=1" in locked["Location"]


def test_the_pos_pages_mark_their_print_problems_poll_as_a_background_poll(cashier, location):
    for page in ("orders:floor", "orders:switch"):
        html = terminal(cashier).get(reverse(page)).content.decode()

        element = html[html.index('id="print-banner"') :].split(">", 1)[0]
        assert POLL_HEADER in element, element


def test_an_idle_pos_session_is_locked_on_every_url_not_only_the_pos(cashier, location, settings):
    settings.POS_IDLE_LOCK_SECONDS = 60
    client = terminal(cashier)
    client.get(reverse("orders:floor"))
    session = client.session
    session[SESSION_SEEN] = time.time() - 61
    session.save()

    api = client.get("/api/v1/orders/")
    page = client.get("/")

    assert api.status_code == 403 and api.json()["code"] == "locked"
    assert page.status_code == 302 and "locked=1" in page["Location"]


def test_unlocking_a_managers_password_session_with_the_pin_leaves_a_pos_only_session(manager, location):
    """Whoever knows the manager's PIN can unlock the manager's terminal, but gets the POS, not the back office."""
    give_pin(manager)
    client = terminal(manager)
    client.post(reverse("orders:lock"))

    client.post(reverse("orders:switch"), {"user": manager.pk, "pin": PINS["manager"]})

    assert client.get(reverse("orders:floor")).status_code == 200
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/accounts/login/")
