"""Read-side queries shared by screens, API and reports (no writes)."""

import sys
from decimal import Decimal

from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum

from core.inputs import clean_search
from core.money import MONEY_DIGITS, MONEY_PLACES, QTY_DIGITS, QTY_PLACES, quantize
from inventory import queries
from inventory.models import Location, Product, StockLevel, StockMove

SEARCH_MIN_CONTAINS = 3  # shorter queries match by prefix only; a trigram index needs three characters


def search_products(query: str = "", *, category: int | None = None, active: bool | None = None) -> QuerySet[Product]:
    """Find products the way a till does: the first of these that matches anything wins.

    1. the exact barcode or sku (a scan, a typed code);
    2. names starting with the query, alphabetically (case-insensitive);
    3. skus starting with the query;
    4. on PostgreSQL and for three characters or more, names containing the query (pg_trgm).

    Each step is one index range (see migrations 0004 and 0005), so a page of results costs a few rows read even
    with 100,000 products; the catalogue listing with no query is ordered by name.
    """
    products = Product.objects.select_related("category", "tax_rate")
    if category is not None:
        products = products.filter(category_id=category)
    if active is not None:
        products = products.filter(active=active)
    query = clean_search(query)
    if not query:
        return products.order_by("name", "pk")

    exact = products.filter(Q(barcode=query) | Q(sku__iexact=query))
    if exact.exists():
        return exact.order_by("sku")
    key = query.upper()
    by_name = products.annotate(name_key=queries.name_key()).order_by("name_key", "pk")
    if key[-1] == chr(sys.maxunicode):  # no character sorts after it: a prefix match without an upper bound
        starting = by_name.filter(name_key__startswith=key)
    else:
        starting = by_name.filter(name_key__gte=key, name_key__lt=key[:-1] + chr(ord(key[-1]) + 1))
    if starting.exists():
        return starting
    by_sku = products.filter(sku__istartswith=query)
    if by_sku.exists():
        return by_sku.order_by("sku")
    if connection.vendor == "postgresql" and len(query) >= SEARCH_MIN_CONTAINS:
        return by_name.filter(name__icontains=query)
    return products.none()


def product_by_barcode(barcode: str) -> Product | None:
    return Product.objects.select_related("category", "tax_rate").filter(barcode=barcode.strip()).first()


def stock_on_hand(*, locations: QuerySet[Location] | None = None, product: int | None = None) -> QuerySet[StockLevel]:
    """Stock levels of tracked products, by location then product name."""
    levels = StockLevel.objects.select_related("product", "location").order_by("location__name", "product__name")
    if locations is not None:
        levels = levels.filter(location__in=locations)
    if product is not None:
        levels = levels.filter(product_id=product)
    return levels


_value = ExpressionWrapper(
    F("on_hand") * F("product__cost"),
    output_field=DecimalField(max_digits=QTY_DIGITS + MONEY_DIGITS, decimal_places=QTY_PLACES + MONEY_PLACES),
)


def stock_valuation(*, locations: QuerySet[Location] | None = None) -> dict:
    """Stock at cost: on hand × the product's moving-average cost, per location and in total, rounded to the
    currency. Negative stock counts negatively, so the figure matches the ledger."""
    levels = StockLevel.objects.exclude(on_hand=0)
    if locations is not None:
        levels = levels.filter(location__in=locations)
    rows = (
        levels.values("location_id", "location__code", "location__name")
        .annotate(value=Sum(_value), units=Sum("on_hand"))
        .order_by("location__name")
    )
    result = [
        {
            "location": row["location_id"],
            "code": row["location__code"],
            "name": row["location__name"],
            "units": row["units"],
            "value": quantize(row["value"] or Decimal(0)),
        }
        for row in rows
    ]
    return {"locations": result, "total": quantize(sum((row["value"] for row in result), Decimal(0)))}


def stock_value_lines(*, locations: QuerySet[Location] | None = None) -> QuerySet[StockLevel]:
    """Each stock level with its value at cost (`value`), for exports."""
    return stock_on_hand(locations=locations).exclude(on_hand=0).annotate(value=_value)


def low_stock(*, locations: QuerySet[Location] | None = None) -> QuerySet[StockLevel]:
    """Active tracked products whose stock at a location is at or below their reorder point."""
    levels = (
        StockLevel.objects.filter(product__active=True, product__tracked=True, on_hand__lte=F("product__reorder_point"))
        .select_related("product", "location")
        .order_by("location__name", "product__name")
    )
    if locations is not None:
        levels = levels.filter(location__in=locations)
    return levels


def product_moves(*, product: int, locations: QuerySet[Location] | None = None) -> QuerySet[StockMove]:
    """The ledger of one product, newest first."""
    moves = StockMove.objects.filter(product_id=product).select_related("location", "user", "product")
    if locations is not None:
        moves = moves.filter(location__in=locations)
    return moves.order_by("-created_at", "-id")


def ledger_mismatches() -> list[dict]:
    """Every (product, location) whose StockLevel.on_hand differs from the sum of its moves (DESIGN.md §3.2);
    an empty list means the invariant holds."""
    sums = {
        (row["product_id"], row["location_id"]): row["total"]
        for row in StockMove.objects.order_by().values("product_id", "location_id").annotate(total=Sum("delta"))
    }
    levels = {
        (row["product_id"], row["location_id"]): row["on_hand"]
        for row in StockLevel.objects.values("product_id", "location_id", "on_hand")
    }
    problems = []
    for key in sorted(sums.keys() | levels.keys()):
        on_hand = levels.get(key, Decimal(0))
        ledger = sums.get(key, Decimal(0))
        if on_hand != ledger:
            problems.append({"product": key[0], "location": key[1], "on_hand": on_hand, "ledger": ledger})
    return problems
