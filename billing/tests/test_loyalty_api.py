"""Loyalty points over the API: the points tender at checkout, a customer's balance, the store's settings."""

import json
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing import loyalty
from billing.models import Payment
from billing.tests.factories import CustomerFactory
from orders.models import Order
from orders.services import open_order
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(location):
    location.loyalty_points_per_unit = Decimal("1")
    location.loyalty_point_value = Decimal("0.05")
    location.loyalty_min_redeem = 20
    location.save()
    return location


@pytest.fixture
def api(cashier):
    client = APIClient()
    client.force_authenticate(cashier)
    return client


@pytest.fixture
def customer(manager):
    customer = CustomerFactory()
    loyalty.adjust_points(customer_id=customer.pk, points=100, reason="welcome", user=manager)
    return customer


def checkout(api, order, till, tenders):
    data = {"register": till.pk, "order": str(order.uuid), "tenders": tenders}
    return api.post(
        "/api/v1/checkout/", json.dumps(data), content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )


def customer_order(store, cashier, customer):
    order = open_order(location_id=store.pk, user=cashier, lines=[line(stocked_product(store, price="10.00"))])
    Order.objects.filter(pk=order.pk).update(customer=customer)
    return order


def test_the_checkout_api_takes_points_as_a_tender(api, store, cashier, customer):
    order = customer_order(store, cashier, customer)

    response = checkout(api, order, open_register(store), [{"tender": "points", "amount": "4.00"}, {"tender": "card"}])

    assert response.status_code == 201, response.json()
    assert [(p["tender"], p["amount"]) for p in response.json()["payments"]] == [("points", "4.00"), ("card", "6.00")]
    assert loyalty.balance_of(customer.pk) == 100 - 80 + 6


def test_the_checkout_api_refuses_more_points_than_the_balance_with_a_clear_code(api, store, cashier, customer):
    order = customer_order(store, cashier, customer)

    response = checkout(api, order, open_register(store), [{"tender": "points", "amount": "5.05"}, {"tender": "card"}])

    assert response.status_code == 400
    assert response.json()["code"] == "insufficient_points"
    assert not Payment.objects.exists() and loyalty.balance_of(customer.pk) == 100


def test_the_checkout_api_refuses_points_on_an_order_without_a_customer(api, store, cashier):
    order = open_order(location_id=store.pk, user=cashier, lines=[line(stocked_product(store))])

    response = checkout(api, order, open_register(store), [{"tender": "points", "amount": "1.00"}, {"tender": "card"}])

    assert (response.status_code, response.json()["code"]) == (400, "customer_required")


def test_the_api_reads_a_customers_balance_and_latest_movements(api, customer):
    response = api.get(f"/api/v1/loyalty/customers/{customer.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["customer"], body["balance"]) == (customer.pk, 100)
    assert [(m["kind"], m["points"], m["balance_after"]) for m in body["movements"]] == [("adjust", 100, 100)]


def test_an_unknown_customers_balance_is_a_404(api):
    response = api.get("/api/v1/loyalty/customers/999999/")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_the_locations_api_says_how_a_store_earns_and_redeems_points(api, store):
    row = next(r for r in api.get("/api/v1/locations/").json()["results"] if r["id"] == store.pk)

    assert (row["loyalty_points_per_unit"], row["loyalty_point_value"], row["loyalty_min_redeem"]) == (
        "1.0000",
        "0.0500",
        20,
    )


def test_a_replayed_checkout_earns_and_spends_points_once(api, store, cashier, customer):
    order = customer_order(store, cashier, customer)
    data = {
        "register": open_register(store).pk,
        "order": str(order.uuid),
        "tenders": [{"tender": "points", "amount": "1.00"}, {"tender": "card"}],
    }
    key = str(uuid.uuid4())

    answers = [
        api.post("/api/v1/checkout/", json.dumps(data), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
        for _ in range(2)
    ]

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert loyalty.balance_of(customer.pk) == 100 - 20 + 9
