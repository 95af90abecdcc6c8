"""Checkouts racing each other on real PostgreSQL, from real threads (each with its own connection)."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from billing import services
from billing.models import Payment, Receipt
from core.errors import DomainError
from inventory.models import StockLevel, StockMove
from orders.models import Order
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 10


def run_at_once(functions):
    """Run each function in its own thread, released together by a barrier; return results or exceptions."""
    barrier = threading.Barrier(len(functions))

    def run(function):
        try:
            barrier.wait(timeout=30)
            return function()
        except Exception as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        return list(pool.map(run, functions))


def run_many(functions, workers=WORKERS):
    def run(function):
        try:
            return function()
        except Exception as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, functions))


def test_fifty_concurrent_checkouts_on_one_register_number_receipts_without_gaps_despite_rollbacks(
    location, cashier, monkeypatch
):
    register = open_register(location)
    product = stocked_product(location, on_hand="1000", price="3.00")
    scarce = stocked_product(location, on_hand="0", price="3.00")
    real_job = services.new_print_job

    def job_or_fail_after_numbering(**kwargs):
        if kwargs["receipt"].order.note == "fail after numbering":
            raise RuntimeError("printer outbox unavailable")
        return real_job(**kwargs)

    monkeypatch.setattr(services, "new_print_job", job_or_fail_after_numbering)

    def checkout(i):
        note, sold = "", product
        if i % 7 == 3:
            note = "fail after numbering"  # rolls back after the receipt number was taken
        elif i % 11 == 5:
            sold = scarce  # out of stock: fails before it
        return lambda: services.sell(
            register_id=register.pk,
            user=cashier,
            lines=[line(sold)],
            tenders=[TenderInput("cash")],
            note=note,
        )

    results = run_many([checkout(i) for i in range(50)])

    sales = [r for r in results if isinstance(r, services.Sale)]
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(sales) + len(failures) == 50
    assert any(isinstance(f, RuntimeError) for f in failures)
    assert any(isinstance(f, DomainError) and f.code == "out_of_stock" for f in failures)
    numbers = sorted(Receipt.objects.filter(register=register).values_list("number", flat=True))
    assert numbers == list(range(1, len(sales) + 1))
    register.refresh_from_db()
    assert register.last_receipt_number == len(sales)
    assert StockLevel.objects.get(product=product, location=location).on_hand == Decimal(1000 - len(sales))


def test_the_same_checkout_sent_twice_at_once_creates_one_sale(location, cashier):
    register = open_register(location)
    product = stocked_product(location, on_hand="10", price="4.00")
    body = {"register": register.pk, "lines": [{"product": product.pk}], "tenders": [{"tender": "card"}]}

    for _ in range(3):
        key = str(uuid.uuid4())

        def send(key=key):
            client = APIClient()
            client.force_authenticate(cashier)
            return client.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

        first, second = run_at_once([send, send])

        statuses = sorted([first.status_code, second.status_code])
        assert statuses in ([201, 201], [201, 409]), (first.json(), second.json())
        if statuses == [201, 201]:
            assert first.json() == second.json()

    assert Order.objects.count() == 3
    assert Payment.objects.count() == 3
    assert Receipt.objects.count() == 3
    assert StockMove.objects.filter(reason="sale").count() == 3
    assert StockLevel.objects.get(product=product, location=location).on_hand == Decimal("7")


def test_paying_one_order_from_two_terminals_at_once_takes_one_payment(location, cashier):
    from orders.services import open_order

    till_1, till_2 = open_register(location), open_register(location)
    product = stocked_product(location, on_hand="5")
    order = open_order(location_id=location.pk, user=cashier, lines=[line(product, "2")])

    results = run_at_once(
        [
            lambda till=till: services.take_payment(
                order_id=order.pk, register_id=till.pk, tenders=[TenderInput("card")], user=cashier
            )
            for till in (till_1, till_2)
        ]
    )

    assert sum(isinstance(r, services.Sale) for r in results) == 1
    [refused] = [r for r in results if isinstance(r, Exception)]
    assert refused.code == "already_paid"
    assert Payment.objects.filter(order=order).count() == 1
    assert StockLevel.objects.get(product=product, location=location).on_hand == Decimal("3")


def test_the_last_unit_sold_from_ten_terminals_at_once_makes_exactly_one_sale(location, cashier):
    tills = [open_register(location) for _ in range(10)]
    product = stocked_product(location, on_hand="1")

    results = run_at_once(
        [
            lambda till=till: services.sell(
                register_id=till.pk, user=cashier, lines=[line(product)], tenders=[TenderInput("cash")]
            )
            for till in tills
        ]
    )

    assert sum(isinstance(r, services.Sale) for r in results) == 1
    refused = [r for r in results if not isinstance(r, services.Sale)]
    assert len(refused) == 9
    assert all(isinstance(r, DomainError) and r.code == "out_of_stock" and r.status == 409 for r in refused)
    assert all("Not enough stock" in r.message for r in refused)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 0
    assert Order.objects.count() == 1


def test_sales_locking_the_same_products_in_opposite_orders_never_deadlock(location, cashier):
    tills = [open_register(location) for _ in range(2)]
    a = stocked_product(location, on_hand="500")
    b = stocked_product(location, on_hand="500")

    def sale(i):
        first, second = (a, b) if i % 2 else (b, a)
        return lambda: services.sell(
            register_id=tills[i % 2].pk,
            user=cashier,
            lines=[line(first), line(second)],
            tenders=[TenderInput("card")],
        )

    results = run_many([sale(i) for i in range(40)])

    assert [r for r in results if not isinstance(r, services.Sale)] == []
    assert StockLevel.objects.get(product=a, location=location).on_hand == Decimal("460")
    assert StockLevel.objects.get(product=b, location=location).on_hand == Decimal("460")
