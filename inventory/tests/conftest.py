from decimal import Decimal

import pytest
from django.db import transaction

from inventory.models import Product
from inventory.selectors import ledger_mismatches
from inventory.services import StockChange, apply_stock_changes
from inventory.tests.factories import LocationFactory, ProductFactory


@pytest.fixture(autouse=True)
def ledger_stays_balanced(request):
    """After every database test of this app, StockLevel.on_hand == sum(StockMove.delta) everywhere."""
    yield
    if request.node.get_closest_marker("django_db") or "db" in request.fixturenames:
        assert ledger_mismatches() == []


@pytest.fixture
def warehouse(db):
    return LocationFactory(code="warehouse", name="Warehouse")


@transaction.atomic
def put_in_stock(product, location, quantity) -> None:
    apply_stock_changes([StockChange(product.pk, location.pk, Decimal(quantity))], reason="purchase", reference="setup")


@pytest.fixture
def stocked(location):
    """A `block` product with 10 on hand at the main location, cost 4.00."""
    product = ProductFactory(name="Lemonade", cost=Decimal("4.00"), stock_policy=Product.StockPolicy.BLOCK)
    put_in_stock(product, location, 10)
    return product
