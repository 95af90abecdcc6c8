import uuid

import pytest
from rest_framework.test import APIClient

from inventory.tests.factories import LocationFactory
from orders.models import Order
from orders.tests.factories import TableFactory
from orders.tests.helpers import station_product, stocked_product

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def create(client, location, *products, **extra):
    body = {"location": location.pk, "lines": [{"product": p.pk, "quantity": "1"} for p in products], **extra}
    return client.post("/api/v1/orders/", body, format="json")


def test_an_order_is_created_with_its_lines_in_one_call(location, waiter):
    product = stocked_product(location, price="3.20")
    table = TableFactory(location=location)

    response = create(client_for(waiter), location, product, product, channel="dine_in", table=table.pk)

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["total"] == "6.40"
    assert [line["name"] for line in data["lines"]] == [product.name, product.name]
    assert data["table"] == table.pk


def test_creating_an_order_with_the_same_idempotency_key_twice_creates_one(location, waiter):
    product = stocked_product(location)
    client = client_for(waiter)
    key = str(uuid.uuid4())
    body = {"location": location.pk, "lines": [{"product": product.pk}]}

    first = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    second = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.json()["uuid"] == second.json()["uuid"]
    assert Order.objects.count() == 1


def test_lines_are_added_voided_and_discounted_through_the_api(location, cashier):
    product = stocked_product(location, price="10.00")
    client = client_for(cashier)
    order = create(client, location, product).json()
    url = f"/api/v1/orders/{order['uuid']}"

    added = client.post(f"{url}/lines/", {"lines": [{"product": product.pk, "quantity": "2"}]}, format="json")
    line_id = added.json()["lines"][0]["id"]
    voided = client.post(f"{url}/lines/{line_id}/void/", {"reason": "wrong"}, format="json")
    discounted = client.post(f"{url}/discount/", {"kind": "percent", "value": "5", "reason": "staff"}, format="json")

    assert added.status_code == 201
    assert added.json()["total"] == "30.00"
    assert voided.json()["total"] == "20.00"
    assert discounted.json()["total"] == "19.00"


def test_a_large_discount_by_a_cashier_gets_403_approval_required(location, cashier):
    product = stocked_product(location, price="10.00")
    client = client_for(cashier)
    order = create(client, location, product).json()

    response = client.post(
        f"/api/v1/orders/{order['uuid']}/discount/", {"kind": "percent", "value": "50", "reason": "x"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "approval_required"


def test_split_by_lines_and_evenly(location, waiter):
    product = stocked_product(location, price="10.00")
    client = client_for(waiter)
    order = create(client, location, product, product).json()
    url = f"/api/v1/orders/{order['uuid']}/split/"

    even = client.post(url, {"mode": "even", "parts": 3}, format="json")
    by_lines = client.post(
        url, {"mode": "lines", "lines": [{"line": order["lines"][0]["id"], "quantity": "1"}]}, format="json"
    )

    assert even.json() == {"total": "20.00", "parts": ["6.67", "6.67", "6.66"]}
    assert by_lines.status_code == 201
    assert by_lines.json()["total"] == "10.00"


def test_send_to_kitchen_hold_resume_move_and_merge(location, waiter):
    client = client_for(waiter)
    a = create(client, location, station_product(location, "kitchen")).json()
    b = create(client, location, stocked_product(location)).json()
    table = TableFactory(location=location)

    sent = client.post(f"/api/v1/orders/{a['uuid']}/send/")
    held = client.post(f"/api/v1/orders/{a['uuid']}/hold/")
    resumed = client.post(f"/api/v1/orders/{a['uuid']}/resume/")
    moved = client.post(f"/api/v1/orders/{a['uuid']}/move/", {"table": table.pk}, format="json")
    merged = client.post(f"/api/v1/orders/{b['uuid']}/merge/", {"into": a["uuid"]}, format="json")

    assert sent.status_code == 201
    assert sent.json()[0]["station"] == "kitchen"
    assert held.json()["status"] == "held"
    assert resumed.json()["status"] == "open"
    assert moved.json()["table"] == table.pk
    assert len(merged.json()["lines"]) == 2


def test_orders_of_other_locations_are_invisible(location, waiter):
    other = LocationFactory()
    theirs = Order.objects.create(location=other, staff=waiter)
    client = client_for(waiter)
    create(client, location, stocked_product(location))

    listed = client.get("/api/v1/orders/").json()

    assert listed["count"] == 1
    assert client.get(f"/api/v1/orders/{theirs.uuid}/").status_code == 404
    assert create(client, other, stocked_product(other)).status_code == 403


def test_kitchen_staff_may_read_orders_but_not_change_them(location, kitchen_user, waiter):
    order = create(client_for(waiter), location, stocked_product(location)).json()
    client = client_for(kitchen_user)

    assert client.get(f"/api/v1/orders/{order['uuid']}/").status_code == 200
    assert client.post(f"/api/v1/orders/{order['uuid']}/hold/").status_code == 403


@pytest.mark.parametrize(
    "lines",
    [
        [{"product": 1, "quantity": "0"}],
        [{"product": 1, "quantity": "1e12"}],
        [{"product": 1, "quantity": "NaN"}],
        [{"product": 1, "note": "\x00"}],
        [{"product": 1, "modifiers": [{"name": "x" * 10_000}]}],
        [{"product": 1, "modifiers": list(range(1, 30))}],
        [{"product": 1, "modifiers": [0]}],
        [{"product": 1, "discount_kind": "percent", "discount_value": "NaN"}],
        "not a list",
    ],
)
def test_bad_lines_get_a_400_and_no_order(location, waiter, lines):
    product = stocked_product(location)
    if isinstance(lines, list):
        lines = [{**line, "product": product.pk} for line in lines]

    response = client_for(waiter).post("/api/v1/orders/", {"location": location.pk, "lines": lines}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "lines" in response.json()["fields"]
    assert not Order.objects.exists()


def test_tables_list_their_open_orders(location, waiter):
    table = TableFactory(location=location)
    create(client_for(waiter), location, stocked_product(location), channel="dine_in", table=table.pk)

    [row] = client_for(waiter).get("/api/v1/tables/").json()["results"]

    assert (row["id"], row["open_orders"]) == (table.pk, 1)


def test_the_schema_describes_the_sales_endpoints(manager):
    response = client_for(manager).get("/api/schema/", {"format": "json"})

    paths = response.json()["paths"]
    for path in [
        "/api/v1/orders/",
        "/api/v1/orders/{uuid}/lines/",
        "/api/v1/orders/{uuid}/discount/",
        "/api/v1/orders/{uuid}/split/",
        "/api/v1/checkout/",
        "/api/v1/refunds/",
        "/api/v1/receipts/{id}/",
        "/api/v1/tables/",
    ]:
        assert path in paths, path
    checkout = paths["/api/v1/checkout/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in checkout["parameters"])
    assert "201" in checkout["responses"]
