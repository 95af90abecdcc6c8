"""Every POS write sent twice with the same idempotency key (a retry after a lost answer, a double tap) is applied
once and the second request gets the first answer; the same key with other details is refused (core.idempotent_screens).
"""

import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import CashMovement, CashSession, Payment, PrintJob, Receipt, Refund, ZReport
from billing.tests.factories import RegisterFactory
from core.models import IdempotencyRecord
from orders import services
from orders.models import KitchenTicket, Order, OrderLine
from orders.tests.factories import TableFactory
from orders.tests.pos_helpers import PINS, attach_register, give_pin, open_till, pair_client, product, terminal

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _order_of(user, location, *items, **extra) -> Order:
    order = services.open_order(location_id=location.pk, user=user, **extra)
    if items:
        services.add_lines(order.pk, user=user, lines=[services.NewLine(product_id=item.pk) for item in items])
    order.refresh_from_db()
    return order


def _twice(client, url, data, *, headers=None):
    key = str(uuid.uuid4())
    headers = {**(headers or {}), "Idempotency-Key": key}
    first = client.post(url, data, headers=headers)
    second = client.post(url, data, headers=headers)
    return first, second


def _same_answer(first, second):
    assert first.status_code < 400, first.content.decode()[:500]
    assert second.status_code == first.status_code
    assert second.content == first.content
    assert second.get("Location") == first.get("Location")
    assert second.get("HX-Redirect") == first.get("HX-Redirect")
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")


# --- Order screen ---------------------------------------------------------------------------------------------


def test_a_product_tapped_again_with_the_same_key_is_added_once(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location)
    cola = product(location)

    first, second = _twice(client, reverse("orders:add_line", args=[order.uuid]), {"product": cola.pk}, headers=HTMX)

    _same_answer(first, second)
    assert OrderLine.objects.get(order=order).quantity == 1


def test_the_same_product_with_a_new_key_is_a_second_tap(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location)
    cola = product(location)
    url = reverse("orders:add_line", args=[order.uuid])

    client.post(url, {"product": cola.pk}, headers={**HTMX, "Idempotency-Key": "tap-1"})
    client.post(url, {"product": cola.pk}, headers={**HTMX, "Idempotency-Key": "tap-2"})

    assert OrderLine.objects.get(order=order).quantity == 2


def test_a_new_order_opened_twice_with_one_key_is_one_order(cashier, location):
    client = terminal(cashier)

    first, second = _twice(client, reverse("orders:open_order"), {"channel": "retail"})

    _same_answer(first, second)
    assert Order.objects.count() == 1


def test_a_line_change_replayed_is_applied_once(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location, product(location))
    line = order.lines.get()
    url = reverse("orders:change_line", args=[order.uuid, line.pk])

    first, second = _twice(client, url, {"quantity": "3", "course": "1"}, headers=HTMX)

    _same_answer(first, second)
    line.refresh_from_db()
    assert line.quantity == 3


def test_a_void_replayed_is_answered_like_the_first_not_refused_as_already_void(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location, product(location))
    line = order.lines.get()

    first, second = _twice(
        client, reverse("orders:void_line", args=[order.uuid, line.pk]), {"reason": "wrong item"}, headers=HTMX
    )

    _same_answer(first, second)
    line.refresh_from_db()
    assert line.status == OrderLine.Status.VOIDED


def test_a_discount_replayed_is_applied_once(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location, product(location, price="10.00"))

    first, second = _twice(
        client,
        reverse("orders:discount", args=[order.uuid]),
        {"kind": "amount", "value": "1.00", "reason": "regular"},
        headers=HTMX,
    )

    _same_answer(first, second)
    order.refresh_from_db()
    assert order.total == Decimal("9.00")


def test_sending_to_the_kitchen_twice_with_one_key_prints_one_ticket(waiter, location):
    client = terminal(waiter)
    order = _order_of(waiter, location, product(location, station="grill"), channel=Order.Channel.DINE_IN)

    first, second = _twice(client, reverse("orders:send", args=[order.uuid]), {}, headers=HTMX)

    _same_answer(first, second)
    assert KitchenTicket.objects.filter(order=order).count() == 1


def test_hold_resume_move_and_void_order_replayed_answer_the_first_answer(cashier, manager, location):
    give_pin(manager)
    client = terminal(cashier)
    table = TableFactory(location=location)
    order = _order_of(cashier, location, product(location), channel=Order.Channel.DINE_IN)

    _same_answer(*_twice(client, reverse("orders:hold", args=[order.uuid]), {}, headers=HTMX))
    _same_answer(*_twice(client, reverse("orders:resume", args=[order.uuid]), {}, headers=HTMX))
    _same_answer(*_twice(client, reverse("orders:move", args=[order.uuid]), {"table": table.pk}, headers=HTMX))
    voided = {"reason": "walked out", "approver": manager.pk, "approver_pin": PINS["manager"]}
    _same_answer(*_twice(client, reverse("orders:void_order", args=[order.uuid]), voided, headers=HTMX))

    order.refresh_from_db()
    assert (order.status, order.table_id) == (Order.Status.VOIDED, table.pk)


def test_a_split_replayed_makes_one_new_order(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location, product(location), product(location, name="Tea"))
    line = order.lines.first()

    first, second = _twice(client, reverse("orders:split", args=[order.uuid]), {f"move_{line.pk}": "1"})

    _same_answer(first, second)
    assert Order.objects.count() == 2


def test_a_kitchen_bump_replayed_is_answered_like_the_first(waiter, kitchen_user, location):
    order = _order_of(waiter, location, product(location, station="grill"), channel=Order.Channel.DINE_IN)
    ticket = services.send_to_kitchen(order.pk, user=waiter)[0]
    client = terminal(kitchen_user)

    first, second = _twice(client, reverse("orders:kitchen_bump", args=[ticket.pk]), {}, headers=HTMX)

    _same_answer(first, second)
    assert "already" not in second.content.decode()


# --- Shift, payment, receipt, refund -------------------------------------------------------------------------


def test_a_till_opened_twice_with_one_key_has_one_session(cashier, location):
    client = terminal(cashier)
    register = RegisterFactory(location=location)
    attach_register(client, register)

    first, second = _twice(client, reverse("billing:shift_open"), {"opening_float": "100"})

    _same_answer(first, second)
    assert CashSession.objects.filter(register=register).count() == 1


def test_a_pay_in_replayed_is_recorded_once(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)

    first, second = _twice(client, reverse("billing:shift_move"), {"kind": "pay_in", "amount": "20", "reason": "bank"})

    _same_answer(first, second)
    assert CashMovement.objects.count() == 1


def test_a_close_replayed_makes_one_z_report(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)

    first, second = _twice(client, reverse("billing:shift_close"), {"d_50": "2"})

    _same_answer(first, second)
    assert ZReport.objects.count() == 1


def test_a_payment_tapped_twice_with_one_key_is_one_sale_one_payment_one_receipt(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.50"))
    data = {"key": str(uuid.uuid4()), "rows": "1", "tender_0": "cash", "amount_0": "5.00"}

    first, second = _twice(client, reverse("billing:pay", args=[order.uuid]), data, headers=HTMX)

    _same_answer(first, second)
    assert (Payment.objects.count(), Receipt.objects.count()) == (1, 1)


def test_a_reprint_replayed_prints_one_copy(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location))
    services_pay(client, order)
    receipt = Receipt.objects.get(order=order)

    first, second = _twice(client, reverse("billing:receipt_reprint", args=[receipt.pk]), {})

    _same_answer(first, second)
    assert PrintJob.objects.filter(receipt=receipt, is_copy=True).count() == 1


def test_a_refund_replayed_gives_back_once(cashier, manager, location):
    give_pin(manager)
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.50"))
    services_pay(client, order)
    receipt = Receipt.objects.get(order=order)
    line = order.lines.get()
    data = {f"qty_{line.pk}": "1", "reason": "broken", "approver": manager.pk, "approver_pin": PINS["manager"]}

    first, second = _twice(client, reverse("billing:refund", args=[receipt.pk]), data)

    _same_answer(first, second)
    assert Refund.objects.count() == 1


def services_pay(client, order):
    data = {"key": str(uuid.uuid4()), "rows": "1", "tender_0": "cash", "amount_0": f"{order.total}"}
    response = client.post(reverse("billing:pay", args=[order.uuid]), data)
    assert response.status_code == 302


# --- Refusals ---------------------------------------------------------------------------------------------------


def test_the_same_key_with_other_details_is_refused_with_409_and_changes_nothing(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location)
    cola, tea = product(location), product(location, name="Tea")
    url = reverse("orders:add_line", args=[order.uuid])
    headers = {**HTMX, "Idempotency-Key": "k-1"}
    client.post(url, {"product": cola.pk}, headers=headers)

    refused = client.post(url, {"product": tea.pk}, headers=headers)

    assert refused.status_code == 409
    assert refused["X-Idempotency-Refused"] == "1" and refused["HX-Reswap"] == "none"
    assert "already sent with other details" in refused.content.decode()
    assert [line.name for line in order.lines.all()] == ["Cola"]


def test_the_same_key_on_another_screen_is_refused(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location, product(location, station="grill"), channel=Order.Channel.DINE_IN)
    headers = {**HTMX, "Idempotency-Key": "k-2"}
    sent = client.post(reverse("orders:send", args=[order.uuid]), {}, headers=headers)
    assert sent.status_code == 200

    refused = client.post(reverse("orders:hold", args=[order.uuid]), {}, headers=headers)

    assert refused.status_code == 409
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN


def test_a_refused_request_keeps_no_claim_so_the_same_key_can_try_again(cashier, manager, location):
    """A refund refused for a missing PIN is not an answer to replay: typed again with the PIN, it goes through."""
    give_pin(manager)
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.50"))
    services_pay(client, order)
    receipt = Receipt.objects.get(order=order)
    line = order.lines.get()
    data = {f"qty_{line.pk}": "1", "reason": "broken", "idempotency_key": "refund-1"}
    url = reverse("billing:refund", args=[receipt.pk])

    refused = client.post(url, data)
    assert refused.status_code == 400
    assert not IdempotencyRecord.objects.filter(key="refund-1").exists()

    approved = client.post(url, {**data, "approver": manager.pk, "approver_pin": PINS["manager"]})

    assert approved.status_code == 302
    assert Refund.objects.count() == 1


def test_a_wrong_pin_still_counts_when_the_request_carries_a_key(cashier, manager, location):
    give_pin(manager)
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location))
    voided = {"reason": "walked out", "approver": manager.pk, "approver_pin": "000000"}

    client.post(reverse("orders:void_order", args=[order.uuid]), voided, headers={**HTMX, "Idempotency-Key": "v-1"})

    from staff.models import StaffProfile

    assert StaffProfile.objects.get(user=manager).pin_failed_attempts == 1


def test_a_malformed_key_is_refused_before_anything_happens(cashier, location):
    client = terminal(cashier)
    order = _order_of(cashier, location)

    response = client.post(
        reverse("orders:add_line", args=[order.uuid]),
        {"product": product(location).pk},
        headers={**HTMX, "Idempotency-Key": "x" * 129},
    )

    assert response.status_code == 400
    assert not order.lines.exists()


def test_one_persons_key_is_not_anothers(cashier, waiter, location):
    order = _order_of(cashier, location)
    cola = product(location)
    url = reverse("orders:add_line", args=[order.uuid])
    headers = {**HTMX, "Idempotency-Key": "same-uuid"}

    terminal(cashier).post(url, {"product": cola.pk}, headers=headers)
    second = terminal(waiter).post(url, {"product": cola.pk}, headers=headers)

    assert not second.has_header("Idempotent-Replayed")
    assert OrderLine.objects.get(order=order).quantity == 2


def test_a_z_reprint_replayed_prints_one_copy(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    client.post(reverse("billing:shift_close"), {"d_50": "2"})
    z = ZReport.objects.get()
    copies_before = PrintJob.objects.filter(is_copy=True).count()

    first, second = _twice(client, reverse("billing:z_reprint", args=[z.pk]), {})

    _same_answer(first, second)
    assert PrintJob.objects.filter(is_copy=True).count() == copies_before + 1


def test_a_print_problem_reprint_replayed_queues_one_copy(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)  # this register has no printer: its receipt jobs fail at once
    order = _order_of(cashier, location, product(location))
    services_pay(client, order)
    job = PrintJob.objects.get(receipt__order=order)

    first, second = _twice(client, reverse("billing:print_reprint", args=[job.pk]), {}, headers=HTMX)

    _same_answer(first, second)
    assert PrintJob.objects.filter(receipt__order=order, is_copy=True).count() == 1


def test_a_kitchen_recall_replayed_is_answered_like_the_first(waiter, kitchen_user, location):
    order = _order_of(waiter, location, product(location, station="grill"), channel=Order.Channel.DINE_IN)
    ticket = services.send_to_kitchen(order.pk, user=waiter)[0]
    client = terminal(kitchen_user)
    client.post(reverse("orders:kitchen_bump", args=[ticket.pk]), headers=HTMX)

    first, second = _twice(client, reverse("orders:kitchen_recall", args=[ticket.pk]), {}, headers=HTMX)

    _same_answer(first, second)
    assert KitchenTicket.objects.get(pk=ticket.pk).status == KitchenTicket.Status.NEW


def test_a_key_gets_nobody_past_sign_in_or_permissions(cashier, waiter, location):
    open_till(terminal(cashier), location, cashier)
    order = _order_of(cashier, location, product(location))
    url = reverse("billing:pay", args=[order.uuid])
    data = {"key": str(uuid.uuid4()), "rows": "1", "tender_0": "cash", "amount_0": "5.00"}
    headers = {"Idempotency-Key": "pay-1"}

    signed_out = Client()
    pair_client(signed_out, location)
    anonymous = signed_out.post(url, data, headers=headers)  # a paired till nobody is signed in at
    unpaired = Client().post(url, data, headers=headers)  # a browser that is no terminal: the pairing screen
    not_allowed = terminal(waiter).post(url, data, headers=headers)  # a waiter takes no payments

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert unpaired.status_code == 403 and "Pair this device" in unpaired.content.decode()
    assert not_allowed.status_code == 403
    assert not IdempotencyRecord.objects.exists() and not Payment.objects.exists()
