"""The order screen's customer panel: find, attach, detach, add inline."""

import pytest
from django.urls import reverse

from orders import services
from orders.models import Customer
from orders.tests.factories import CustomerFactory
from orders.tests.pos_helpers import terminal

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def order(location, cashier):
    return services.open_order(location_id=location.pk, user=cashier)


def test_the_order_screen_offers_a_customer_button_to_a_cashier(cashier, order):
    page = terminal(cashier).get(reverse("orders:order", args=[order.uuid]))

    assert "+ Customer" in page.content.decode()


def test_the_order_screen_offers_no_customer_button_to_a_waiter(waiter, location):
    order = services.open_order(location_id=location.pk, user=waiter)

    page = terminal(waiter).get(reverse("orders:order", args=[order.uuid]))

    assert "+ Customer" not in page.content.decode()


def test_searching_by_phone_lists_the_customer_with_an_attach_button(cashier, order):
    wanted = CustomerFactory(name="Ada Lovelace", phone="07700900123")

    page = terminal(cashier).get(reverse("orders:customer_search"), {"q": "07700 900", "order": order.uuid}, **HTMX)

    body = page.content.decode()
    assert "Ada Lovelace" in body and f'data-customer="{wanted.pk}"' in body


def test_a_search_that_finds_nobody_says_so(cashier, order):
    page = terminal(cashier).get(reverse("orders:customer_search"), {"q": "nobody", "order": order.uuid}, **HTMX)

    assert "No customer matches" in page.content.decode()


def test_attaching_shows_the_customer_on_the_ticket(cashier, order):
    customer = CustomerFactory(name="Ada Lovelace")

    page = terminal(cashier).post(reverse("orders:customer", args=[order.uuid]), {"customer": customer.pk}, **HTMX)

    assert page.status_code == 200
    assert "Customer: <strong>Ada Lovelace</strong>" in page.content.decode()
    order.refresh_from_db()
    assert order.customer == customer


def test_removing_the_customer_takes_it_off_the_order(cashier, order):
    services.attach_customer(order.pk, customer_id=CustomerFactory().pk, user=cashier)

    page = terminal(cashier).post(reverse("orders:customer", args=[order.uuid]), {"detach": "1"}, **HTMX)

    assert page.status_code == 200 and "+ Customer" in page.content.decode()
    order.refresh_from_db()
    assert order.customer is None


def test_a_new_customer_typed_in_the_panel_is_added_and_attached(cashier, order):
    page = terminal(cashier).post(
        reverse("orders:customer_new", args=[order.uuid]),
        {"name": "Grace Hopper", "phone": "07700 900 555", "marketing_consent": "on"},
        **HTMX,
    )

    assert page.status_code == 200
    customer = Customer.objects.get(name="Grace Hopper")
    assert (customer.phone, customer.marketing_consent) == ("07700900555", True)
    order.refresh_from_db()
    assert order.customer == customer


def test_a_duplicate_typed_in_the_panel_names_the_existing_customer_and_keeps_what_was_typed(cashier, order):
    existing = CustomerFactory(name="Ada Lovelace", phone="07700900123")

    page = terminal(cashier).post(
        reverse("orders:customer_new", args=[order.uuid]), {"name": "Ada L", "phone": "07700900123"}, **HTMX
    )

    body = page.content.decode()
    assert page.status_code == 409 and page["HX-Retarget"] == "#customer-panel"
    assert f"customer #{existing.pk}" in body and 'value="Ada L"' in body
    assert Customer.objects.count() == 1


def test_the_panel_shows_who_is_attached(cashier, order):
    services.attach_customer(order.pk, customer_id=CustomerFactory(name="Ada Lovelace").pk, user=cashier)

    page = terminal(cashier).get(reverse("orders:customer", args=[order.uuid]), **HTMX)

    assert "<strong>Ada Lovelace</strong>" in page.content.decode()
