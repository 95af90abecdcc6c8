"""The orders hot path's hand-written statements, each beside its ORM twin for the embedded SQLite database.

One function per statement; the PostgreSQL statement and the ORM query sit side by side and return the same
thing (posproject/tests/test_queries.py runs each on both databases and compares). Services call the public
function and never look at `connection.vendor` themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db import connection
from django.db.models import F
from django.db.models.functions import Collate, Upper

from core.sql import columns, instance
from inventory.models import Product, TaxRate
from inventory.services import recipe_exists

if TYPE_CHECKING:
    from inventory.services import ProductWithRecipe


def read_products(ids: set[int]) -> dict[int, ProductWithRecipe]:
    """The products of `ids` by id, each with its tax rate and `recipe_known` (whether it has a recipe: see
    inventory.services.consume_for_sale). Runs on every sale: one hand-written join on PostgreSQL."""
    if connection.vendor == "postgresql":
        return _read_products_postgresql(ids)
    return _read_products_orm(ids)


def _read_products_orm(ids: set[int]) -> dict[int, ProductWithRecipe]:
    return Product.objects.select_related("tax_rate").annotate(recipe_known=recipe_exists()).in_bulk(ids)


def _read_products_postgresql(ids: set[int]) -> dict[int, ProductWithRecipe]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns(Product, 'p')}, {columns(TaxRate, 't')}, "  # noqa: S608 - column lists from the models
            "EXISTS (SELECT 1 FROM inventory_recipeline r WHERE r.menu_item_id = p.id) "
            "FROM inventory_product p JOIN inventory_taxrate t ON t.id = p.tax_rate_id WHERE p.id = ANY(%s::bigint[])",
            [sorted(ids)],
        )
        rows = cursor.fetchall()
    products: dict[int, ProductWithRecipe] = {}
    for row in rows:
        product, end = instance(Product, row)
        product.tax_rate, end = instance(TaxRate, row, end)
        product.recipe_known = row[end]  # type: ignore[attr-defined]  # the twin of annotate(recipe_known=...)
        products[product.pk] = cast("ProductWithRecipe", product)
    return products


# --- Customer search keys -------------------------------------------------------------------------------------------
# Each is the expression of an index of migration 0007 on PostgreSQL: byte-ordered ("C" collation), so "keys starting
# with X, in order, first 20" is one index range that stops after 20 rows. SQLite compares text byte by byte already.


def customer_name_key() -> Collate:
    """UPPER(name), byte-ordered (customer_name_key_idx)."""
    return _byte_ordered(Upper("name"))


def customer_phone_key() -> Collate:
    """The phone as stored (digits, a leading +), byte-ordered (customer_phone_key_idx)."""
    return _byte_ordered(F("phone"))


def customer_email_key() -> Collate:
    """The e-mail as stored (lower-cased), byte-ordered (customer_email_key_idx)."""
    return _byte_ordered(F("email"))


def _byte_ordered(expression) -> Collate:
    return Collate(expression, "C" if connection.vendor == "postgresql" else "BINARY")
