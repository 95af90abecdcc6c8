from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings

from billing import sessions
from billing.models import CashMovement, CashSession, Payment, PrintJob, Refund, ZReport
from billing.tests.cash_data import order_with_lines, product, refund_line, sell
from billing.tests.factories import PrinterFactory, RegisterFactory
from core.errors import DomainError, NotFound, PermissionDenied
from core.immutable import ImmutableRowError
from inventory.tests.factories import LocationFactory
from orders.models import Order
from staff.models import AuditEvent

D = Decimal


@pytest.fixture
def register(location):
    return RegisterFactory(location=location, name="Till 1", printer=PrinterFactory(name="Front"))


@pytest.fixture
def session(register, cashier):
    return sessions.open_session(register_id=register.pk, user=cashier, opening_float="100.00")


def count_of(amount: str) -> dict:
    """A drawer count adding up to `amount`, in 50s, 1s and cents."""
    value = D(amount)
    fifties, rest = divmod(value, 50)
    ones, cents = divmod(rest, 1)
    count = {"50": int(fifties), "1": int(ones), "0.01": int(cents * 100)}
    return {k: v for k, v in count.items() if v} or {"50": 0}


def close_exactly(session, user, **kwargs):
    expected = sessions.session_totals(CashSession.objects.get(pk=session.pk)).cash.expected
    return sessions.close_session(session_id=session.pk, user=user, denominations=count_of(expected), **kwargs)


# --- opening ------------------------------------------------------------------------------------------------


def test_opening_a_till_records_the_float_counted_by_denomination(register, cashier):
    opened = sessions.open_session(register_id=register.pk, user=cashier, float_denominations={"20": 4, "0.50": 10})

    assert opened.opening_float == D("85.00")
    assert opened.status == CashSession.Status.OPEN
    event = AuditEvent.objects.get(action="cash_session_opened")
    assert event.data["counted"] == {"20": 4, "0.5": 10}


def test_a_register_cannot_have_two_open_sessions(session, register, cashier):
    with pytest.raises(sessions.SessionAlreadyOpen):
        sessions.open_session(register_id=register.pk, user=cashier, opening_float="50")

    assert CashSession.objects.filter(register=register).count() == 1


def test_the_database_refuses_a_second_open_session_even_without_the_service(session, register, cashier):
    with pytest.raises(IntegrityError), transaction.atomic():
        CashSession.objects.create(register=register, opened_by=cashier)


def test_a_till_at_another_location_cannot_be_opened(cashier):
    elsewhere = RegisterFactory(location=LocationFactory(code="other"))

    with pytest.raises(PermissionDenied):
        sessions.open_session(register_id=elsewhere.pk, user=cashier, opening_float="10")


def test_a_float_with_more_places_than_the_currency_is_refused(register, cashier):
    with pytest.raises(DomainError) as error:
        sessions.open_session(register_id=register.pk, user=cashier, opening_float="10.005")

    assert "opening_float" in error.value.fields
    assert not CashSession.objects.exists()


# --- cash movements -----------------------------------------------------------------------------------------


def test_pay_ins_and_pay_outs_change_the_cash_expected_in_the_drawer(session, cashier):
    sessions.pay_in(session_id=session.pk, user=cashier, amount="20.00", reason="Change from the bank")
    sessions.pay_out(session_id=session.pk, user=cashier, amount="35.50", reason="Window cleaner")

    totals = sessions.session_totals(session).as_json()
    assert totals["cash"]["expected"] == "84.50"
    assert totals["cash"]["pay_ins"] == "20.00"
    assert totals["cash"]["pay_outs"] == "35.50"


def test_a_pay_out_needs_a_reason_and_a_positive_amount(session, cashier):
    with pytest.raises(DomainError) as no_reason:
        sessions.pay_out(session_id=session.pk, user=cashier, amount="5", reason="  ")
    with pytest.raises(DomainError) as negative:
        sessions.pay_out(session_id=session.pk, user=cashier, amount="-5", reason="Milk")

    assert "reason" in no_reason.value.fields
    assert "amount" in negative.value.fields
    assert not CashMovement.objects.exists()


def test_a_pay_out_a_manager_approves_cannot_take_more_than_the_drawer_holds(session, cashier, manager):
    with pytest.raises(DomainError) as error:
        sessions.pay_out(session_id=session.pk, user=cashier, amount="100.01", reason="Supplier", approver=manager)

    assert error.value.code == "insufficient_cash"
    assert "100" not in error.value.message  # the figure is never told, not even to a manager's approval
    assert not CashMovement.objects.exists()


def test_a_no_sale_drawer_open_is_recorded_and_audited(session, cashier):
    sessions.no_sale(session_id=session.pk, user=cashier, reason="Customer needed change for parking")

    movement = CashMovement.objects.get()
    assert (movement.kind, movement.amount, movement.user) == ("no_sale", D("0"), cashier)
    event = AuditEvent.objects.get(action="cash_no_sale")
    assert event.actor == cashier
    assert event.reason == "Customer needed change for parking"
    assert sessions.session_totals(session).as_json()["cash"]["no_sales"] == 1


def test_a_no_sale_kicks_the_drawer_when_the_printer_has_one(register, session, cashier):
    register.printer.has_cash_drawer = True
    register.printer.save()

    sessions.no_sale(session_id=session.pk, user=cashier, reason="Change")

    job = PrintJob.objects.get()
    assert job.payload["open_drawer"] is True


def test_cash_cannot_move_in_a_closed_session(session, cashier):
    close_exactly(session, cashier)

    with pytest.raises(sessions.SessionClosed):
        sessions.pay_in(session_id=session.pk, user=cashier, amount="5", reason="Late float")


# --- closing and the Z report -------------------------------------------------------------------------------


def test_z_totals_equal_the_sums_of_payments_refunds_and_cash_moves(session, cashier, manager):
    coffee, cake = product("3.40", tax="7", cost="0.80"), product("4.95", tax="19", cost="1.90")
    first, _ = sell(session, cashier, [(coffee, 2), (cake, 1)], tendered="20.00")
    sell(session, cashier, [(cake, 3)], tender="card", tip="1.50")
    sell(session, cashier, [(coffee, 1)], tender="voucher")
    refund_line(session, cashier, manager, first, qty="1", reason="Cold coffee")
    sessions.pay_in(session_id=session.pk, user=cashier, amount="10.00", reason="Coins")
    sessions.pay_out(session_id=session.pk, user=cashier, amount="2.35", reason="Milk")

    z = close_exactly(session, cashier)

    payments = Payment.objects.filter(session=session)
    refunds = Refund.objects.filter(session=session)
    by_tender = {row["tender"]: row for row in z.data["tenders"]}
    for tender in ("cash", "card", "voucher"):
        assert D(by_tender[tender]["amount"]) == sum(p.amount for p in payments if p.tender == tender)
    assert D(by_tender["cash"]["refunds"]) == sum(r.amount for r in refunds) == D("3.40")
    assert D(z.data["tips"]) == D("1.50")
    assert z.net_sales == sum(p.amount for p in payments) - sum(r.amount for r in refunds) == D("26.60")
    assert z.gross_sales == D("30.00")
    tax_by_rate = {row["percent"]: D(row["net_tax"]) for row in z.data["tax_rates"]}
    assert tax_by_rate == {"7": D("0.44") + D("0.22") - D("0.22"), "19": D("0.79") + D("2.37")}
    assert z.tax_total == sum(tax_by_rate.values())
    cash = z.data["cash"]
    assert (cash["pay_ins"], cash["pay_outs"]) == ("10.00", "2.35")
    assert sessions.expected_cash(session) == D(cash["expected"])
    # float + cash taken (20.00 handed over, 8.25 back) − cash refund + pay-in − pay-out
    assert D(cash["expected"]) == D("100.00") + D("11.75") - D("3.40") + D("10.00") - D("2.35")
    assert z.data["receipts"] == {"first": 1, "last": 4, "count": 4, "sales": 3, "refunds": 1}
    assert z.data["order_count"] == 3


def test_voided_lines_are_reported_with_their_value(session, cashier):
    tea = product("2.50")
    sell(session, cashier, [(tea, 1)], voided=[(tea, 2, "Guest changed mind")])

    z = close_exactly(session, cashier)

    assert z.data["voids"] == {"count": 1, "amount": "5.00"}


def test_closing_records_counted_expected_and_over_short(session, cashier):
    sell(session, cashier, [(product("12.00"), 1)])

    z = sessions.close_session(session_id=session.pk, user=cashier, denominations={"100": 1, "10": 1, "1": 1})

    session.refresh_from_db()
    assert session.status == CashSession.Status.CLOSED
    assert (session.counted_cash, session.expected_cash, session.over_short) == (D("111"), D("112"), D("-1"))
    assert session.counted_denominations == {"100": 1, "10": 1, "1": 1}
    assert z.data["cash"]["over_short"] == "-1.00"
    assert session.approved_by is None


def test_z_numbers_are_consecutive_per_register(location, register, cashier):
    other = RegisterFactory(location=location, name="Till 2")
    numbers = []
    for till in (register, register, other, register, other):
        opened = sessions.open_session(register_id=till.pk, user=cashier, opening_float="0")
        numbers.append((till.name, close_exactly(opened, cashier).number))

    assert numbers == [("Till 1", 1), ("Till 1", 2), ("Till 2", 1), ("Till 1", 3), ("Till 2", 2)]
    register.refresh_from_db()
    assert register.last_z_number == 3


def test_the_grand_total_is_the_previous_grand_total_plus_net_sales(register, session, cashier, manager):
    order, _ = sell(session, cashier, [(product("8.00"), 2)])
    refund_line(session, cashier, manager, order)
    first = close_exactly(session, cashier)
    second_session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    sell(second_session, cashier, [(product("5.25"), 1)], tender="card")
    second = close_exactly(second_session, cashier)

    assert (first.net_sales, first.grand_total) == (D("8.00"), D("8.00"))
    assert (second.net_sales, second.grand_total) == (D("5.25"), D("13.25"))
    assert second.data["grand_total_before"] == "8.00"
    register.refresh_from_db()
    assert register.grand_total == D("13.25")


def test_a_second_close_is_refused_and_changes_nothing(register, session, cashier):
    close_exactly(session, cashier)

    with pytest.raises(sessions.SessionClosed):
        sessions.close_session(session_id=session.pk, user=cashier, denominations={"100": 1})

    assert ZReport.objects.count() == 1
    register.refresh_from_db()
    assert register.last_z_number == 1


def test_open_orders_carry_over_to_the_next_session(register, session, cashier, location):
    soup = product("6.00")
    open_order = order_with_lines(location, cashier, [(soup, 2)])
    held = order_with_lines(location, cashier, [(soup, 1)], status=Order.Status.HELD)

    first_z = close_exactly(session, cashier)
    next_session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="100")

    open_order.refresh_from_db()
    held.refresh_from_db()
    assert (open_order.status, open_order.total, open_order.lines.count()) == ("open", D("12.00"), 1)
    assert held.status == "held"
    assert first_z.data["order_count"] == 0
    # Paid later, it belongs to the session it was paid in.
    from billing.models import Receipt

    Payment.objects.create(order=open_order, session=next_session, tender="card", amount=D("12.00"), created_by=cashier)
    Receipt.objects.create(register=register, number=1, order=open_order, session=next_session)
    Order.objects.filter(pk=open_order.pk).update(status="paid")
    assert close_exactly(next_session, cashier).net_sales == D("12.00")


def test_a_count_off_by_more_than_the_threshold_needs_a_manager_and_is_audited(session, cashier):
    with pytest.raises(sessions.SignOffRequired) as refused:
        sessions.close_session(session_id=session.pk, user=cashier, denominations={"50": 1, "20": 2})

    assert "90" not in refused.value.message and "10" not in refused.value.message
    session.refresh_from_db()
    assert session.status == CashSession.Status.OPEN
    assert (session.closed_at, session.counted_denominations) == (None, {})
    assert not ZReport.objects.exists()
    attempt = AuditEvent.objects.get(action="cash_count_needs_sign_off")
    assert attempt.data == {"counted": "90.00", "expected": "100.00", "over_short": "-10.00"}


def test_a_manager_signs_off_a_count_off_by_more_than_the_threshold(session, cashier, manager):
    z = sessions.close_session(
        session_id=session.pk, user=cashier, denominations={"50": 1, "20": 2}, approver=manager, note="Miscount"
    )

    session.refresh_from_db()
    assert session.approved_by == manager
    assert session.over_short == D("-10.00")
    assert z.data["approved_by"] == str(manager)
    assert AuditEvent.objects.get(action="cash_session_closed").approver == manager


def test_a_cashier_cannot_sign_off_for_another_cashier(session, cashier, waiter):
    with pytest.raises(PermissionDenied):
        sessions.close_session(session_id=session.pk, user=cashier, denominations={"50": 1}, approver=waiter)


@override_settings(CASH_OVER_SHORT_APPROVAL_THRESHOLD="0")
def test_the_sign_off_threshold_is_a_setting(session, cashier):
    with pytest.raises(sessions.SignOffRequired):
        sessions.close_session(session_id=session.pk, user=cashier, denominations={"50": 2, "0.01": 1})


def test_a_count_within_the_threshold_closes_without_sign_off(session, cashier):
    z = sessions.close_session(session_id=session.pk, user=cashier, denominations={"50": 1, "20": 2, "5": 1})

    assert z.data["cash"]["over_short"] == "-5.00"


def test_a_count_with_unknown_notes_or_negative_pieces_is_refused(session, cashier):
    with pytest.raises(DomainError) as error:
        sessions.close_session(session_id=session.pk, user=cashier, denominations={"30": 1, "10": -2, "5": "x"})

    assert set(error.value.fields) == {"denominations.30", "denominations.10", "denominations.5"}
    session.refresh_from_db()
    assert session.status == CashSession.Status.OPEN


def test_closing_an_unknown_session_is_not_found(cashier, location):
    with pytest.raises(NotFound):
        sessions.close_session(session_id=999999, user=cashier, denominations={"1": 1})


# --- blind count and X report -------------------------------------------------------------------------------


def test_the_x_report_of_a_cashier_hides_the_cash_expected_until_the_count(session, cashier, manager):
    sell(session, cashier, [(product("7.00"), 1)])
    sell(session, cashier, [(product("9.00"), 1)], tender="card")

    blind = sessions.x_report(session_id=session.pk, user=cashier)
    full = sessions.x_report(session_id=session.pk, user=manager)

    assert blind["blind"] is True
    assert "expected" not in blind["cash"] and "cash_in" not in blind["cash"]
    assert [t["tender"] for t in blind["tenders"]] == ["card"]
    assert "107.00" not in str(blind)
    assert full["cash"]["expected"] == "107.00"
    assert blind["net_sales"] == full["net_sales"] == "16.00"


def test_after_the_count_the_cashier_sees_expected_and_over_short(session, cashier):
    assert not sessions.sees_expected_cash(cashier, session)

    z = sessions.close_session(session_id=session.pk, user=cashier, denominations={"100": 1})

    session.refresh_from_db()
    assert sessions.sees_expected_cash(cashier, session)
    assert z.data["cash"]["expected"] == "100.00"


def test_an_x_report_does_not_close_anything(session, cashier, manager):
    sessions.x_report(session_id=session.pk, user=manager)
    sessions.print_x_report(session_id=session.pk, user=cashier)

    session.refresh_from_db()
    assert session.status == CashSession.Status.OPEN
    assert not ZReport.objects.exists()
    job = PrintJob.objects.get()
    assert job.payload["report"] == "x"
    assert job.z_report is None
    assert "X REPORT (not a closing)" in job.payload["lines"][0]
    assert not any("Expected in drawer" in line for line in job.payload["lines"])


# --- immutability and printing ------------------------------------------------------------------------------


def test_a_z_report_cannot_be_edited_or_deleted_through_the_orm(session, cashier):
    z = close_exactly(session, cashier)

    z.net_sales = D("0")
    with pytest.raises(ImmutableRowError):
        z.save()
    with pytest.raises(ImmutableRowError):
        z.delete()
    with pytest.raises(ImmutableRowError):
        ZReport.objects.filter(pk=z.pk).update(net_sales=0)
    with pytest.raises(ImmutableRowError):
        ZReport.objects.filter(pk=z.pk).delete()
    assert ZReport.objects.get(pk=z.pk).net_sales == D("0.00")


def test_closing_queues_the_original_z_report_on_the_register_printer(register, session, cashier):
    z = close_exactly(session, cashier)

    job = PrintJob.objects.get()
    assert (job.kind, job.z_report, job.printer, job.is_copy) == ("report", z, register.printer, False)
    assert job.payload["lines"][0].strip() == "Z REPORT No. 1"
    assert not any("COPY" in line for line in job.payload["lines"])
    assert all(len(line) <= register.printer.columns for line in job.payload["lines"])


def test_a_reprinted_z_report_says_copy(session, cashier, manager):
    z = close_exactly(session, cashier)

    job = sessions.reprint_z_report(z_report_id=z.pk, user=manager)

    assert job.is_copy is True
    assert job.z_report == z
    assert job.payload["lines"][0].strip() == "*** COPY ***"
    assert job.payload["lines"][-1].strip() == "*** COPY ***"
    assert AuditEvent.objects.filter(action="z_report_reprinted", actor=manager).exists()


def test_a_z_report_of_a_store_with_copy_in_its_name_still_prints_as_a_copy_when_reprinted_from_the_queue(
    register, session, cashier
):
    from billing import printing
    from billing.receipts import render_job
    from billing.tests.escpos_text import read

    register.location.name = "COPY CENTRE"
    register.location.save()
    close_exactly(session, cashier)
    original = PrintJob.objects.get()

    reprint = printing.reprint(job_id=original.pk, user=cashier)

    assert "COPY CENTRE" in read(render_job(original)).text
    assert read(render_job(original)).text.count("COPY") == 1  # the store's name, no copy banner
    assert reprint.is_copy
    assert read(render_job(reprint)).text.count("COPY") == 3  # the store's name and the banner top and bottom


def test_a_z_report_job_without_laid_out_lines_prints_the_one_x_z_layout_and_says_copy_when_it_is_one(
    register, session, cashier
):
    from billing.receipts import render_job
    from billing.tests.escpos_text import read

    z = close_exactly(session, cashier)
    bare = PrintJob.objects.create(kind="report", printer=register.printer, location=register.location, z_report=z)
    copy = PrintJob.objects.create(
        kind="report", printer=register.printer, location=register.location, z_report=z, is_copy=True
    )

    original = read(render_job(bare)).text.splitlines()
    assert original == sessions.report_lines(z.data, copy=False, columns=register.printer.columns)
    assert read(render_job(copy)).text.splitlines() == sessions.report_lines(
        z.data, copy=True, columns=register.printer.columns
    )


def test_tips_are_on_the_printed_z_and_no_figure_is_printed_as_minus_zero(session, cashier):
    sell(session, cashier, [(product("20.00"), 1)], tender="card", tip="2.00")

    z = close_exactly(session, cashier)

    lines = PrintJob.objects.get(z_report=z).payload["lines"]
    assert [line.split() for line in lines if line.startswith("Tips")] == [["Tips", "2.00"]]
    assert z.data["tips"] == "2.00"
    assert [line for line in lines if "-0.00" in line] == []  # no discounts, refunds or pay-outs: "0.00"
    assert [line.split()[-1] for line in lines if line.startswith("Discounts")] == ["0.00"]


def test_the_x_report_shows_the_tips_taken_so_far(session, cashier, manager):
    from billing.report_printout import report_lines

    sell(session, cashier, [(product("10.00"), 1)], tender="cash", tendered="20.00", tip="1.50")

    totals = sessions.x_report(session_id=session.pk, user=manager)

    lines = report_lines(totals, copy=False, columns=32)
    assert [line.split() for line in lines if line.startswith("Tips")] == [["Tips", "1.50"]]
    assert [line for line in lines if "-0.00" in line] == []
