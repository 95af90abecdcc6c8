"""The stores' money caps and the products' quantity places are edited where stores and products are."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from inventory.models import Product
from inventory.tests.factories import ProductFactory, TaxRateFactory

pytestmark = pytest.mark.django_db


def test_a_manager_sets_a_products_quantity_places_over_the_api(manager):
    api = APIClient()
    api.force_login(manager)
    fields = {"sku": "CHEESE", "name": "Comté", "price": "24.00", "tax_rate": TaxRateFactory().pk, "unit": "kg"}

    created = api.post("/api/v1/products/", {**fields, "quantity_places": 3}, format="json")
    too_fine = api.post("/api/v1/products/", {**fields, "sku": "X", "quantity_places": 4}, format="json")

    assert created.status_code == 201 and created.json()["quantity_places"] == 3
    assert Product.objects.get(sku="CHEESE").quantity_places == 3
    assert too_fine.status_code == 400 and "quantity_places" in too_fine.json()["fields"]


def test_the_stores_caps_are_shown_by_the_api(cashier, location):
    location.max_pay_out = Decimal("250")
    location.save()
    api = APIClient()
    api.force_login(cashier)

    [row] = [row for row in api.get("/api/v1/locations/").json()["results"] if row["id"] == location.pk]

    assert (row["max_pay_out"], row["max_tip"]) == ("250.00", "100.00")


def test_a_manager_edits_the_caps_and_quantity_places_in_the_admin(client, manager, location):
    client.force_login(manager)
    product = ProductFactory()

    store_page = client.get(f"/admin/inventory/location/{location.pk}/change/").content.decode()
    product_page = client.get(f"/admin/inventory/product/{product.pk}/change/").content.decode()

    for name in ("max_tip", "max_change", "max_pay_in", "max_pay_out"):
        assert f'name="{name}"' in store_page
    assert 'name="quantity_places"' in product_page
