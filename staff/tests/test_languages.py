"""The language of a request: the person's own, else the paired terminal's, else its store's, else the browser's."""

from decimal import Decimal

import pytest
from django.test import Client

from orders.tests.pos_helpers import give_pin, open_till, pair_client, product, terminal
from staff.models import StaffProfile, Terminal

pytestmark = pytest.mark.django_db


def _language(response) -> str:
    return response.headers.get("Content-Language", "")


def _set(user, language):
    profile = StaffProfile.objects.get(user=user)
    profile.language = language
    profile.save()


def _set_terminal(terminal, language):
    terminal = Terminal.objects.get(pk=terminal.pk)
    terminal.language = language
    terminal.save()


def test_a_store_in_german_shows_its_terminals_screens_in_german(cashier, location):
    location.language = "de"
    location.save()
    give_pin(cashier)
    client = terminal(cashier, location=location)
    response = client.get("/pos/")
    assert _language(response) == "de"
    assert "Schnellverkauf" in response.content.decode()  # Quick sale
    assert "Quick sale" not in response.content.decode()


def test_the_terminals_language_wins_over_the_stores(cashier, location):
    location.language = "de"
    location.save()
    client = terminal(cashier, location=location)
    _set_terminal(client.pos_terminal, "id")
    response = client.get("/pos/")
    assert _language(response) == "id" and "Penjualan cepat" in response.content.decode()


def test_the_persons_own_language_wins_over_the_terminals_and_the_stores(cashier, location):
    location.language = "de"
    location.save()
    client = terminal(cashier, location=location)
    _set_terminal(client.pos_terminal, "de")
    _set(cashier, "id")
    assert _language(client.get("/pos/")) == "id"
    _set(cashier, "en")
    response = client.get("/pos/")
    assert _language(response) == "en" and "Quick sale" in response.content.decode()


def test_without_a_terminal_the_persons_only_store_speaks(cashier, location):
    location.language = "id"
    location.save()
    client = Client()
    client.force_login(cashier)
    assert _language(client.get("/")) == "id"


def test_nobody_naming_a_language_leaves_the_browsers_choice_then_english(location):
    client = Client()
    assert _language(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")) == "de"
    assert "Anmelden" in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert _language(client.get("/accounts/login/")) == "en"


def test_a_paired_device_shows_the_sign_in_page_in_its_stores_language(location):
    location.language = "id"
    location.save()
    client = Client()
    pair_client(client, location)
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert _language(response) == "id" and "Masuk" in response.content.decode()


def test_amounts_on_the_order_screen_are_written_the_stores_way(cashier, location, settings):
    location.language = "de"
    location.save()
    client = terminal(cashier, location=location)
    open_till(client, location, cashier)
    item = product(location, name="Brezel", price="1234.50")
    order = client.post("/pos/orders/new/", {"channel": "retail"})
    assert order.status_code == 302
    page = client.post(order.url + "lines/", {"product": item.pk}, follow=True)
    assert "1.234,50" in page.content.decode()  # German grouping and decimal comma on screen
    pay = client.get(order.url + "pay/").content.decode()
    assert "1.234,50 €" in pay  # the amount due, with the euro sign where German puts it
    assert 'data-total="1234.50"' in pay and 'name="due" value="1234.50"' in pay  # what scripts and forms read
    assert item.price == Decimal("1234.50")


def test_a_changed_language_shows_at_the_next_request_and_costs_no_query_once_known(
    cashier, location, django_assert_max_num_queries
):
    client = terminal(cashier, location=location)
    assert _language(client.get("/pos/")) == "en"
    location.language = "de"
    location.save()
    assert _language(client.get("/pos/")) == "de"  # the cached "en" is passed by

    from django.test import RequestFactory

    from staff.languages import request_language

    request = RequestFactory().get(
        "/pos/", HTTP_COOKIE=f"tillhouse_terminal={client.cookies['tillhouse_terminal'].value}"
    )
    request.user = cashier
    with django_assert_max_num_queries(0):
        assert request_language(request) == "de"


def test_a_manager_sets_a_persons_language_and_their_own_in_the_user_admin(client, manager, cashier, location):
    client.force_login(manager)
    page = client.get(f"/admin/auth/user/{cashier.pk}/change/").content.decode()
    assert 'name="language"' in page
    form = {
        "username": cashier.username,
        "first_name": cashier.first_name,
        "last_name": cashier.last_name,
        "email": cashier.email,
        "is_active": "on",
        "groups": [str(pk) for pk in cashier.groups.values_list("pk", flat=True)],
        "locations": [str(location.pk)],
        "language": "id",
    }
    response = client.post(f"/admin/auth/user/{cashier.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StaffProfile.objects.get(user=cashier).language == "id"
    assert 'value="id" selected' in client.get(f"/admin/auth/user/{cashier.pk}/change/").content.decode()

    own = {"username": manager.username, "first_name": "M", "last_name": "", "email": "", "language": "de"}
    assert client.post(f"/admin/auth/user/{manager.pk}/change/", own).status_code == 302
    assert StaffProfile.objects.get(user=manager).language == "de"
    assert _language(client.get("/")) == "de"  # the manager's own screens from the next request on

    bad = client.post(f"/admin/auth/user/{cashier.pk}/change/", {**form, "language": "xx"})
    assert bad.status_code == 200 and StaffProfile.objects.get(user=cashier).language == "id"  # refused, unchanged
