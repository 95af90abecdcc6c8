from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import selectors
from inventory.tests.conftest import put_in_stock
from inventory.tests.factories import CategoryFactory, LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


def names(query, **filters):
    return [product.name for product in selectors.search_products(query, **filters)]


@pytest.fixture
def catalogue():
    ProductFactory(name="Oat milk", sku="MILK-OAT", barcode="4000000000011")
    ProductFactory(name="oatcakes", sku="BAKE-OAT", barcode="4000000000028")
    ProductFactory(name="Whole milk", sku="MILK-WHOLE", barcode="4000000000035")
    ProductFactory(name="Cheesecake", sku="CAKE-1", barcode=None)


def test_a_scanned_barcode_finds_exactly_its_product(catalogue):
    assert names("4000000000028") == ["oatcakes"]


def test_an_exact_sku_wins_over_names_starting_with_it(catalogue):
    assert names("cake-1") == ["Cheesecake"]


def test_names_starting_with_the_query_come_alphabetically_whatever_their_case(catalogue):
    assert names("OAT") == ["Oat milk", "oatcakes"]


def test_a_sku_prefix_finds_products_when_no_name_starts_with_it(catalogue):
    assert names("milk-") == ["Oat milk", "Whole milk"]


def test_part_of_a_name_finds_it_on_postgresql(catalogue):
    assert connection.vendor == "postgresql"
    assert names("CAKES") == ["oatcakes"]
    assert names("eesec") == ["Cheesecake"]


def test_two_letters_only_match_the_start_of_a_name(catalogue):
    assert names("ak") == []


def test_search_respects_the_category_filter(catalogue):
    bakery = CategoryFactory(name="Bakery")
    ProductFactory(name="Oat bread", category=bakery)

    assert names("oat", category=bakery.pk) == ["Oat bread"]


def test_a_prefix_search_reads_one_page_through_the_name_index():
    for n in range(30):
        ProductFactory(name=f"Tea {n:02d}")

    with CaptureQueriesContext(connection) as queries:
        page = list(selectors.search_products("tea")[:5])

    assert [p.name for p in page] == ["Tea 00", "Tea 01", "Tea 02", "Tea 03", "Tea 04"]
    assert 'COLLATE "C"' in queries.captured_queries[-1]["sql"]


def test_low_stock_lists_levels_at_or_below_the_reorder_point(location):
    milk = ProductFactory(name="Milk", reorder_point=Decimal(5))
    tea = ProductFactory(name="Tea", reorder_point=Decimal(5))
    put_in_stock(milk, location, 5)
    put_in_stock(tea, location, 6)

    assert [level.product.name for level in selectors.low_stock()] == ["Milk"]


def test_valuation_sums_on_hand_times_cost_per_location_to_the_cent(location):
    other = LocationFactory(code="other", name="Other")
    put_in_stock(ProductFactory(cost=Decimal("0.3333")), location, 3)
    put_in_stock(ProductFactory(cost=Decimal("2.50")), other, "1.5")

    valuation = selectors.stock_valuation()

    assert [(row["code"], row["value"]) for row in valuation["locations"]] == [
        ("main", Decimal("1.00")),
        ("other", Decimal("3.75")),
    ]
    assert valuation["total"] == Decimal("4.75")
