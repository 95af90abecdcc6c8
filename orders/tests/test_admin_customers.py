"""Customers in the admin: a manager's screens (add, edit, search, merge, export, erase)."""

import json

import pytest
from django.test import Client

from orders import services
from orders.models import Customer
from orders.tests.factories import CustomerFactory
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/orders/customer/"


@pytest.fixture
def admin_client(manager):
    client = Client()
    client.force_login(manager)
    return client


def test_a_customer_added_in_the_admin_is_cleaned_like_everywhere_else(admin_client):
    response = admin_client.post(
        f"{CHANGELIST}add/", {"name": "Ada", "phone": "07700 900-123", "email": "ADA@Example.com", "notes": ""}
    )

    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.phone, customer.email) == ("07700900123", "ada@example.com")


def test_the_admin_refuses_a_duplicate_phone_naming_the_customer_who_has_it(admin_client):
    existing = CustomerFactory(phone="07700900123")

    response = admin_client.post(f"{CHANGELIST}add/", {"name": "B", "phone": "07700 900 123"})

    assert response.status_code == 200 and f"customer #{existing.pk}" in response.text
    assert Customer.objects.count() == 1


def test_the_admin_finds_a_phone_typed_with_spaces(admin_client):
    CustomerFactory(name="Ada Lovelace", phone="07700900123")

    response = admin_client.get(CHANGELIST, {"q": "07700 900"})

    assert "Ada Lovelace" in response.text


def test_the_change_page_shows_the_lifetime_figures(admin_client):
    customer = CustomerFactory()

    response = admin_client.get(f"{CHANGELIST}{customer.pk}/change/")

    assert response.status_code == 200 and "No purchases yet." in response.text


def test_the_export_action_downloads_one_customers_json_and_is_audited(admin_client):
    customer = CustomerFactory(name="Ada")

    response = admin_client.post(CHANGELIST, {"action": "export_json", "_selected_action": [customer.pk]})

    assert response["Content-Disposition"] == f'attachment; filename="customer-{customer.pk}.json"'
    assert json.loads(response.content)["customer"]["name"] == "Ada"
    assert AuditEvent.objects.filter(action="customer.exported", object_id=str(customer.pk)).exists()


def test_the_erase_action_asks_for_confirmation_first(admin_client):
    customer = CustomerFactory(name="Ada")

    page = admin_client.post(CHANGELIST, {"action": "erase", "_selected_action": [customer.pk]})

    assert page.status_code == 200 and "cannot be undone" in page.text
    customer.refresh_from_db()
    assert customer.erased_at is None


def test_the_erase_action_erases_once_confirmed(admin_client):
    customer = CustomerFactory(name="Ada")

    admin_client.post(
        CHANGELIST, {"action": "erase", "_selected_action": [customer.pk], "apply": "1", "confirm": "erase"}
    )

    customer.refresh_from_db()
    assert customer.erased_at is not None and customer.name == f"Erased customer #{customer.pk}"


def test_the_erase_action_without_the_typed_confirmation_erases_nothing(admin_client):
    customer = CustomerFactory(name="Ada")

    admin_client.post(CHANGELIST, {"action": "erase", "_selected_action": [customer.pk], "apply": "1", "confirm": ""})

    customer.refresh_from_db()
    assert customer.erased_at is None


def test_the_merge_action_keeps_the_chosen_customer(admin_client):
    first, second = CustomerFactory(), CustomerFactory()

    admin_client.post(
        CHANGELIST,
        {"action": "merge", "_selected_action": [first.pk, second.pk], "apply": "1", "survivor": second.pk},
    )

    first.refresh_from_db()
    assert first.merged_into == second


def test_an_erased_customer_is_read_only_in_the_admin(admin_client, manager):
    customer = services.erase_customer(CustomerFactory().pk, user=manager)

    admin_client.post(f"{CHANGELIST}{customer.pk}/change/", {"name": "Back again", "phone": "07700900999"})

    customer.refresh_from_db()
    assert customer.name == f"Erased customer #{customer.pk}"
