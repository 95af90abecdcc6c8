import json
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.models import Payment, PrintJob, Receipt
from core.models import IdempotencyRecord
from inventory.models import StockLevel, StockMove
from orders.models import Order
from orders.pricing import TenderInput
from orders.tests.helpers import open_register, stocked_product
from staff.api_clients import create_api_client
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/checkout/"


@pytest.fixture
def api(cashier):
    client = APIClient()
    client.force_authenticate(cashier)
    return client


@pytest.fixture
def till(location):
    return open_register(location)


@pytest.fixture
def product(location):
    return stocked_product(location, on_hand="10", price="2.50")


def body(till, product, **extra):
    data = {
        "register": till.pk,
        "lines": [{"product": product.pk, "quantity": "2"}],
        "tenders": [{"tender": "cash", "tendered": "10.00"}],
    }
    data.update(extra)
    return data


def post(api, data, key=None, raw=None):
    return api.post(
        URL,
        raw if raw is not None else json.dumps(data),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


def nothing_changed(product, location):
    return (
        not Order.objects.exists()
        and not Payment.objects.exists()
        and not Receipt.objects.exists()
        and not StockMove.objects.filter(reason="sale").exists()
        and StockLevel.objects.get(product=product, location=location).on_hand == Decimal("10")
    )


def test_checkout_sells_the_lines_and_returns_the_receipt_and_change(api, till, product):
    response = post(api, body(till, product))

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["order"]["status"] == "paid"
    assert data["order"]["total"] == "5.00"
    assert data["change"] == "5.00"
    assert data["receipt"]["number"] == 1
    assert [p["tender"] for p in data["payments"]] == ["cash"]
    assert PrintJob.objects.filter(receipt_id=data["receipt"]["id"]).exists()


def test_a_tender_tip_given_as_a_percent_is_that_percent_of_the_order_total(api, till, product):
    response = post(api, body(till, product, tenders=[{"tender": "card", "tip_percent": "12.5"}]))

    assert response.status_code == 201, response.json()
    [payment] = response.json()["payments"]
    assert (payment["amount"], payment["tip"], payment["tendered"]) == ("5.00", "0.63", "5.63")


@pytest.mark.parametrize(
    ("tender", "field"),
    [
        ({"tender": "card", "tip_percent": "100.01"}, "tip_percent"),
        ({"tender": "card", "tip_percent": "10", "tip": "1.00"}, "tip_percent"),
    ],
)
def test_a_tip_percent_over_a_hundred_or_beside_a_tip_amount_is_refused(api, till, product, location, tender, field):
    response = post(api, body(till, product, tenders=[tender]))

    assert response.status_code == 400
    assert field in json.dumps(response.json()["fields"]), response.json()
    assert nothing_changed(product, location)


def test_the_same_checkout_sent_twice_creates_one_sale_and_replays_the_first_response(api, till, product, location):
    key = str(uuid.uuid4())

    first = post(api, body(till, product), key=key)
    second = post(api, body(till, product), key=key)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == Payment.objects.count() == Receipt.objects.count() == 1
    assert StockMove.objects.filter(reason="sale").count() == 1
    assert StockLevel.objects.get(product=product, location=location).on_hand == Decimal("8")


def test_the_same_key_with_a_different_body_is_refused_with_422(api, till, product):
    key = str(uuid.uuid4())
    post(api, body(till, product), key=key)

    response = post(api, body(till, product, tenders=[{"tender": "card"}]), key=key)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_a_key_belongs_to_its_token_so_two_clients_may_use_the_same_key(till, product, location):
    key = str(uuid.uuid4())
    api, other = APIClient(), APIClient()
    for client, name in ((api, "shop"), (other, "kiosk")):
        token = create_api_client(name=name, scope="sell", locations=[location])[1]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert post(api, body(till, product), key=key).status_code == 201
    assert post(other, body(till, product), key=key).status_code == 201
    assert Order.objects.count() == 2


def test_checkout_without_an_idempotency_key_is_refused(api, till, product, location):
    response = api.post(URL, body(till, product), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert nothing_changed(product, location)


def test_a_checkout_without_a_key_is_refused_for_the_key_before_its_approver_is_looked_at(api, till, product, location):
    """The key is the first thing a checkout needs: a missing one is named even when the body also names a manager
    (whose PIN would otherwise be tried, and counted, for a request that can never be applied)."""
    response = api.post(URL, body(till, product, approver=999999, approver_pin="000000"), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert nothing_changed(product, location)


def test_a_failed_checkout_keeps_no_claim_on_its_key_so_a_corrected_retry_goes_through(api, till, product):
    key = str(uuid.uuid4())
    short = post(api, body(till, product, tenders=[{"tender": "cash", "tendered": "1.00"}]), key=key)

    assert short.status_code == 400
    assert short.json()["code"] == "insufficient_tender"
    assert not IdempotencyRecord.objects.exists()
    assert post(api, body(till, product), key=key).status_code == 201


def test_paying_an_open_order_by_its_uuid(api, till, product, cashier, location):
    from orders.services import open_order
    from orders.tests.helpers import line

    order = open_order(location_id=location.pk, user=cashier, lines=[line(product, "3")])

    response = post(api, {"register": till.pk, "order": str(order.uuid), "tenders": [{"tender": "card"}]})

    assert response.status_code == 201, response.json()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.paid_total == Decimal("7.50")


def test_a_waiter_cannot_take_payments(till, product, waiter):
    client = APIClient()
    client.force_authenticate(waiter)

    response = post(client, body(till, product))

    assert response.status_code == 403
    assert not Order.objects.exists()


def test_checkout_of_an_order_at_another_location_is_not_found(api, till, product):
    from inventory.tests.factories import LocationFactory, UserFactory
    from orders.tests.factories import OrderFactory

    elsewhere = OrderFactory(location=LocationFactory(), staff=UserFactory())

    response = post(api, {"register": till.pk, "order": str(elsewhere.uuid), "tenders": [{"tender": "card"}]})

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": [{"product": 0, "quantity": "1"}]}, "lines"),
        ({"lines": [{"product": 1, "quantity": "0"}]}, "lines"),
        ({"lines": [{"product": 1, "quantity": "-1"}]}, "lines"),
        ({"lines": [{"product": 1, "quantity": "1000000000000"}]}, "lines"),
        ({"lines": [{"product": 1, "quantity": "NaN"}]}, "lines"),
        ({"lines": [{"product": 1, "quantity": "Infinity"}]}, "lines"),
        ({"tenders": [{"tender": "cash", "tendered": "10.005"}]}, "tenders"),
        ({"tenders": [{"tender": "card", "amount": "NaN"}]}, "tenders"),
        ({"tenders": [{"tender": "cheque"}]}, "tenders"),
        ({"note": "a\x00b"}, "note"),
        ({"note": "x" * 10_000}, "note"),
        ({"lines": [{"product": 1, "quantity": "1", "note": "x" * 10_000}]}, "lines"),
        ({"register": "one"}, "register"),
        ({"lines": []}, "order"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field_and_changes_nothing(api, till, product, location, change, field):
    data = body(till, product)
    data.update(change)
    if "lines" in change and change["lines"] and change["lines"][0]["product"] == 1:
        data["lines"][0]["product"] = product.pk

    response = post(api, data)

    assert response.status_code == 400, response.json()
    payload = response.json()
    assert set(payload) == {"code", "message", "fields"}
    assert field in payload["fields"]
    assert nothing_changed(product, location)


def test_an_unknown_product_gets_a_400_and_changes_nothing(api, till, product, location):
    response = post(api, body(till, product, lines=[{"product": 999999, "quantity": "1"}]))

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_product"
    assert nothing_changed(product, location)


def test_a_price_with_three_decimals_is_refused(api, till, product, location, manager):
    client = APIClient()
    client.force_authenticate(manager)

    response = post(client, body(till, product, lines=[{"product": product.pk, "unit_price": "2.505"}]))

    assert response.status_code == 400
    assert "lines" in response.json()["fields"]
    assert nothing_changed(product, location)


def test_malformed_json_gets_a_400_and_changes_nothing(api, till, product, location):
    response = post(api, None, raw='{"register": 1, "lines": [')

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}
    assert nothing_changed(product, location)


def test_a_tender_that_does_not_cover_the_total_gets_a_400(api, till, product, location):
    response = post(api, body(till, product, tenders=[{"tender": "card", "amount": "4.99"}]))

    assert response.status_code == 400
    assert response.json()["code"] == "insufficient_tender"
    assert nothing_changed(product, location)


def test_the_last_unit_sold_out_gets_a_409_out_of_stock(api, till, location):
    product = stocked_product(location, on_hand="1", price="2.50")

    response = post(api, body(till, product))

    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"


def test_a_cashier_price_override_needs_a_manager_and_a_manager_override_is_audited(api, till, product, manager):
    denied = post(api, body(till, product, lines=[{"product": product.pk, "unit_price": "1.00"}]))
    assert denied.status_code == 403
    assert denied.json()["code"] == "approval_required"

    client = APIClient()
    client.force_authenticate(manager)
    allowed = post(client, body(till, product, lines=[{"product": product.pk, "unit_price": "1.00"}]))

    assert allowed.status_code == 201
    assert allowed.json()["order"]["total"] == "1.00"
    assert AuditEvent.objects.filter(action="price_override", actor=manager).count() == 1


def test_receipts_can_be_read_back_and_searched_by_number(api, till, product):
    post(api, body(till, product))
    post(api, body(till, product))

    response = api.get("/api/v1/receipts/", {"number": 2, "register": till.pk})

    assert response.status_code == 200
    [receipt] = response.json()["results"]
    assert receipt["number"] == 2
    assert receipt["order"]["lines"][0]["quantity"] == "2.000"
    assert receipt["payments"][0]["tender"] == "cash"


def test_the_checkout_response_is_exactly_what_its_documented_serializer_gives(location, cashier, till):
    from rest_framework.renderers import JSONRenderer

    from billing.api.serializers import SaleSerializer, sale_body
    from billing.services import sell
    from orders.services import NewLine
    from orders.tests.factories import ModifierOptionFactory

    product = stocked_product(location, price="3.35", quantity_places=1)
    lid = ModifierOptionFactory(name="lid", price_delta=Decimal("0.10"))
    lid.group.products.add(product)
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[NewLine(product.pk, Decimal("1.5"), modifiers=[lid.pk], note="n")],
        tenders=[TenderInput("cash", tendered=Decimal(20))],
    )

    documented = json.loads(JSONRenderer().render(SaleSerializer(sale).data))
    assert json.loads(json.dumps(sale_body(sale))) == documented


def test_a_checkout_selling_a_gift_card_and_paying_with_another_answers_as_its_documented_serializer(
    location, cashier, till
):
    from rest_framework.renderers import JSONRenderer

    from billing.api.serializers import SaleSerializer, sale_body
    from billing.services import sell
    from billing.tests.factories import GiftCardFactory
    from inventory.models import Product
    from inventory.tests.factories import ProductFactory
    from orders.services import NewLine

    gift_card = ProductFactory(kind=Product.Kind.GIFT_CARD, price=Decimal("25.00"))
    paying = GiftCardFactory(balance=Decimal("10.00"), issued_at=location)
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[NewLine(gift_card.pk, Decimal("1"))],
        tenders=[
            TenderInput("gift_card", amount=Decimal("10.00"), card=paying.code),
            TenderInput("cash", tendered=Decimal(20)),
        ],
    )

    body = json.loads(json.dumps(sale_body(sale)))
    assert body == json.loads(JSONRenderer().render(SaleSerializer(sale).data))
    assert [(c["kind"], c["balance"], len(c["code"])) for c in body["gift_cards"]] == [("gift_card", "25.00", 19)]
    assert body["card_balances"] == [
        {"card": paying.masked_code, "kind": "gift_card", "balance": "0.00", "expires_at": None, "expired": False}
    ]
