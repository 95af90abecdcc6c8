"""Hostile and careless input: numbers larger than their columns, NUL and out-of-range characters in searches,
huge or broken pagination, absurd date ranges. Each is refused with a 4xx naming the field (a message on screens)
and changes nothing; none is a server error."""

import json
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.models import Payment
from inventory.models import Product, StockLevel, StockMove
from orders.models import Order
from orders.tests.helpers import open_register, stocked_product
from orders.tests.pos_helpers import terminal

pytestmark = pytest.mark.django_db


def api_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _fields(response) -> dict:
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    return body["fields"]


# --- money and quantities against their columns -------------------------------------------------------------


def test_a_checkout_whose_line_amount_would_not_fit_its_column_is_refused_naming_the_line(cashier, location):
    till = open_register(location)
    product = stocked_product(location, on_hand="20000", price="999999999.00")
    body = {
        "register": till.pk,
        "lines": [{"product": product.pk, "quantity": "10000"}],
        "tenders": [{"tender": "card"}],
    }

    response = api_for(cashier).post(
        "/api/v1/checkout/", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )

    assert response.status_code == 400, response.content
    assert "lines[0].quantity" in _fields(response)
    assert not Order.objects.exists() and not Payment.objects.exists()


def test_a_new_order_whose_line_amount_would_not_fit_its_column_is_refused_naming_the_line(waiter, location):
    product = stocked_product(location, price="999999999.00")
    body = {
        "location": location.pk,
        "lines": [{"product": product.pk, "quantity": "10000"}],
    }

    response = api_for(waiter).post("/api/v1/orders/", body, format="json")

    assert response.status_code == 400, response.content
    assert "lines[0].quantity" in _fields(response)
    assert not Order.objects.exists()


def test_a_product_price_larger_than_its_column_is_refused_by_the_api(manager):
    body = {"sku": "GOLD", "name": "Gold bar", "kind": "goods", "price": "999999999999.99"}

    response = api_for(manager).post("/api/v1/products/", body, format="json")

    assert response.status_code == 400, response.content
    assert "price" in _fields(response)
    assert not Product.objects.filter(sku="GOLD").exists()


def test_a_product_price_larger_than_its_column_is_refused_by_the_admin_with_a_message(client, manager):
    from inventory.tests.factories import TaxRateFactory

    client.force_login(manager)
    response = client.post(
        "/admin/inventory/product/add/",
        {
            "sku": "GOLD",
            "name": "Gold bar",
            "kind": "goods",
            "price": "999999999999.99",
            "cost": "0",
            "tax_rate": TaxRateFactory().pk,
            "unit": "pcs",
            "stock_policy": "block",
            "reorder_point": "0",
        },
    )

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not Product.objects.filter(sku="GOLD").exists()


def test_a_stock_adjustment_whose_result_would_not_fit_the_stock_column_is_refused_naming_the_delta(manager, location):
    product = stocked_product(location, on_hand="50")
    body = {"product": product.pk, "location": location.pk, "delta": "99999999999.999", "reason": "found"}

    response = api_for(manager).post("/api/v1/stock-adjustments/", body, format="json")

    assert response.status_code == 400, response.content
    assert "delta" in _fields(response)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 50
    assert StockMove.objects.filter(product=product).count() == 1


# --- search input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["milk\x00", "\x00", "\U0010ffff", "a\U0010ffff"])
def test_a_product_search_with_a_nul_or_an_out_of_range_character_is_not_a_server_error(manager, location, query):
    stocked_product(location, name="Milk")

    response = api_for(manager).get("/api/v1/products/", {"q": query})

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert "q" in _fields(response)


def test_a_product_search_with_bytes_that_are_not_utf_8_is_not_a_server_error(manager):
    response = api_for(manager).get("/api/v1/products/?q=%ED%A0%80%FF")

    assert response.status_code == 200, response.content


def test_a_barcode_lookup_with_a_nul_byte_is_a_clear_400(manager):
    response = api_for(manager).get("/api/v1/products/barcode/50%0017/")

    assert response.status_code == 400
    assert _fields(response)


@pytest.mark.parametrize("query", ["co\x00la", "\U0010ffff"])
def test_the_pos_product_search_with_a_nul_or_an_out_of_range_character_is_not_a_server_error(cashier, query):
    response = terminal(cashier).get("/pos/products/", {"q": query})

    assert response.status_code in (200, 302, 400)


def test_the_admin_product_search_with_a_nul_byte_is_not_a_server_error(client, manager):
    client.force_login(manager)

    assert client.get("/admin/inventory/product/", {"q": "oat\x00"}).status_code in (200, 400)


# --- pagination ---------------------------------------------------------------------------------------------

LISTS = ["/api/v1/products/", "/api/v1/stock-levels/", "/api/v1/stock-moves/", "/api/v1/orders/"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("limit", ["99999999999999999999", "-1", "ten", "0"])
def test_an_invalid_or_huge_limit_is_a_400_naming_it(manager, location, url, limit):
    response = api_for(manager).get(url, {"limit": limit})

    assert response.status_code == 400, response.content
    assert "limit" in _fields(response)


@pytest.mark.parametrize("offset", ["99999999999999999999", "-5", "x"])
def test_an_invalid_or_huge_offset_is_a_400_naming_it(manager, offset):
    response = api_for(manager).get("/api/v1/products/", {"offset": offset})

    assert response.status_code == 400, response.content
    assert "offset" in _fields(response)


def test_a_limit_within_bounds_still_pages(manager, location):
    for n in range(3):
        stocked_product(location, name=f"Item {n}")

    response = api_for(manager).get("/api/v1/products/", {"limit": "2", "offset": "1"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


# --- date ranges --------------------------------------------------------------------------------------------

ABSURD = [("2026-01-01", "9999-12-31"), ("0001-01-01", "0001-01-01"), ("9999-12-31", "9999-12-31")]


@pytest.mark.parametrize(("date_from", "date_to"), ABSURD)
def test_the_api_report_with_an_absurd_date_is_a_400(manager, location, date_from, date_to):
    response = api_for(manager).get(
        "/api/v1/reports/summary/", {"location": location.pk, "date_from": date_from, "date_to": date_to}
    )

    assert response.status_code == 400, response.content
    assert set(_fields(response)) & {"date_from", "date_to"}


@pytest.mark.parametrize(("date_from", "date_to"), ABSURD)
def test_the_report_screen_with_an_absurd_date_shows_a_message(client, manager, location, date_from, date_to):
    client.force_login(manager)

    response = client.get("/reports/", {"location": location.pk, "date_from": date_from, "date_to": date_to})

    assert response.status_code == 200
    assert b"Choose a day from 2000-01-01 to 2099-12-31" in response.content


@pytest.mark.parametrize(("date_from", "date_to"), ABSURD)
def test_the_report_csv_with_an_absurd_date_is_a_400(client, manager, location, date_from, date_to):
    client.force_login(manager)

    response = client.get("/reports/csv/day/", {"location": location.pk, "date_from": date_from, "date_to": date_to})

    assert response.status_code == 400


# --- the schema ---------------------------------------------------------------------------------------------


def test_the_schema_says_a_count_lines_variance_may_be_null():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert schema["components"]["schemas"]["StockCountLine"]["properties"]["variance"]["nullable"] is True


# --- found by the fuzzer ------------------------------------------------------------------------------------


def test_an_unknown_api_address_answers_the_api_error_body_not_a_page(manager):
    response = api_for(manager).get("/api/v1/products/0.5/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/api/v1/orders/", {"status": "AAA"}),
        ("/api/v1/orders/", {"table": "-1"}),
        ("/api/v1/receipts/", {"register": "-1"}),
        ("/api/v1/receipt-emails/", {"status": "AAA"}),
        ("/api/v1/receipt-emails/", {"receipt": "x"}),
        ("/api/v1/cash-sessions/", {"status": "AAA"}),
        ("/api/v1/tables/", {"location": "²"}),
        ("/api/v1/stock-levels/", {"product": "²"}),
    ],
)
def test_a_filter_with_a_value_it_cannot_have_is_a_400_naming_it_not_silently_ignored(manager, url, query):
    response = api_for(manager).get(url, query)

    assert response.status_code == 400, response.content
    assert set(query) <= set(_fields(response))


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_documents_each_error_an_operation_can_answer_with_the_error_body():
    schema = _schema()
    checkout = schema["paths"]["/api/v1/checkout/"]["post"]["responses"]
    products = schema["paths"]["/api/v1/products/"]["get"]["responses"]

    assert {"400", "401", "403", "404", "409", "422", "503"} <= set(checkout)
    assert {"400", "401", "403", "503"} <= set(products)
    assert "409" not in products
    error = checkout["409"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][error]["properties"]) == {"code", "message", "fields"}


def test_the_schema_says_a_decimal_needs_a_digit_and_an_idempotency_key_a_character():
    import re

    schema = _schema()
    price = schema["components"]["schemas"]["ProductRequest"]["properties"]["price"]["pattern"]
    key = next(p for p in schema["paths"]["/api/v1/checkout/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")

    assert re.fullmatch(price, "12.50") and not re.fullmatch(price, "") and not re.fullmatch(price, "-1")
    assert key["schema"]["minLength"] == 1


def test_a_pay_in_larger_than_an_amount_can_be_is_refused_naming_the_amount(location, cashier):
    from billing import sessions
    from billing.models import CashMovement
    from billing.tests.factories import RegisterFactory
    from core.errors import DomainError

    register = RegisterFactory(location=location)
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float=Decimal("0"))

    with pytest.raises(DomainError) as refused:
        sessions.pay_in(session_id=session.pk, user=cashier, amount="99999999999999", reason="From the bank")

    assert "amount" in refused.value.fields
    assert not CashMovement.objects.filter(session=session).exists()


@pytest.mark.parametrize("code", ["²", "R1-²", "R²-1", "9" * 30, "R1-" + "9" * 30])
def test_the_refund_search_box_with_odd_digits_or_a_huge_number_finds_nothing_and_says_so(cashier, location, code):
    from orders.tests.pos_helpers import open_till

    client = terminal(cashier)
    open_till(client, location, cashier)

    response = client.get("/pos/refunds/", {"code": code})

    assert response.status_code == 200
    assert "No sale receipt" in response.content.decode()


def test_a_guest_number_in_odd_digits_on_the_payment_screen_is_not_a_server_error(cashier, location):
    from billing.models import Payment
    from billing.tests.test_views import _order_of, _pay
    from orders.tests.pos_helpers import open_till, product

    client = terminal(cashier)
    open_till(client, location, cashier)
    order = _order_of(cashier, location, product(location))

    response, _ = _pay(client, order, amount_0="50.00", guest_0="²")

    assert response.status_code in (200, 302)
    assert Payment.objects.filter(order=order).count() == 1
