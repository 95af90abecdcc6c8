"""Cash sessions together with the real checkout: sales and refunds through billing.services, closes racing them."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction

from billing import services, sessions
from billing.models import CashSession, Payment, Refund, Register, ZReport
from billing.tests.factories import PrinterFactory, RegisterFactory
from core.errors import DomainError
from orders.pricing import TenderInput
from orders.tests.helpers import line, stocked_product

D = Decimal


def expected_count(session) -> dict:
    expected = D(sessions.session_totals(CashSession.objects.get(pk=session.pk)).cash.expected)
    fifties, rest = divmod(expected, 50)
    cents = int(rest * 100)
    return {"50": int(fifties), "0.01": cents} if fifties or cents else {"50": 0}


def test_a_day_rung_up_through_the_checkout_closes_to_the_cent(location, cashier, manager):
    register = RegisterFactory(location=location, printer=PrinterFactory())
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="150.00")
    beer, crisps = stocked_product(location, price="4.80"), stocked_product(location, price="1.95")
    first = services.sell(
        register_id=register.pk,
        user=cashier,
        lines=[line(beer, "3"), line(crisps, "2")],
        tenders=[TenderInput(tender="cash", tendered=D("20.00"))],
    )
    services.sell(
        register_id=register.pk,
        user=cashier,
        lines=[line(beer, "1")],
        tenders=[TenderInput(tender="card", tip=D("0.70"))],
    )
    services.refund(
        order_id=first.order.pk,
        register_id=register.pk,
        items=[services.RefundItem(line_id=first.order.lines.get(product=crisps).pk, quantity=D("1"))],
        reason="Stale",
        user=manager,
        tender="cash",
    )
    sessions.pay_out(session_id=session.pk, user=cashier, amount="5.00", reason="Ice")

    z = sessions.close_session(session_id=session.pk, user=cashier, denominations=expected_count(session))

    payments, refunds = Payment.objects.filter(session=session), Refund.objects.filter(session=session)
    assert z.net_sales == sum(p.amount for p in payments) - sum(r.amount for r in refunds) == D("21.15")
    assert z.data["tips"] == "0.70"
    assert z.data["receipts"] == {"first": 1, "last": 3, "count": 3, "sales": 2, "refunds": 1}
    assert D(z.data["cash"]["expected"]) == D("150.00") + D("18.30") - D("1.95") - D("5.00")
    assert z.data["cash"]["over_short"] == "0.00"
    assert z.tax_total == sum(D(rate["net_tax"]) for rate in z.data["tax_rates"])
    with pytest.raises(DomainError) as refused:
        services.sell(register_id=register.pk, user=cashier, lines=[line(beer)], tenders=[TenderInput(tender="card")])
    assert refused.value.code == "no_open_session"


def _waiting_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def _wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _race_for_the_till(register_id: int, *, holder, waiter) -> None:
    """Run `holder` in a transaction that locks the till first and keeps the lock until `waiter`, in another thread
    and connection, is waiting for it; then let both finish. Each records its own outcome."""
    locked, release, waiting = threading.Event(), threading.Event(), {}

    def hold():
        try:
            with transaction.atomic():
                Register.objects.select_for_update().get(pk=register_id)
                locked.set()
                release.wait(30)
                holder()
        finally:
            close_old_connections()

    def wait():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                waiting["pid"] = cursor.fetchone()[0]
            waiter()
        finally:
            close_old_connections()

    holder_thread = threading.Thread(target=hold)
    holder_thread.start()
    assert locked.wait(30)
    waiter_thread = threading.Thread(target=wait)
    waiter_thread.start()
    _wait_until(lambda: "pid" in waiting and _waiting_for_a_lock(waiting["pid"]))
    release.set()
    holder_thread.join(30)
    waiter_thread.join(30)


@pytest.mark.django_db(transaction=True)
def test_a_close_waits_for_the_checkout_in_flight_and_includes_its_payment(location, cashier):
    register = RegisterFactory(location=location)
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    with transaction.atomic():
        beer = stocked_product(location, price="4.00")
    outcome = {}

    def checkout():
        """A sale that holds the register lock and dawdles before committing (a slow card terminal)."""
        outcome["sale"] = services.sell(
            register_id=register.pk, user=cashier, lines=[line(beer)], tenders=[TenderInput(tender="cash")]
        )

    def close():
        try:
            outcome["z"] = sessions.close_session(session_id=session.pk, user=cashier, denominations={"1": 4})
        except Exception as error:  # reported by the assertions below
            outcome["close_error"] = error

    _race_for_the_till(register.pk, holder=checkout, waiter=close)

    assert "close_error" not in outcome, outcome.get("close_error")
    z = outcome["z"]
    assert z.data["order_count"] == 1
    assert z.data["cash"]["expected"] == "4.00"
    assert Payment.objects.get().session_id == session.pk


@pytest.mark.django_db(transaction=True)
def test_two_closes_at_once_write_one_z_report(location, cashier, manager):
    register = RegisterFactory(location=location)
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="10.00")
    start = threading.Barrier(2)
    results = []

    def close(user):
        try:
            start.wait(10)
            results.append(sessions.close_session(session_id=session.pk, user=user, denominations={"10": 1}))
        except sessions.SessionClosed as refused:
            results.append(refused)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=close, args=(user,)) for user in (cashier, manager)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(type(r).__name__ for r in results) == ["SessionClosed", "ZReport"]
    assert ZReport.objects.count() == 1
    assert Register.objects.get(pk=register.pk).last_z_number == 1


@pytest.mark.django_db(transaction=True)
def test_a_sale_waiting_for_its_till_is_refused_once_the_close_it_waited_for_commits(location, cashier):
    register = RegisterFactory(location=location)
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="10.00")
    beer = stocked_product(location, on_hand="5", price="4.00")
    outcome = {}

    def close():
        """A close that holds the till's lock while its cashier counts the drawer, then commits."""
        outcome["z"] = sessions.close_session(session_id=session.pk, user=cashier, denominations={"10": 1})

    def sale():
        try:
            services.sell(register_id=register.pk, user=cashier, lines=[line(beer)], tenders=[TenderInput("card")])
        except DomainError as refused:
            outcome["refused"] = refused

    _race_for_the_till(register.pk, holder=close, waiter=sale)

    assert outcome["z"].data["order_count"] == 0
    assert outcome["refused"].code == "no_open_session"
    assert Register.objects.get(pk=register.pk).last_receipt_number == 0  # the number it took was rolled back
    assert not Payment.objects.exists()
    assert beer.stock_levels.get(location=location).on_hand == 5
