"""The customers API and attaching a customer to an order through the API."""

import pytest
from rest_framework.test import APIClient

from orders import services
from orders.models import Customer
from orders.tests.factories import CustomerFactory
from staff.api_clients import create_api_client
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_cashier_adds_a_customer_and_gets_it_back_cleaned(cashier):
    response = api(cashier).post(
        "/api/v1/customers/", {"name": "Ada", "phone": "+44 20 7946 0000", "email": "ADA@example.com"}, format="json"
    )

    assert response.status_code == 201
    assert (response.json()["phone"], response.json()["email"]) == ("+442079460000", "ada@example.com")


def test_a_duplicate_answers_409_duplicate_customer_in_the_api_error_format(cashier):
    existing = CustomerFactory(phone="07700900123")

    response = api(cashier).post("/api/v1/customers/", {"name": "B", "phone": "07700 900123"}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate_customer" and f"#{existing.pk}" in body["message"]
    assert body["fields"]["phone"]


def test_a_customer_created_twice_with_one_idempotency_key_is_created_once(cashier):
    client = api(cashier)
    payload = {"name": "Ada", "phone": "07700900123"}

    first = client.post("/api/v1/customers/", payload, format="json", HTTP_IDEMPOTENCY_KEY="cust-1")
    again = client.post("/api/v1/customers/", payload, format="json", HTTP_IDEMPOTENCY_KEY="cust-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true" and Customer.objects.count() == 1


def test_searching_with_q_finds_by_email_prefix(cashier):
    wanted = CustomerFactory(email="ada@example.com")
    CustomerFactory(email="bob@example.com")

    response = api(cashier).get("/api/v1/customers/", {"q": "ada@"})

    assert [c["id"] for c in response.json()["results"]] == [wanted.pk]


def test_a_customer_shows_their_lifetime_figures(cashier):
    customer = CustomerFactory()

    body = api(cashier).get(f"/api/v1/customers/{customer.pk}/").json()

    assert body["summary"] == {
        "orders_count": 0,
        "total_spent": "0.00",
        "first_visit": None,
        "last_visit": None,
        "average_ticket": None,
    }
    assert body["purchases"] == []


def test_a_customer_is_attached_to_an_order_and_shown_on_it(location, cashier):
    order = services.open_order(location_id=location.pk, user=cashier)
    customer = CustomerFactory()

    response = api(cashier).post(f"/api/v1/orders/{order.uuid}/customer/", {"customer": customer.pk}, format="json")

    assert response.status_code == 200 and response.json()["customer"] == customer.pk


def test_a_customer_is_detached_with_delete(location, cashier):
    order = services.open_order(location_id=location.pk, user=cashier)
    services.attach_customer(order.pk, customer_id=CustomerFactory().pk, user=cashier)

    response = api(cashier).delete(f"/api/v1/orders/{order.uuid}/customer/")

    assert response.status_code == 200 and response.json()["customer"] is None


def test_attaching_an_unknown_customer_is_a_404(location, cashier):
    order = services.open_order(location_id=location.pk, user=cashier)

    response = api(cashier).post(f"/api/v1/orders/{order.uuid}/customer/", {"customer": 999999}, format="json")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_consent_is_recorded_through_the_api(cashier):
    customer = CustomerFactory()

    body = api(cashier).post(f"/api/v1/customers/{customer.pk}/consent/", {"consent": True}, format="json").json()

    assert body["marketing_consent"] is True and body["marketing_consent_at"]


def test_a_manager_exports_a_customer_as_json(manager):
    customer = CustomerFactory(name="Ada")

    response = api(manager).post(f"/api/v1/customers/{customer.pk}/export/")

    assert response.status_code == 200 and response.json()["customer"]["name"] == "Ada"
    assert AuditEvent.objects.filter(action="customer.exported").exists()


def test_a_cashier_may_not_export_a_customer(cashier):
    response = api(cashier).post(f"/api/v1/customers/{CustomerFactory().pk}/export/")

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="customer.exported").exists()


def test_erasing_through_the_api_needs_the_confirmation(manager):
    customer = CustomerFactory(name="Ada")

    refused = api(manager).post(f"/api/v1/customers/{customer.pk}/erase/", {}, format="json")
    erased = api(manager).post(f"/api/v1/customers/{customer.pk}/erase/", {"confirm": "erase"}, format="json")

    assert refused.status_code == 400
    assert erased.status_code == 200 and erased.json()["name"] == f"Erased customer #{customer.pk}"


def test_a_manager_merges_two_customers_through_the_api(manager):
    source, survivor = CustomerFactory(), CustomerFactory()

    response = api(manager).post(f"/api/v1/customers/{source.pk}/merge/", {"into": survivor.pk}, format="json")

    assert response.status_code == 200 and response.json()["id"] == survivor.pk
    source.refresh_from_db()
    assert source.merged_into == survivor


def test_a_sell_token_may_not_erase_a_customer(location):
    _, token = create_api_client(name="till", scope="sell", locations=[location])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post(f"/api/v1/customers/{CustomerFactory().pk}/erase/", {"confirm": "erase"}, format="json")

    assert response.status_code == 403
