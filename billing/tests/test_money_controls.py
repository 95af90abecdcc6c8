"""Money controls that could be walked around: per-store caps on tips, change, pay-ins and pay-outs; a pay-out
refusal that gave away the cash expected; cash refunds of card sales; sales of 0.00."""

import json
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing import sessions
from billing.models import CashMovement, Payment, Refund
from billing.services import RefundItem, refund, sell, take_payment
from inventory.models import AuditEvent, StockMove
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import apply_discount, open_order
from orders.tests.helpers import line, open_register, stocked_product
from orders.tests.pos_helpers import give_pin, open_till, terminal
from posproject.errors import ApprovalRequired, DomainError

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def till(location):
    return open_register(location)


@pytest.fixture
def session(till):
    return till.sessions.get()


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def checkout(api, data):
    return api.post(
        "/api/v1/checkout/", json.dumps(data), content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )


# --- tips and change ---------------------------------------------------------------------------------------------


def test_a_tip_above_the_store_cap_needs_a_manager(location, till, cashier, manager):
    item = stocked_product(location, price="3.00")
    huge = [TenderInput("card", tip=D("999999999"))]

    with pytest.raises(ApprovalRequired):
        sell(register_id=till.pk, user=cashier, lines=[line(item)], tenders=huge)

    assert not Payment.objects.exists()
    sale = sell(register_id=till.pk, user=cashier, lines=[line(item)], tenders=[TenderInput("card", tip=D("5"))])
    assert sale.payments[0].tip == D("5.00")
    sale = sell(register_id=till.pk, user=cashier, lines=[line(item)], tenders=huge, approver=manager)
    assert AuditEvent.objects.get(action="tip_over_limit").approver == manager


def test_change_above_the_store_cap_needs_a_manager(location, till, cashier):
    item = stocked_product(location, price="3.00")

    with pytest.raises(ApprovalRequired):
        sell(
            register_id=till.pk,
            user=cashier,
            lines=[line(item)],
            tenders=[TenderInput("cash", tendered=D("1000000000"))],
        )

    assert not Payment.objects.exists() and not Order.objects.exists()


def test_change_on_an_open_order_above_the_cap_needs_a_manager(location, till, cashier, manager):
    order = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location, price="3.00"))])
    location.max_change = D("50")
    location.save()
    tenders = [TenderInput("cash", tendered=D("60.00"))]

    with pytest.raises(ApprovalRequired):
        take_payment(order_id=order.pk, register_id=till.pk, tenders=tenders, user=cashier)

    sale = take_payment(order_id=order.pk, register_id=till.pk, tenders=tenders, user=cashier, approver=manager)
    assert sale.change == D("57.00")
    assert AuditEvent.objects.get(action="change_over_limit").approver == manager


def test_the_api_refuses_a_huge_tip_from_a_cashier_and_takes_it_with_a_manager_pin(location, till, cashier, manager):
    give_pin(manager, "918273")
    item = stocked_product(location, price="3.00")
    data = {
        "register": till.pk,
        "lines": [{"product": item.pk, "quantity": "1"}],
        "tenders": [{"tender": "card", "tip": "999999999"}],
    }

    refused = checkout(api_for(cashier), data)
    approved = checkout(api_for(cashier), {**data, "approver": manager.pk, "approver_pin": "918273"})

    assert refused.status_code == 403 and refused.json()["code"] == "approval_required"
    assert approved.status_code == 201, approved.json()


# --- pay-ins and pay-outs ---------------------------------------------------------------------------------------


def test_a_pay_in_above_the_store_cap_needs_a_manager(session, cashier, manager):
    with pytest.raises(ApprovalRequired):
        sessions.pay_in(session_id=session.pk, user=cashier, amount="900000000", reason="float")
    assert not CashMovement.objects.exists()

    sessions.pay_in(session_id=session.pk, user=cashier, amount="2000", reason="float", approver=manager)

    assert AuditEvent.objects.get(action="cash_pay_in").approver == manager


def test_a_pay_out_above_the_store_cap_needs_a_manager(session, cashier, manager):
    sessions.pay_in(session_id=session.pk, user=manager, amount="5000", reason="bank")

    with pytest.raises(ApprovalRequired):
        sessions.pay_out(session_id=session.pk, user=cashier, amount="100.01", reason="supplier")
    sessions.pay_out(session_id=session.pk, user=cashier, amount="100.00", reason="milk")
    sessions.pay_out(session_id=session.pk, user=cashier, amount="1000", reason="supplier", approver=manager)

    assert CashMovement.objects.filter(kind="pay_out").count() == 2
    event = AuditEvent.objects.filter(action="cash_pay_out").latest("id")
    assert event.approver == manager


def test_a_refused_pay_out_never_tells_a_cashier_the_cash_expected(session, cashier, manager):
    session.register.location.max_pay_out = D("1000000")
    session.register.location.save()
    sessions.pay_in(session_id=session.pk, user=manager, amount="250.00", reason="change from the bank")
    expected = sessions.expected_cash(session)

    answers = []
    for amount in ("1000000", str(expected + D("0.01")), str(expected)):
        try:
            sessions.pay_out(session_id=session.pk, user=cashier, amount=amount, reason="probe")
            answers.append("recorded")
        except DomainError as error:
            answers.append((error.code, error.message, error.fields))

    # Every answer a cashier gets is the same whatever the drawer holds: the cap or a manager decides.
    assert answers[0] == answers[1] == answers[2]
    assert all(str(expected) not in str(a) for a in answers)


def test_the_api_pay_out_refusal_names_no_amount_of_the_drawer(location, cashier):
    register = open_register(location, user=cashier)
    url = f"/api/v1/cash-sessions/{register.sessions.get().pk}/pay-out/"

    response = api_for(cashier).post(url, {"amount": "500.00", "reason": "supplier"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "approval_required"
    assert "expected" not in json.dumps(response.json()).lower()


def test_the_pos_asks_a_manager_for_a_big_pay_out_and_keeps_what_was_typed(location, cashier, manager):
    give_pin(manager, "918273")
    client = terminal(cashier)
    open_till(client, location, cashier)

    refused = client.post(reverse("billing:shift_move"), {"kind": "pay_out", "amount": "250", "reason": "supplier"})
    approved = client.post(
        reverse("billing:shift_move"),
        {"kind": "pay_out", "amount": "50", "reason": "supplier", "approver": manager.pk, "approver_pin": "918273"},
    )

    assert refused.status_code == 400
    page = refused.content.decode()
    assert "manager" in page and 'value="250"' in page and 'value="supplier"' in page
    assert approved.status_code == 200
    assert CashMovement.objects.get().amount == D("50")


# --- refunds in cash --------------------------------------------------------------------------------------------


def test_a_card_sale_cannot_be_refunded_in_cash_without_a_deliberate_approval(location, till, cashier, manager):
    order = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(stocked_product(location, price="40.00"))],
        tenders=[TenderInput("card")],
    ).order
    item = RefundItem(order.lines.get().pk, D("1"))

    with pytest.raises(DomainError) as error:
        refund(order_id=order.pk, register_id=till.pk, items=[item], reason="x", user=manager, tender="cash")

    assert error.value.code == "refund_exceeds_cash_paid"
    assert "tender" in error.value.fields and not Refund.objects.exists()
    record = refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[item],
        reason="card reader down",
        user=cashier,
        approver=manager,
        tender="cash",
        cash_beyond_paid=True,
    )
    assert (record.tender, record.amount) == ("cash", D("40.00"))
    assert AuditEvent.objects.get(action="refund_cash_beyond_paid").approver == manager


def test_a_cash_refund_is_capped_by_the_cash_paid_less_cash_refunded(location, till, manager):
    item = stocked_product(location, price="10.00")
    order = sell(
        register_id=till.pk,
        user=manager,
        lines=[line(item, "3")],
        tenders=[TenderInput("cash", tendered=D("10.00")), TenderInput("card", amount=D("20.00"))],
    ).order
    sold = order.lines.get()

    refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(sold.pk, D("1"))],
        reason="x",
        user=manager,
        tender="cash",
    )
    with pytest.raises(DomainError) as error:
        refund(
            order_id=order.pk,
            register_id=till.pk,
            items=[RefundItem(sold.pk, D("1"))],
            reason="x",
            user=manager,
            tender="cash",
        )

    assert error.value.code == "refund_exceeds_cash_paid"


def test_the_api_refund_in_cash_of_a_card_sale_is_refused(location, till, manager):
    order = sell(
        register_id=till.pk,
        user=manager,
        lines=[line(stocked_product(location, price="40.00"))],
        tenders=[TenderInput("card")],
    ).order
    data = {
        "order": str(order.uuid),
        "register": till.pk,
        "lines": [{"line": order.lines.get().pk, "quantity": "1"}],
        "reason": "x",
        "tender": "cash",
    }

    response = api_for(manager).post("/api/v1/refunds/", data, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))

    assert response.status_code == 400
    assert response.json()["code"] == "refund_exceeds_cash_paid"


def test_a_fractional_refund_of_a_piece_item_is_refused(location, till, manager):
    order = sell(
        register_id=till.pk,
        user=manager,
        lines=[line(stocked_product(location, price="3.00"), "2")],
        tenders=[TenderInput("card")],
    ).order

    with pytest.raises(DomainError) as error:
        refund(
            order_id=order.pk,
            register_id=till.pk,
            items=[RefundItem(order.lines.get().pk, D("0.5"))],
            reason="x",
            user=manager,
        )

    assert error.value.fields.keys() == {"lines[0].quantity"}


# --- sales of 0.00 -------------------------------------------------------------------------------------------------


def test_a_sale_of_fractions_of_pieces_is_refused_before_anything_is_stored(location, till, cashier):
    item = stocked_product(location, price="3.00", on_hand="10")

    with pytest.raises(DomainError) as error:
        sell(register_id=till.pk, user=cashier, lines=[line(item, "0.001")] * 200, tenders=[])

    assert "lines[0].quantity" in error.value.fields
    assert not Order.objects.exists() and not StockMove.objects.filter(reason="sale").exists()


def test_a_sale_of_zero_needs_a_manager_and_a_reason(location, till, cashier, manager):
    item = stocked_product(location, price="3.00")
    order = open_order(location_id=location.pk, user=cashier, lines=[line(item)])
    apply_discount(order.pk, user=manager, kind="percent", value=D("100"), reason="staff meal")

    with pytest.raises(ApprovalRequired):
        take_payment(order_id=order.pk, register_id=till.pk, tenders=[], user=cashier, reason="staff meal")
    with pytest.raises(DomainError) as no_reason:
        take_payment(order_id=order.pk, register_id=till.pk, tenders=[], user=cashier, approver=manager)
    assert no_reason.value.fields.keys() == {"reason"}
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN

    take_payment(
        order_id=order.pk, register_id=till.pk, tenders=[], user=cashier, approver=manager, reason="staff meal"
    )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    event = AuditEvent.objects.get(action="zero_sale")
    assert (event.actor, event.approver, event.reason) == (cashier, manager, "staff meal")


def test_the_api_refuses_a_zero_sale_without_a_manager(location, till, cashier):
    item = stocked_product(location, price="0.00")
    data = {"register": till.pk, "lines": [{"product": item.pk, "quantity": "1"}], "tenders": []}

    response = checkout(api_for(cashier), data)

    assert response.status_code == 403
    assert response.json()["code"] == "approval_required"
    assert not Order.objects.exists()


# --- the pay and refund screens -----------------------------------------------------------------------------------


def _pay_screen(client, order, fields):
    key = client.get(reverse("billing:pay", args=[order.uuid])).context["key"]
    return client.post(reverse("billing:pay", args=[order.uuid]), {"key": key, "rows": "1", **fields})


def test_the_pay_screen_takes_a_zero_sale_only_with_a_manager_and_a_reason(location, cashier, manager):
    give_pin(manager, "918273")
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location, price="3.00"))])
    apply_discount(order.pk, user=manager, kind="percent", value=D("100"), reason="staff meal")

    refused = _pay_screen(client, order, {"tender_0": "cash", "reason": "staff meal"})
    approved = _pay_screen(
        client, order, {"tender_0": "cash", "reason": "staff meal", "approver": manager.pk, "approver_pin": "918273"}
    )

    assert refused.status_code == 400
    assert "manager" in refused.content.decode() and 'value="staff meal"' in refused.content.decode()
    assert approved.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and not order.payments.exists()
    assert AuditEvent.objects.get(action="zero_sale").approver == manager


def test_the_pay_screen_asks_a_manager_for_change_above_the_cap(location, cashier):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location, price="3.00"))])

    response = _pay_screen(client, order, {"tender_0": "cash", "amount_0": "999999999"})

    assert response.status_code == 400
    assert "manager" in response.content.decode() and 'value="999999999"' in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN and not Payment.objects.exists()


def test_the_refund_screen_gives_cash_for_a_card_sale_only_when_ticked(location, cashier, manager):
    give_pin(manager, "918273")
    client = terminal(cashier)
    till = open_till(client, location, cashier)
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(stocked_product(location, price="40.00"))],
        tenders=[TenderInput("card")],
    )
    sold = sale.order.lines.get()
    fields = {
        f"qty_{sold.pk}": "1",
        f"restock_{sold.pk}": "1",
        "reason": "card reader down",
        "tender": "cash",
        "approver": manager.pk,
        "approver_pin": "918273",
    }

    refused = client.post(reverse("billing:refund", args=[sale.receipt.pk]), fields)
    given = client.post(reverse("billing:refund", args=[sale.receipt.pk]), {**fields, "cash_beyond_paid": "1"})

    assert refused.status_code == 400 and "can still be refunded in cash" in refused.content.decode()
    assert given.status_code == 302
    assert Refund.objects.get().tender == "cash"
