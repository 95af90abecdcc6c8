"""Property tests of the stock services: after any sequence of adjustments, waste and transfers, every stock level
equals the sum of its ledger moves, a `block` product is never below zero, and a refused change writes nothing."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from inventory import services
from inventory.models import Product, StockLevel, StockMove
from inventory.selectors import ledger_mismatches
from inventory.tests.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db

quantities = st.integers(min_value=1, max_value=40).map(Decimal)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(0, 1), st.integers(-40, 40).map(Decimal)),
        st.tuples(st.just("waste"), st.integers(0, 1), st.integers(0, 1), quantities),
        st.tuples(st.just("transfer"), st.integers(0, 1), st.integers(0, 1), quantities),
    ),
    min_size=1,
    max_size=12,
)


def on_hand(product, location) -> Decimal:
    level = StockLevel.objects.filter(product=product, location=location).first()
    return level.on_hand if level else Decimal(0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_the_ledger_always_matches_stock_and_blocked_products_never_go_negative(steps, location):
    other = LocationFactory(code=f"wh-{StockMove.objects.count()}")
    products = [ProductFactory(stock_policy=Product.StockPolicy.BLOCK), ProductFactory(stock_policy="allow")]
    places = [location, other]
    expected = {(p.pk, place.pk): Decimal(0) for p in products for place in places}

    for kind, which, where, quantity in steps:
        product, here, there = products[which], places[where], places[1 - where]
        changes = {
            "adjust": {(product.pk, here.pk): quantity},
            "waste": {(product.pk, here.pk): -quantity},
            "transfer": {(product.pk, here.pk): -quantity, (product.pk, there.pk): quantity},
        }[kind]
        moves_before = StockMove.objects.count()
        try:
            if kind == "adjust":
                services.adjust_stock(product=product, location=here, delta=quantity, reason="property test")
            elif kind == "waste":
                services.record_waste(product=product, location=here, quantity=quantity)
            else:
                services.transfer_stock(product=product, source=here, destination=there, quantity=quantity)
        except DomainError:
            assert StockMove.objects.count() == moves_before, "a refused change wrote to the ledger"
            would_be = expected[(product.pk, here.pk)] + changes[(product.pk, here.pk)]
            assert (product.stock_policy == Product.StockPolicy.BLOCK and would_be < 0) or quantity == 0
            continue
        for key, delta in changes.items():
            expected[key] += delta

    assert ledger_mismatches() == []
    for (product_id, location_id), quantity in expected.items():
        assert on_hand(product_id, location_id) == quantity
    blocked = products[0]
    assert all(on_hand(blocked.pk, place.pk) >= 0 for place in places)
