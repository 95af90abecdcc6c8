"""The data and the calls that orders/tests/test_queries.py runs on both databases: each case builds the same
rows, calls one function of orders.queries and returns what it read as plain JSON values, so that the
PostgreSQL statement and its ORM twin can be compared field by field."""

from datetime import datetime
from decimal import Decimal

from inventory.models import Category, Product, RecipeLine, TaxRate
from orders import queries


def _values(obj) -> dict:
    """Every column of `obj` as [Python type, text], so that a value of another type (a float for a Decimal, a
    str for a datetime) counts as a difference; keys (which differ between two databases) only as set or not,
    times only as aware or not."""
    values = {}
    for f in obj._meta.concrete_fields:
        value = getattr(obj, f.attname)
        if f.primary_key or f.is_relation:
            values[f.attname] = value is not None
        elif isinstance(value, datetime):  # when the row was written: differs between the two runs
            values[f.attname] = [type(value).__name__, value.tzinfo is not None]
        else:
            values[f.attname] = [type(value).__name__, str(value)]
    return values


def _product_row(product: Product) -> dict:
    return {
        **_values(product),
        "tax_rate": _values(product.tax_rate),
        "tax_rate_matches": product.tax_rate.pk == product.tax_rate_id,
        "recipe_known": [type(product.recipe_known).__name__, product.recipe_known],
    }


def read_products() -> dict:
    """Goods, a menu item with a recipe, an inactive product, two tax rates, and one id that does not exist."""
    standard = TaxRate.objects.create(name="Standard", percent=Decimal("20"))
    reduced = TaxRate.objects.create(name="Reduced", percent=Decimal("5.5"))
    drinks = Category.objects.create(name="Drinks", station="bar")
    tea = Product.objects.create(
        sku="TEA", name="Tea", price=Decimal("2.50"), cost=Decimal("1.00"), tax_rate=standard, category=drinks
    )
    soup = Product.objects.create(
        sku="SOUP", name="Soup", kind=Product.Kind.MENU_ITEM, price=Decimal("6.00"), cost=0, tax_rate=reduced
    )
    carrot = Product.objects.create(
        sku="CARROT", name="Carrot", kind=Product.Kind.INGREDIENT, price=0, cost=Decimal("0.20"), tax_rate=reduced
    )
    RecipeLine.objects.create(menu_item=soup, ingredient=carrot, quantity=Decimal("2"))
    old = Product.objects.create(
        sku="OLD", name="Old", price=Decimal("1.00"), cost=0, tax_rate=standard, active=False, barcode="4006381333931"
    )
    ids = {tea.pk, soup.pk, carrot.pk, old.pk, old.pk + 1000}
    found = queries.read_products(ids)
    return {
        "ids": sorted(p.sku for p in found.values()),
        "keys_are_ids": all(pk == p.pk for pk, p in found.items()),
        "products": {p.sku: _product_row(p) for p in found.values()},
    }


CASES = {"read_products": read_products}
