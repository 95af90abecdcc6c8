"""For any sequence of sales (paid partly with points or not), refunds (to points or to card) and manager
adjustments, run through the real services: a customer's balance is the sum of their ledger and never below zero,
after every step, and every movement's balance after it is the running sum."""

import contextlib
import os
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import loyalty, services
from billing.models import LoyaltyAccount, LoyaltyMovement
from billing.tests.factories import CustomerFactory
from core.errors import DomainError
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import open_order
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("LOYALTY_EXAMPLES", "25"))

sale = st.tuples(st.just("sale"), st.integers(1, 4), st.integers(0, 300))  # quantity, points offered
refund = st.tuples(st.just("refund"), st.booleans(), st.integers(0, 10))  # to points?, which paid order
adjust = st.tuples(st.just("adjust"), st.integers(-200, 200).filter(bool), st.just(0))
steps = st.lists(st.one_of(sale, refund, adjust), min_size=1, max_size=12)


@pytest.fixture
def world(location, cashier, manager):
    location.loyalty_points_per_unit = Decimal("0.5")
    location.loyalty_point_value = Decimal("0.02")
    location.save()
    return {
        "till": open_register(location),
        "product": stocked_product(location, on_hand="10000", price="7.30"),
        "location": location,
        "cashier": cashier,
        "manager": manager,
    }


def _step(world, customer, paid, kind, a, b):
    cashier, manager, till = world["cashier"], world["manager"], world["till"]
    if kind == "adjust":
        loyalty.adjust_points(customer_id=customer.pk, points=a, reason="property", user=manager)
    elif kind == "sale":
        order = open_order(location_id=world["location"].pk, user=cashier, lines=[line(world["product"], str(a))])
        Order.objects.filter(pk=order.pk).update(customer=customer)
        tenders = [TenderInput("card")]
        if b:
            tenders.insert(0, TenderInput("points", amount=Decimal(b) * Decimal("0.02")))
        services.take_payment(order_id=order.pk, register_id=till.pk, tenders=tenders, user=cashier)
        paid.append(order)
    elif paid:
        order = paid[b % len(paid)]
        sold = order.lines.get()
        sold.refresh_from_db()
        services.refund(
            order_id=order.pk,
            register_id=till.pk,
            items=[services.RefundItem(sold.pk, Decimal("1"))],
            reason="property",
            user=manager,
            tender="points" if a else "card",
        )


def _check(customer):
    account = LoyaltyAccount.objects.filter(pk=customer.pk).first()
    balance = account.balance if account else 0
    rows = list(LoyaltyMovement.objects.filter(customer=customer).order_by("id").values_list("points", "balance_after"))
    assert balance >= 0
    assert balance == (LoyaltyMovement.objects.filter(customer=customer).aggregate(s=Sum("points"))["s"] or 0)
    running = 0
    for points, after in rows:
        running += points
        assert after == running >= 0


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_a_customers_balance_is_always_the_sum_of_their_ledger_and_never_negative(world, plan):
    with transaction.atomic():
        try:
            customer = CustomerFactory()
            paid: list[Order] = []
            for kind, a, b in plan:
                with contextlib.suppress(DomainError):  # refused (too few points, nothing left …): nothing written
                    _step(world, customer, paid, kind, a, b)
                _check(customer)
        finally:
            transaction.set_rollback(True)
