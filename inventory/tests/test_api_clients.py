import logging
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from inventory.models import Product
from inventory.tests.factories import LocationFactory, ProductFactory, TaxRateFactory
from orders.models import Order
from orders.tests.factories import OrderFactory
from orders.tests.helpers import open_register, stocked_product
from staff.api_clients import create_api_client, hash_token, revoke_api_client
from staff.models import ApiClient, AuditEvent

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def token_for(location, scope="read", **kwargs) -> str:
    return create_api_client(name=f"client-{uuid.uuid4().hex[:8]}", scope=scope, locations=[location], **kwargs)[1]


def checkout(client, register, product):
    body = {"register": register.pk, "lines": [{"product": product.pk}], "tenders": [{"tender": "card"}]}
    return client.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def test_only_the_prefix_and_a_hash_of_the_token_are_stored(location):
    client, token = create_api_client(name="web shop", scope="read", locations=[location])

    row = ApiClient.objects.filter(pk=client.pk).values().get()
    assert token.startswith(f"thk_{client.prefix}_")
    assert row["token_hash"] == hash_token(token)
    assert not any(token in str(value) for value in row.values())
    assert AuditEvent.objects.filter(action="api_client_created", object_id=str(client.pk)).exists()


def test_a_read_token_reads_the_catalogue_but_cannot_change_it(location):
    api = bearer(token_for(location, "read"))

    assert api.get("/api/v1/products/").status_code == 200
    response = api.post("/api/v1/products/", {"sku": "X1", "name": "X", "price": "1.00"}, format="json")
    assert response.status_code == 403
    assert "scope" in response.json()["message"]
    assert not Product.objects.filter(sku="X1").exists()


def test_a_sell_token_checks_out_but_cannot_adjust_stock(location):
    register = open_register(location)
    product = stocked_product(location, on_hand="5")
    api = bearer(token_for(location, "sell"))

    assert checkout(api, register, product).status_code == 201
    adjust = {"location": location.pk, "product": product.pk, "delta": "10", "reason": "found"}
    assert api.post("/api/v1/stock-adjustments/", adjust, format="json").status_code == 403


def test_a_sell_token_sells_at_its_own_stores_tills_only(location):
    elsewhere = LocationFactory(code="north")
    mine, theirs = open_register(location), open_register(elsewhere)
    product = stocked_product(location, on_hand="5")
    stocked_product(elsewhere, on_hand="5")
    api = bearer(token_for(location, "sell"))

    refused = checkout(api, theirs, product)
    assert refused.status_code == 403
    assert not Order.objects.exists()
    assert checkout(api, mine, product).status_code == 201


def test_a_token_checkout_reads_the_client_its_roles_and_locations_in_one_statement_and_takes_no_savepoint(
    location,
):
    register = open_register(location)
    product = stocked_product(location, on_hand="5")
    api = bearer(token_for(location, "sell"))
    checkout(api, register, product)  # the last-use stamp is written at most once a minute: not in the count below

    with CaptureQueriesContext(connection) as statements:
        assert checkout(api, register, product).status_code == 201

    sql = [s["sql"] for s in statements.captured_queries]
    assert sum("auth_user_groups" in s or "inventory_apiclient_locations" in s for s in sql) == 1
    # Only the request's own block (a savepoint here, inside the test's transaction; BEGIN in production).
    assert sum(s.startswith("SAVEPOINT") for s in sql) == 1
    assert len(sql) <= 17, "\n".join(sql)  # BENCHMARKS.md counts what each one is for


def test_a_read_token_cannot_check_out(location):
    register = open_register(location)
    product = stocked_product(location, on_hand="5")

    assert checkout(bearer(token_for(location, "read")), register, product).status_code == 403
    assert not Order.objects.exists()


def test_a_manage_token_changes_the_catalogue(location):
    body = {"sku": "X2", "name": "Mug", "price": "4.00", "tax_rate": TaxRateFactory().pk}
    response = bearer(token_for(location, "manage")).post("/api/v1/products/", body, format="json")

    assert response.status_code == 201, response.json()


def test_a_revoked_token_is_refused(location, manager):
    client, token = create_api_client(name="kiosk", scope="read", locations=[location])
    revoke_api_client(client, actor=manager)

    response = bearer(token).get("/api/v1/products/")
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]
    assert AuditEvent.objects.filter(action="api_client_revoked", actor=manager).count() == 1


def test_an_expired_token_is_refused(location):
    client, token = create_api_client(
        name="kiosk", scope="read", locations=[location], expires_at=timezone.now() + timedelta(hours=1)
    )
    ApiClient.objects.filter(pk=client.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = bearer(token).get("/api/v1/products/")
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_a_made_up_token_with_a_real_prefix_is_refused(location):
    client, _ = create_api_client(name="kiosk", scope="read", locations=[location])

    assert bearer(f"thk_{client.prefix}_{'A' * 43}").get("/api/v1/products/").status_code == 401
    assert bearer("not-a-token").get("/api/v1/products/").status_code == 401


def test_a_token_sees_orders_of_its_own_locations_only_in_lists_and_details(location):
    elsewhere = LocationFactory(code="north")
    mine, theirs = OrderFactory(location=location), OrderFactory(location=elsewhere)
    api = bearer(token_for(location, "manage"))  # a manager's role, still only at its location

    listed = {row["uuid"] for row in api.get("/api/v1/orders/").json()["results"]}
    assert listed == {str(mine.uuid)}
    assert api.get(f"/api/v1/orders/{theirs.uuid}/").status_code == 404
    assert [row["code"] for row in api.get("/api/v1/locations/").json()["results"]] == ["main"]


def test_a_manage_token_cannot_open_an_order_at_another_location(location):
    elsewhere = LocationFactory(code="north")
    product = ProductFactory()
    api = bearer(token_for(location, "manage"))

    response = api.post(
        "/api/v1/orders/", {"location": elsewhere.pk, "lines": [{"product": product.pk}]}, format="json"
    )

    assert response.status_code == 403
    assert not Order.objects.filter(location=elsewhere).exists()


def test_last_use_is_recorded_at_most_once_a_minute(location, django_assert_num_queries):
    client, token = create_api_client(name="kiosk", scope="read", locations=[location])
    api = bearer(token)

    api.get("/api/v1/locations/")
    client.refresh_from_db()
    first = client.last_used_at
    assert first is not None
    api.get("/api/v1/locations/")
    client.refresh_from_db()
    assert client.last_used_at == first

    ApiClient.objects.filter(pk=client.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get("/api/v1/locations/")
    client.refresh_from_db()
    assert client.last_used_at > first


def test_the_token_never_reaches_the_logs(location, caplog):
    token = token_for(location, "read")

    with caplog.at_level(logging.DEBUG):
        bearer(token).get("/api/v1/products/?q=mug")
        bearer(token + "x").get("/api/v1/products/")

    assert caplog.records, "the request should have been logged"
    secret = token.split("_", 2)[2]  # all of it: the random part itself may hold "_"
    assert not any(secret in record.getMessage() or secret in str(record.__dict__) for record in caplog.records)


def test_the_command_prints_the_token_once_and_it_works(location):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "kiosk", "--scope", "sell", "--location", "main", stdout=out, stderr=err)

    token = out.getvalue().strip()
    assert bearer(token).get("/api/v1/products/").status_code == 200
    assert ApiClient.objects.get(name="kiosk").scope == "sell"


def test_a_manager_issues_a_token_in_the_admin_and_sees_it_only_once(location, manager):
    admin = APIClient()
    admin.force_login(manager)

    response = admin.post(
        "/admin/staff/apiclient/add/", {"name": "web shop", "scope": "sell", "locations": [location.pk]}
    )

    assert response.status_code == 200
    token = response.context["token"]
    assert token in response.content.decode()
    client = ApiClient.objects.get(name="web shop")
    assert client.created_by == manager
    assert token not in admin.get(f"/admin/staff/apiclient/{client.pk}/change/").content.decode()
    assert bearer(token).get("/api/v1/products/").status_code == 200
