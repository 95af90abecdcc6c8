"""Money rules on orders that could be walked around: combined discounts, a quantity change that grows a
discount, quantities finer than the product allows, and reducing someone else's or a sent line."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import AuditEvent
from orders import services
from orders.models import OrderLine
from orders.tests.helpers import line, station_product, stocked_product
from orders.tests.pos_helpers import give_pin, terminal
from posproject.errors import ApprovalRequired, Conflict, DomainError

pytestmark = pytest.mark.django_db


def open_with(location, user, *lines):
    return services.open_order(location_id=location.pk, user=user, lines=list(lines))


# --- combined discounts ---------------------------------------------------------------------------------------


def test_a_line_discount_and_an_order_discount_are_checked_as_one(location, cashier, manager):
    order = open_with(location, cashier, line(stocked_product(location, price="100.00")))
    [sold] = order.lines.all()
    services.apply_discount(order.pk, user=cashier, kind="percent", value=Decimal("10"), reason="dent", line_id=sold.pk)

    with pytest.raises(ApprovalRequired):
        services.apply_discount(order.pk, user=cashier, kind="percent", value=Decimal("10"), reason="regular")

    order.refresh_from_db()
    assert order.total == Decimal("90.00")
    services.apply_discount(
        order.pk, user=cashier, kind="percent", value=Decimal("10"), reason="regular", approver=manager
    )
    order.refresh_from_db()
    assert order.total == Decimal("81.00")
    event = AuditEvent.objects.get(action="discount_over_limit")
    assert (event.approver, event.data["percent"]) == (manager, "19.00")


def test_a_line_discount_on_top_of_an_order_discount_is_checked_as_one(location, cashier):
    order = open_with(location, cashier, line(stocked_product(location, price="100.00")))
    [sold] = order.lines.all()
    services.apply_discount(order.pk, user=cashier, kind="percent", value=Decimal("10"), reason="regular")

    with pytest.raises(ApprovalRequired):
        services.apply_discount(
            order.pk, user=cashier, kind="percent", value=Decimal("10"), reason="dent", line_id=sold.pk
        )

    order.refresh_from_db()
    assert order.total == Decimal("90.00")


def test_removing_a_discount_never_needs_a_manager(location, cashier, manager):
    order = open_with(location, cashier, line(stocked_product(location, price="100.00")))
    services.apply_discount(
        order.pk, user=cashier, kind="percent", value=Decimal("50"), reason="staff", approver=manager
    )

    services.apply_discount(order.pk, user=cashier, kind="", value=Decimal("0"))

    order.refresh_from_db()
    assert order.total == Decimal("100.00")


# --- change_line re-checks the discount -------------------------------------------------------------------------


def test_a_quantity_change_that_grows_an_approved_amount_discount_needs_a_manager(location, cashier, manager):
    order = open_with(location, cashier, line(stocked_product(location, price="10.00"), "10"))
    [sold] = order.lines.all()
    services.apply_discount(
        order.pk, user=cashier, kind="amount", value=Decimal("20.00"), reason="promo", line_id=sold.pk, approver=manager
    )

    with pytest.raises(ApprovalRequired):
        services.change_line(sold.pk, user=cashier, quantity=Decimal("2"))

    sold.refresh_from_db()
    order.refresh_from_db()
    assert (sold.quantity, order.total) == (Decimal("10"), Decimal("80.00"))
    services.change_line(sold.pk, user=cashier, quantity=Decimal("2"), approver=manager)
    order.refresh_from_db()
    assert order.total == Decimal("0.00")


def test_a_quantity_change_that_shrinks_a_discount_needs_nobody(location, cashier, manager):
    order = open_with(location, cashier, line(stocked_product(location, price="10.00"), "2"))
    [sold] = order.lines.all()
    services.apply_discount(
        order.pk, user=cashier, kind="amount", value=Decimal("5.00"), reason="promo", line_id=sold.pk, approver=manager
    )

    services.change_line(sold.pk, user=cashier, quantity=Decimal("4"))

    order.refresh_from_db()
    assert order.total == Decimal("35.00")


# --- quantity precision per product -----------------------------------------------------------------------------


def test_a_piece_item_refuses_a_fractional_quantity(location, cashier):
    cola = stocked_product(location, price="3.00")

    with pytest.raises(DomainError) as error:
        open_with(location, cashier, line(cola, "0.001"))

    assert error.value.fields.keys() == {"lines[0].quantity"}
    order = open_with(location, cashier, line(cola, "2"))
    [sold] = order.lines.all()
    with pytest.raises(DomainError) as changed:
        services.change_line(sold.pk, user=cashier, quantity=Decimal("1.5"))
    with pytest.raises(DomainError) as added:
        services.add_lines(order.pk, user=cashier, lines=[line(cola, "0.5")])
    assert changed.value.fields.keys() == {"quantity"}
    assert added.value.fields.keys() == {"lines[0].quantity"}
    assert OrderLine.objects.get().quantity == 2


def test_weighed_goods_take_the_places_their_product_allows(location, cashier):
    cheese = stocked_product(location, price="20.00", quantity_places=3, unit="kg")
    ham = stocked_product(location, price="20.00", quantity_places=1, unit="kg")

    order = open_with(location, cashier, line(cheese, "0.125"), line(ham, "0.5"))

    assert order.total == Decimal("12.50")
    with pytest.raises(DomainError) as error:
        services.add_lines(order.pk, user=cashier, lines=[line(ham, "0.25")])
    assert error.value.fields.keys() == {"lines[0].quantity"}


def test_the_api_answers_400_with_the_field_for_a_fractional_piece(location, cashier):
    cola = stocked_product(location, price="3.00")
    api = APIClient()
    api.force_authenticate(cashier)

    response = api.post(
        "/api/v1/orders/",
        {"location": location.pk, "lines": [{"product": cola.pk, "quantity": "0.001"}]},
        format="json",
    )

    assert response.status_code == 400
    assert "lines[0].quantity" in response.json()["fields"]
    assert not OrderLine.objects.exists()


# --- reducing a line is a void ----------------------------------------------------------------------------------


def test_cutting_someone_elses_line_is_a_void_with_a_manager_and_a_reason(location, waiter, cashier, manager):
    order = open_with(location, waiter, line(stocked_product(location, price="3.00"), "5"))
    [sold] = order.lines.all()

    with pytest.raises(ApprovalRequired):
        services.change_line(sold.pk, user=cashier, quantity=Decimal("1"), reason="guest changed mind")
    with pytest.raises(DomainError) as no_reason:
        services.change_line(sold.pk, user=cashier, quantity=Decimal("1"), approver=manager)
    sold.refresh_from_db()
    assert sold.quantity == 5 and no_reason.value.fields.keys() == {"reason"}

    services.change_line(sold.pk, user=cashier, quantity=Decimal("1"), reason="guest changed mind", approver=manager)

    order.refresh_from_db()
    assert order.total == Decimal("3.00")
    voided = order.lines.get(status=OrderLine.Status.VOIDED)
    assert (voided.quantity, voided.void_reason, voided.void_approved_by) == (
        Decimal("4"),
        "guest changed mind",
        manager,
    )
    event = AuditEvent.objects.get(action="void_line")
    assert (event.actor, event.approver, Decimal(event.data["quantity"])) == (cashier, manager, 4)


def test_my_own_unsent_line_can_be_cut_without_a_manager(location, waiter):
    order = open_with(location, waiter, line(stocked_product(location, price="3.00"), "5"))
    [sold] = order.lines.all()

    services.change_line(sold.pk, user=waiter, quantity=Decimal("2"))

    sold.refresh_from_db()
    assert sold.quantity == 2 and not AuditEvent.objects.filter(action="void_line").exists()


def test_cutting_a_line_sent_to_the_kitchen_is_a_void_with_a_manager(location, waiter, manager):
    order = open_with(location, waiter, line(station_product(location, "kitchen", price="8.00"), "3"))
    [sold] = order.lines.all()
    services.send_to_kitchen(order.pk, user=waiter)

    with pytest.raises(ApprovalRequired):
        services.change_line(sold.pk, user=waiter, quantity=Decimal("1"), reason="burnt")
    with pytest.raises(Conflict):
        services.change_line(sold.pk, user=waiter, note="no salt", approver=manager)

    services.change_line(sold.pk, user=waiter, quantity=Decimal("1"), reason="burnt", approver=manager)
    order.refresh_from_db()
    assert order.total == Decimal("8.00")
    assert order.lines.get(status=OrderLine.Status.VOIDED).quantity == 2


def test_the_pos_asks_a_manager_to_cut_someone_elses_line_and_keeps_what_was_typed(location, waiter, cashier, manager):
    give_pin(manager)
    order = open_with(location, waiter, line(stocked_product(location, price="3.00"), "5"))
    [sold] = order.lines.all()
    client = terminal(cashier)
    url = reverse("orders:change_line", args=[order.uuid, sold.pk])

    refused = client.post(url, {"quantity": "0.001"}, headers={"HX-Request": "true"})
    cut = client.post(url, {"quantity": "1", "reason": "wrong table"}, headers={"HX-Request": "true"})
    approved = client.post(
        url,
        {"quantity": "1", "reason": "wrong table", "approver": manager.pk, "approver_pin": "918273"},
        headers={"HX-Request": "true"},
    )

    assert refused.status_code == 400
    assert cut.status_code == 403 and "manager" in cut.content.decode()
    page = cut.content.decode()  # the line's editor stays open with what was typed, and asks for a manager
    assert 'name="quantity" value="1"' in page and 'value="wrong table"' in page and 'name="approver_pin"' in page
    assert approved.status_code == 200
    sold.refresh_from_db()
    assert sold.quantity == 1
