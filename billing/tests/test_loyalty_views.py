"""The payment screen with a customer attached: their points, and "Pay with points"."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import loyalty
from billing.models import Payment
from billing.tests.factories import CustomerFactory
from billing.tests.test_views import _order_of, _pay
from orders.models import Order
from orders.tests.pos_helpers import open_till, product, terminal

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(location):
    location.loyalty_points_per_unit = Decimal("1")
    location.loyalty_point_value = Decimal("0.05")
    location.save()
    return location


@pytest.fixture
def till(cashier, store):
    client = terminal(cashier)
    open_till(client, store, cashier)
    return client


def customer_with(points, manager):
    customer = CustomerFactory(name="Ada Lovelace")
    loyalty.adjust_points(customer_id=customer.pk, points=points, reason="welcome", user=manager)
    return customer


def order_of(customer, cashier, store, price="20.00"):
    order = _order_of(cashier, store, product(store, price=price))
    Order.objects.filter(pk=order.pk).update(customer=customer)
    return order


def test_the_pay_screen_shows_the_customers_points_and_offers_to_pay_with_them(till, cashier, manager, store):
    order = order_of(customer_with(120, manager), cashier, store)

    html = till.get(reverse("billing:pay", args=[order.uuid])).content.decode()

    assert "Ada Lovelace" in html and "<strong>120</strong> loyalty points · worth 6.00" in html
    assert "Pay with points" in html and "Use 120 (6.00)" in html


def test_the_pay_screen_offers_no_more_points_than_the_order_takes(till, cashier, manager, store):
    order = order_of(customer_with(1000, manager), cashier, store, price="20.00")

    html = till.get(reverse("billing:pay", args=[order.uuid])).content.decode()

    assert "Use 400 (20.00)" in html


def test_the_pay_screen_without_a_customer_shows_no_points(till, cashier, store):
    order = _order_of(cashier, store, product(store))

    html = till.get(reverse("billing:pay", args=[order.uuid])).content.decode()

    assert "Pay with points" not in html and "loyalty points" not in html
    assert 'value="points"' not in html


def test_paying_part_with_points_and_the_rest_in_cash(till, cashier, manager, store):
    customer = customer_with(120, manager)
    order = order_of(customer, cashier, store)

    response, _ = _pay(till, order, points="100", amount_0="20.00")

    assert response.status_code == 302
    assert [(p.tender, p.amount) for p in Payment.objects.filter(order=order).order_by("id")] == [
        ("points", Decimal("5.00")),
        ("cash", Decimal("15.00")),
    ]
    assert loyalty.balance_of(customer.pk) == 120 - 100 + 15


def test_points_covering_the_whole_order_pay_it_alone(till, cashier, manager, store):
    customer = customer_with(500, manager)
    order = order_of(customer, cashier, store)

    response, _ = _pay(till, order, points="400")

    assert response.status_code == 302
    assert list(Payment.objects.filter(order=order).values_list("tender", "amount")) == [("points", Decimal("20.00"))]


def test_more_points_than_the_customer_has_are_refused_and_what_was_typed_is_kept(till, cashier, manager, store):
    customer = customer_with(50, manager)
    order = order_of(customer, cashier, store)
    loyalty.adjust_points(customer_id=customer.pk, points=-40, reason="spent on another till", user=manager)

    response, _ = _pay(till, order, points="50")

    assert response.status_code == 400
    html = response.content.decode()
    assert "The customer has 10 points; 50 cannot be redeemed." in html
    assert 'value="50"' in html
    assert not Payment.objects.filter(order=order).exists()
