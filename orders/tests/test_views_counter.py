"""The counter's small flows on the order screen: a retail sale has no table service (no Send, no Move, no
guests), and a code that matches nothing says so across the screen instead of leaving the last "Added …" up."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders import services
from orders.models import Order
from orders.tests.factories import TableFactory
from orders.tests.pos_helpers import product, terminal

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _order_screen(user, order) -> str:
    return terminal(user).get(reverse("orders:order", args=[order.uuid])).content.decode()


def _actions(html: str) -> str:
    return html[html.index('class="order-actions"') :]


def test_a_retail_sale_shows_no_send_move_or_guests(cashier, location):
    TableFactory(location=location, name="4")
    order = services.open_order(location_id=location.pk, user=cashier, channel=Order.Channel.RETAIL)

    html = _order_screen(cashier, order)

    actions = _actions(html)
    assert ">Send<" not in actions and ">Move<" not in actions
    assert "guest" not in html[html.index('class="ticket-head"') : html.index('id="lines"')]
    assert ">Hold<" in actions and "Pay " in actions


def test_a_takeaway_in_a_store_without_tables_can_go_to_the_kitchen_but_shows_no_move_or_guests(cashier, location):
    """A counter-service kitchen (a burger bar without tables) still sends takeaway orders to the kitchen."""
    order = services.open_order(location_id=location.pk, user=cashier, channel=Order.Channel.TAKEAWAY)

    html = _order_screen(cashier, order)

    assert ">Send<" in _actions(html) and ">Move<" not in _actions(html)
    assert "1 guest" not in html


def test_a_table_order_keeps_send_move_and_guests(waiter, location):
    table = TableFactory(location=location, name="4")
    order = services.open_order(
        location_id=location.pk, user=waiter, channel=Order.Channel.DINE_IN, table_id=table.pk, guest_count=3
    )

    html = _order_screen(waiter, order)

    assert ">Send<" in _actions(html) and ">Move<" in _actions(html)
    assert "Table 4 · 3 guests" in html


def test_an_unknown_barcode_says_so_across_the_screen_and_clears_the_added_message(cashier, location):
    order = services.open_order(location_id=location.pk, user=cashier, channel=Order.Channel.RETAIL)
    cola = product(location, name="Cola", barcode="4000000000017")
    client = terminal(cashier)
    added = client.post(reverse("orders:add_line", args=[order.uuid]), {"code": cola.barcode}, headers=HTMX)
    assert "Added Cola." in added.content.decode()

    response = client.post(reverse("orders:add_line", args=[order.uuid]), {"code": "4999999999999"}, headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Reswap"] == "none"  # the grid and the ticket stay as they were ...
    assert response["HX-Trigger"] == "pos:scan-error"  # ... the page plays its error tone ...
    strip = '<div id="scan-message" class="scan-message" aria-live="assertive" hx-swap-oob="true">'
    assert strip in html  # ... says so full width ...
    assert "4999999999999" in html and "data-scan-error" in html
    assert '<div id="ticket-message" hx-swap-oob="true"></div>' in html  # ... and the "Added" message goes
    assert order.lines.count() == 1


def test_the_order_screen_has_the_full_width_message_strip_outside_the_ticket(cashier, location):
    order = services.open_order(location_id=location.pk, user=cashier, channel=Order.Channel.RETAIL)

    html = _order_screen(cashier, order)

    assert html.index('id="scan-message"') < html.index('class="order-screen"')
    assert "js/scan.js" in html


def test_a_typed_name_still_lists_matches_instead_of_an_error(cashier, location):
    order = services.open_order(location_id=location.pk, user=cashier, channel=Order.Channel.RETAIL)
    product(location, name="Still water", price=Decimal("2.00"))

    response = terminal(cashier).post(reverse("orders:add_line", args=[order.uuid]), {"code": "water"}, headers=HTMX)

    assert response["HX-Retarget"] == "#products"
    assert "Still water" in response.content.decode() and "data-scan-error" not in response.content.decode()
