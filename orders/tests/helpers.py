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


def dish_with_groups(location, *, price="12.00", **extra):
    """A menu dish with "Doneness" (exactly 1: Rare, Medium) and "Extras" (up to 3: Bacon +1.50 using 0.050 of a
    tracked ingredient, Cheese +1.00, Chips +2.00). Returns (dish, options by name, the ingredient)."""
    from orders.tests.factories import ModifierGroupFactory, ModifierOptionFactory

    extra.setdefault("category", CategoryFactory(name="Grill", station="grill"))
    dish = stocked_product(location, price=price, on_hand="0", kind=Product.Kind.MENU_ITEM, tracked=False, **extra)
    bacon = stocked_product(location, on_hand="5", kind=Product.Kind.INGREDIENT, name="Bacon rashers", price="0")
    doneness = ModifierGroupFactory(name="Doneness", min_choices=1, max_choices=1, sort_order=1)
    extras = ModifierGroupFactory(name="Extras", min_choices=0, max_choices=3, sort_order=2)
    doneness.products.add(dish)
    extras.products.add(dish)
    options = {
        "Rare": ModifierOptionFactory(group=doneness, name="Rare", sort_order=1),
        "Medium": ModifierOptionFactory(group=doneness, name="Medium", sort_order=2),
        "Bacon": ModifierOptionFactory(
            group=extras,
            name="Bacon",
            price_delta=Decimal("1.50"),
            ingredient=bacon,
            ingredient_quantity=Decimal("0.050"),
            sort_order=1,
        ),
        "Cheese": ModifierOptionFactory(group=extras, name="Cheese", price_delta=Decimal("1.00"), sort_order=2),
        "Chips": ModifierOptionFactory(group=extras, name="Chips", price_delta=Decimal("2.00"), sort_order=3),
        "Egg": ModifierOptionFactory(group=extras, name="Egg", price_delta=Decimal("0.80"), sort_order=4),
    }
    return dish, options, bacon
