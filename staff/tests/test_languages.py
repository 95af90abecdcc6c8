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
    StaffProfile.objects.filter(user=user).update(language=language)


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
    Terminal.objects.filter(pk=client.pos_terminal.pk).update(language="id")
    response = client.get("/pos/")
    assert _language(response) == "id" and "Penjualan cepat" in response.content.decode()


def test_the_persons_own_language_wins_over_the_terminals_and_the_stores(cashier, location):
    location.language = "de"
    location.save()
    client = terminal(cashier, location=location)
    Terminal.objects.filter(pk=client.pos_terminal.pk).update(language="de")
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
