"""Small builders shared by the sales tests (orders and billing): stocked products, a till with an open session."""

from decimal import Decimal

from django.db import transaction

from billing.tests.factories import CashSessionFactory, RegisterFactory
from inventory.models import Product, StockMove
from inventory.services import StockChange, apply_stock_changes
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.services import NewLine


def stocked_product(location, *, on_hand="10", price="10.00", policy=Product.StockPolicy.BLOCK, **extra) -> Product:
    product = ProductFactory(price=Decimal(price), stock_policy=policy, **extra)
    if Decimal(on_hand):
        with transaction.atomic():
            apply_stock_changes(
                [StockChange(product.pk, location.pk, Decimal(on_hand))], reason=StockMove.Reason.PURCHASE
            )
    return product


def open_register(location, *, user=None, **extra):
    register = RegisterFactory(location=location, **extra)
    CashSessionFactory(register=register, **({"opened_by": user} if user else {}))
    return register


def line(product, quantity="1", **extra) -> NewLine:
    return NewLine(product_id=product.pk, quantity=Decimal(quantity), **extra)


def station_product(location, station: str, **extra) -> Product:
    return stocked_product(location, category=CategoryFactory(station=station), **extra)


def reduced_rate():
    return TaxRateFactory(name="Reduced", percent=Decimal("10.000"))
