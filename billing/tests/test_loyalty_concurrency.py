"""Terminals racing to spend the same loyalty points, on real PostgreSQL from real threads."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import loyalty, services
from billing.models import LoyaltyAccount, LoyaltyMovement, Payment
from billing.tests.factories import CustomerFactory
from billing.tests.test_checkout_concurrency import run_at_once
from core.errors import DomainError
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import open_order
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)

TERMINALS = 10


@pytest.fixture
def store(location):
    location.loyalty_points_per_unit = Decimal("1")
    location.loyalty_point_value = Decimal("0.05")
    location.save()
    return location


def test_ten_terminals_redeeming_the_same_points_at_once_let_exactly_one_through(store, cashier, manager):
    customer = CustomerFactory()
    loyalty.adjust_points(customer_id=customer.pk, points=100, reason="welcome", user=manager)
    product = stocked_product(store, on_hand="100", price="10.00")
    tills = [open_register(store) for _ in range(TERMINALS)]
    orders = []
    for _ in range(TERMINALS):
        order = open_order(location_id=store.pk, user=cashier, lines=[line(product)])
        Order.objects.filter(pk=order.pk).update(customer=customer)
        orders.append(order)

    def redeem(order, till):
        tenders = [TenderInput("points", amount=Decimal("5.00")), TenderInput("card")]
        return lambda: services.take_payment(order_id=order.pk, register_id=till.pk, tenders=tenders, user=cashier)

    results = run_at_once([redeem(order, till) for order, till in zip(orders, tills, strict=True)])

    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == TERMINALS - 1
    assert {r.code for r in refused} == {"insufficient_points"}
    assert Payment.objects.filter(tender="points").count() == 1
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1
    balance = LoyaltyAccount.objects.get(pk=customer.pk).balance
    assert balance == 5  # 100 spent, 5 earned on the card's 5.00
    assert LoyaltyMovement.objects.filter(customer=customer).aggregate(s=Sum("points"))["s"] == balance
