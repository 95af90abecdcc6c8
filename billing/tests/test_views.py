"""The money-side POS screens: start and end of shift, payment, receipt and reprint, refund, print problems."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import CashSession, Payment, PrintJob, Receipt, Refund, ZReport
from billing.tests.factories import RegisterFactory
from orders import services
from orders.models import Order
from orders.tests.pos_helpers import PINS, attach_register, give_pin, open_till, product, terminal

pytestmark = pytest.mark.django_db


def _order_of(user, location, *items) -> Order:
    order = services.open_order(location_id=location.pk, user=user)
    services.add_lines(order.pk, user=user, lines=[services.NewLine(product_id=item.pk) for item in items])
    order.refresh_from_db()
    return order


def _pay(client, order, **fields):
    page = client.get(reverse("billing:pay", args=[order.uuid]))
    key = page.context["key"]
    data = {"key": key, "rows": "1", "tender_0": "cash", **fields}
    return client.post(reverse("billing:pay", args=[order.uuid]), data), key


# --- Shift --------------------------------------------------------------------------------------------------------


def test_opening_the_till_with_a_float_opens_a_session_on_the_terminals_register(cashier, location):
    register = RegisterFactory(location=location, name="Till 1")
    RegisterFactory(location=location, name="Till 2")
    client = terminal(cashier)
    attach_register(client, register)

    response = client.post(reverse("billing:shift_open"), {"opening_float": "150.00"})

    session = CashSession.objects.get()
    assert response.status_code == 302
    assert session.register == register
    assert session.status == "open" and session.opening_float == Decimal("150.00")
    assert client.get(reverse("billing:shift")).context["session"] == session


def test_the_float_can_be_counted_by_note_and_coin(cashier, location):
    register = RegisterFactory(location=location)
    client = terminal(cashier)
    attach_register(client, register)

    client.post(reverse("billing:shift_open"), {"d_50": "2", "d_0.50": "4"})

    assert CashSession.objects.get(register=register).opening_float == Decimal("102.00")


def test_a_bad_float_is_refused_with_a_message(cashier, location):
    register = RegisterFactory(location=location)
    client = terminal(cashier)
    attach_register(client, register)

    response = client.post(reverse("billing:shift_open"), {"opening_float": "-5"})

    assert response.status_code == 400
    assert "error-box" in response.content.decode()
    assert not CashSession.objects.exists()


def test_a_cashier_sees_a_blind_x_report(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)

    html = client.get(reverse("billing:shift_x")).content.decode()

    assert "X report" in html and "blind" in html
    assert "Cash expected" not in html


def test_pay_in_is_recorded_on_the_session(cashier, location):
    client = terminal(cashier)
    register = open_till(client, location, cashier)

    client.post(reverse("billing:shift_move"), {"kind": "pay_in", "amount": "20.00", "reason": "change from bank"})

    session = CashSession.objects.get(register=register)
    assert session.movements.get().amount == Decimal("20.00")


def test_closing_with_a_blind_count_shows_the_z_report(cashier, location):
    client = terminal(cashier)
    register = open_till(client, location, cashier, opening_float="100.00")

    response = client.post(reverse("billing:shift_close"), {"d_50": "2"})

    z = ZReport.objects.get(register=register)
    assert response["Location"] == reverse("billing:z_report", args=[z.pk])
    assert "Open the till" in client.get(reverse("billing:shift")).content.decode()
    html = client.get(response["Location"]).content.decode()
    assert "Z report No. 1" in html and 'data-z="over_short">0.00<' in html


def test_a_count_far_off_needs_a_manager_pin_to_close(cashier, manager, location):
    give_pin(manager)
    client = terminal(cashier)
    register = open_till(client, location, cashier, opening_float="100.00")

    refused = client.post(reverse("billing:shift_close"), {"d_20": "1"})
    approved = client.post(
        reverse("billing:shift_close"), {"d_20": "1", "approver": manager.pk, "approver_pin": PINS["manager"]}
    )

    assert refused.status_code == 400 and "manager" in refused.content.decode()
    assert approved.status_code == 302
    assert CashSession.objects.get(register=register).approved_by == manager


# --- Payment and receipt --------------------------------------------------------------------------------------------


def test_cash_with_change_gives_receipt_number_one_and_shows_the_change(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.50"), product(location, name="Tea", price="2.00"))

    response, _ = _pay(client, order, amount_0="10.00")

    receipt = Receipt.objects.get(order=order)
    assert receipt.number == 1
    assert response["Location"] == reverse("billing:receipt", args=[receipt.pk])
    html = client.get(response["Location"]).content.decode()
    assert "data-receipt-number>1<" in html
    assert "Change: 4.50" in html


def test_a_resubmitted_payment_form_sells_only_once(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.50"))
    first, key = _pay(client, order, amount_0="5.00")

    again = client.post(
        reverse("billing:pay", args=[order.uuid]), {"key": key, "rows": "1", "tender_0": "cash", "amount_0": "5.00"}
    )

    assert again.status_code == 302 and again["Location"] == first["Location"]
    assert Payment.objects.filter(order=order).count() == 1
    assert Receipt.objects.filter(order=order).count() == 1


def test_not_enough_cash_is_refused_and_nothing_is_sold(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.50"))

    response, _ = _pay(client, order, amount_0="2.00")

    assert response.status_code == 400
    assert "unpaid" in response.content.decode()
    assert not Receipt.objects.exists()


def test_paying_without_an_open_session_asks_to_start_the_shift(cashier, location):
    order = _order_of(cashier, location, product(location))
    client = terminal(cashier)

    response, _ = _pay(client, order)

    assert response.status_code == 400
    assert "Open a cash session" in response.content.decode()


def test_a_bill_split_between_guests_is_paid_with_one_tender_each(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="10.00"), product(location, name="Pie", price="5.01"))
    page = client.get(reverse("billing:pay", args=[order.uuid]), {"guests": "2"})
    assert [str(s) for s in page.context["shares"]] == ["7.51", "7.50"]

    client.post(
        reverse("billing:pay", args=[order.uuid]) + "?guests=2",
        {
            "key": page.context["key"],
            "rows": "2",
            "tender_0": "card",
            "amount_0": "7.51",
            "guest_0": "1",
            "tender_1": "cash",
            "amount_1": "10.00",
            "guest_1": "2",
        },
    )

    payments = {p.guest: p for p in Payment.objects.filter(order=order)}
    assert payments[1].tender == "card" and payments[1].amount == Decimal("7.51")
    assert payments[2].tender == "cash" and payments[2].change == Decimal("2.50")


def test_a_tip_typed_as_an_amount_is_recorded_on_the_card_payment(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="20.00"))

    response, _ = _pay(client, order, tender_0="card", tip_0="2.50", tip_mode_0="amount", reference_0="AUTH 1")

    assert response.status_code == 302
    payment = Payment.objects.get(order=order)
    assert (payment.amount, payment.tip, payment.tendered, payment.reference) == (
        Decimal("20.00"),
        Decimal("2.50"),
        Decimal("22.50"),
        "AUTH 1",
    )


def test_a_tip_typed_as_a_percent_is_that_percent_of_the_order_total(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="23.45"))

    _pay(client, order, tender_0="card", tip_0="10", tip_mode_0="percent")

    assert Payment.objects.get(order=order).tip == Decimal("2.35")


def test_a_cash_tip_comes_out_of_what_was_handed_over_before_the_change(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="8.00"))

    _pay(client, order, amount_0="20.00", tip_0="2.00")

    payment = Payment.objects.get(order=order)
    assert (payment.tip, payment.change) == (Decimal("2.00"), Decimal("10.00"))


def test_a_tip_above_the_store_cap_needs_a_manager_and_the_refusal_keeps_everything_typed(cashier, location):
    location.max_tip = Decimal("5.00")
    location.save()
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="20.00"))

    response, _ = _pay(
        client, order, tender_0="card", amount_0="20.00", tip_0="30", tip_mode_0="percent", reference_0="AUTH 9"
    )

    assert response.status_code == 400 and not Payment.objects.exists()
    html = response.content.decode()
    assert 'name="tender_0" value="card" checked' in html
    assert 'name="amount_0" inputmode="decimal" class="amount-input" autocomplete="off" value="20.00"' in html
    assert 'name="tip_0" inputmode="decimal" autocomplete="off" class="grow" value="30"' in html
    assert 'name="tip_mode_0" value="percent" checked' in html
    assert 'name="reference_0" maxlength="64" autocomplete="off" value="AUTH 9"' in html


def test_a_refused_split_keeps_each_guests_tender_amount_tip_and_reference(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="10.00"))
    page = client.get(reverse("billing:pay", args=[order.uuid]), {"guests": "2"})

    response = client.post(
        reverse("billing:pay", args=[order.uuid]) + "?guests=2",
        {
            "key": page.context["key"],
            "rows": "2",
            "tender_0": "card",
            "amount_0": "5.00",
            "tip_0": "1.00",
            "reference_0": "AUTH 7",
            "guest_0": "1",
            "tender_1": "cash",
            "amount_1": "1.00",
            "guest_1": "2",
        },
    )

    assert response.status_code == 400
    rows = response.context["rows"]
    assert [(r["tender"], r["amount"], r["tip"], r["reference"]) for r in rows] == [
        ("card", "5.00", "1.00", "AUTH 7"),
        ("cash", "1.00", "", ""),
    ]
    assert '<option value="card" selected>' in response.content.decode()


def test_at_a_rounding_store_the_first_quick_cash_button_is_the_rounded_amount(cashier, location):
    location.cash_rounding = Decimal("0.05")
    location.save()
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.58"))

    page = client.get(reverse("billing:pay", args=[order.uuid]))

    assert [str(a) for a in page.context["quick_cash"]][:2] == ["3.60", "5.00"]
    assert 'data-key="=3.60"' in page.content.decode() and 'data-key="=3.58"' not in page.content.decode()
    response, _ = _pay(client, order, amount_0="3.60")
    payment = Payment.objects.get(order=order)
    assert (payment.amount, payment.tendered, payment.rounding, payment.change) == (
        Decimal("3.58"),
        Decimal("3.60"),
        Decimal("0.02"),
        Decimal("0.00"),
    )
    html = client.get(response["Location"]).content.decode()
    assert "Cash rounding" in html and "+0.02" in html


def test_at_a_rounding_store_cash_of_the_unrounded_total_is_refused(cashier, location):
    location.cash_rounding = Decimal("0.05")
    location.save()
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.58"))

    response, _ = _pay(client, order, amount_0="3.58")

    assert response.status_code == 400 and "3.60 is due in cash" in response.content.decode()
    assert not Payment.objects.exists()


def test_without_an_open_session_the_pay_button_is_disabled(cashier, location):
    order = _order_of(cashier, location, product(location))

    html = terminal(cashier).get(reverse("billing:pay", args=[order.uuid])).content.decode()

    assert 'type="submit" data-shortcut="F10" disabled' in html


def test_reprinting_a_receipt_queues_a_copy(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location))
    _pay(client, order)
    receipt = Receipt.objects.get(order=order)

    response = client.post(reverse("billing:receipt_reprint", args=[receipt.pk]))

    assert PrintJob.objects.filter(receipt=receipt, is_copy=True).count() == 1
    assert "A copy was sent" in client.get(response["Location"]).content.decode()


# --- Refunds --------------------------------------------------------------------------------------------------------


def test_a_scanned_receipt_code_finds_the_sale_to_refund(cashier, location):
    client = terminal(cashier)
    register = open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location))
    _pay(client, order)
    receipt = Receipt.objects.get(order=order)

    by_code = client.get(reverse("billing:refund_find"), {"code": f"R{register.pk}-1"})
    by_number = client.get(reverse("billing:refund_find"), {"code": "1"})

    assert by_code["Location"] == by_number["Location"] == reverse("billing:refund", args=[receipt.pk])


def test_a_refund_needs_a_manager_pin(cashier, manager, location):
    give_pin(manager)
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="3.50"))
    _pay(client, order)
    receipt = Receipt.objects.get(order=order)
    line = order.lines.get()
    fields = {f"qty_{line.pk}": "1", f"restock_{line.pk}": "1", "reason": "broken"}

    refused = client.post(reverse("billing:refund", args=[receipt.pk]), fields)
    wrong = client.post(
        reverse("billing:refund", args=[receipt.pk]), {**fields, "approver": manager.pk, "approver_pin": "1"}
    )
    assert refused.status_code == 400 and wrong.status_code == 400
    assert not Refund.objects.exists()

    approved = client.post(
        reverse("billing:refund", args=[receipt.pk]),
        {**fields, "approver": manager.pk, "approver_pin": PINS["manager"]},
    )

    refund = Refund.objects.get()
    assert refund.amount == Decimal("3.50") and refund.approved_by == manager
    assert approved["Location"] == reverse("billing:receipt", args=[refund.receipt.pk])


def test_the_refund_screen_wastes_menu_items_and_restocks_goods_unless_changed_and_keeps_the_choice(
    cashier, manager, location
):
    from inventory.models import Product

    client = terminal(cashier)
    open_till(client, location, cashier)
    soup = product(location, name="Soup", price="6.00", kind=Product.Kind.MENU_ITEM)
    crisps = product(location, name="Crisps", price="1.50", kind=Product.Kind.GOODS)
    order = _order_of(cashier, location, soup, crisps)
    _pay(client, order)
    receipt = Receipt.objects.get(order=order)
    soup_line, crisps_line = order.lines.order_by("id")

    page = client.get(reverse("billing:refund", args=[receipt.pk])).content.decode()
    refused = client.post(
        reverse("billing:refund", args=[receipt.pk]),
        {f"qty_{soup_line.pk}": "1", f"restock_{soup_line.pk}": "1", f"restock_{crisps_line.pk}": "0"},
    )

    def chosen(html, line):
        select = html.split(f'name="restock_{line.pk}"')[1].split("</select>")[0]
        return select.split(" selected>")[0].rsplit('value="', 1)[1].rstrip('"')

    assert (chosen(page, soup_line), chosen(page, crisps_line)) == ("0", "1")
    assert refused.status_code == 400  # no reason, no manager
    html = refused.content.decode()
    assert (chosen(html, soup_line), chosen(html, crisps_line)) == ("1", "0")


def test_a_tip_percent_over_a_hundred_is_refused_and_nothing_is_sold(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location, price="10.00"))

    response, _ = _pay(client, order, tender_0="card", tip_0="150", tip_mode_0="percent")

    assert response.status_code == 400 and "from 0 to 100" in response.content.decode()
    assert not Payment.objects.exists()


# --- Print problems -----------------------------------------------------------------------------------------------


def test_a_failed_receipt_print_shows_a_banner_with_retry_and_reprint(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)  # this register has no printer: its receipt jobs fail at once
    order = _order_of(cashier, location, product(location))
    _pay(client, order)
    job = PrintJob.objects.get(receipt__order=order)
    assert job.status == "failed"

    banner = client.get(reverse("billing:print_problems")).content.decode()
    dismissed = client.post(reverse("billing:print_dismiss", args=[job.pk]), headers={"HX-Request": "true"})

    assert "did not print" in banner and "Retry" in banner and "Reprint copy" in banner
    job.refresh_from_db()
    assert job.resolved_at is not None
    assert "did not print" not in dismissed.content.decode()


def test_the_print_banner_is_empty_when_everything_printed(cashier, location):
    assert "banner" not in terminal(cashier).get(reverse("billing:print_problems")).content.decode()


POLL = {"HX-Request": "true", "X-Background-Poll": "1"}


def test_the_print_banner_poll_answers_304_while_nothing_changed_and_draws_a_new_problem(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    first = client.get(reverse("billing:print_problems"), headers=POLL)
    etag = first["ETag"]

    with CaptureQueriesContext(connection) as statements:
        same = client.get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": etag})
    gzipped = client.get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": f"W/{etag}"})
    assert first.status_code == 200 and etag.startswith('"')
    assert same.status_code == 304 and same.content == b"" and same["ETag"] == etag
    # session, user, terminal, roles and permissions (one), store access, the failed print jobs, the failed e-mails
    assert len(statements) <= 7, [q["sql"] for q in statements.captured_queries]
    assert gzipped.status_code == 304  # weak comparison: a proxy that compressed the answer weakens its ETag

    _pay(client, _order_of(cashier, location, product(location)))  # no printer here: the receipt's job fails
    job = PrintJob.objects.get(status="failed")
    changed = client.get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": etag})
    assert changed.status_code == 200 and "did not print" in changed.content.decode()
    assert changed["ETag"] != etag

    again = client.get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": changed["ETag"]})
    assert again.status_code == 304
    client.post(reverse("billing:print_dismiss", args=[job.pk]), headers={"HX-Request": "true"})
    dismissed = client.get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": changed["ETag"]})
    assert dismissed.status_code == 200 and "did not print" not in dismissed.content.decode()


def test_the_print_banner_etag_is_per_person_and_per_csrf_secret(cashier, manager, location):
    """Permissions change what the banner draws, and its forms carry the session's CSRF secret: another person, or
    the same one with a new secret, never gets a 304 for a banner drawn for someone else."""
    mine = terminal(cashier)
    etag = mine.get(reverse("billing:print_problems"), headers=POLL)["ETag"]

    theirs = terminal(manager).get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": etag})
    mine.cookies.pop("csrftoken", None)
    mine.cookies["csrftoken"] = "x" * 32
    rotated = mine.get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": etag})

    assert theirs.status_code == 200 and theirs["ETag"] != etag
    assert rotated.status_code == 200


def test_the_print_banner_etag_changes_with_the_language_it_is_drawn_in(cashier, location):
    """A store switched to German draws its banner in German: the English one the page holds is not kept by a 304."""
    client = terminal(cashier)
    etag = client.get(reverse("billing:print_problems"), headers=POLL)["ETag"]
    location.language = "de"
    location.save()

    german = client.get(reverse("billing:print_problems"), headers={**POLL, "If-None-Match": etag})

    assert german.status_code == 200 and german["ETag"] != etag
