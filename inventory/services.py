"""Every stock write goes through here. The ledger invariant (DESIGN.md §3.2) holds after each function:
for every product and location, StockLevel.on_hand == sum(StockMove.delta).
"""

import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import TYPE_CHECKING, TypedDict

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import Conflict, DomainError, NotFound
from core.inputs import clean_amount, clean_id, clean_stock_quantity, clean_text, invalid, is_whole_number
from core.money import (
    MONEY_PLACES,
    fits_quantity,
    quantize,
)
from core.notify import notify
from inventory import queries
from inventory.models import (
    NOT_STOCKED_KINDS,
    Location,
    LowStockAlert,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    RecipeLine,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMove,
    Supplier,
)


class OutOfStock(DomainError):
    code = "out_of_stock"
    status = 409


@dataclass
class StockChange:
    product_id: int
    location_id: int
    delta: Decimal


@dataclass
class StockResult:
    moves: list[StockMove] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # consume_for_sale: the cost of one unit of each sold product at the time of the sale (see `sale_unit_costs`)
    unit_costs: dict[int, Decimal] = field(default_factory=dict)


_POLICY_FIELDS = ("id", "name", "kind", "tracked", "stock_policy", "cost")


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class RecipeKnown(TypedDict):
        recipe_known: bool

    # A product read with `.annotate(recipe_known=recipe_exists())` (or its hand-written twin)
    ProductWithRecipe = WithAnnotations[Product, RecipeKnown]


def expand_recipes(items: list[tuple[int, Decimal]]) -> dict[int, Decimal]:
    """Turn (product id, quantity) pairs into the tracked products that actually leave the shelf.

    A menu item with a recipe consumes its ingredients instead of itself; untracked products and services move
    nothing.
    """
    return _expand_recipes(items)[0]


def sale_unit_costs(
    product_ids, recipes: "dict[int, list[RecipeLine]]", products: dict[int, Product]
) -> dict[int, Decimal]:
    """The cost of one unit of each product as sold now: for an item with a recipe, the sum of its ingredients'
    moving-average costs times the quantity each unit consumes (tracked or not: an untracked ingredient is still
    bought); otherwise the product's own moving-average cost. Unrounded, as costs are per unit."""
    costs = {}
    for product_id in product_ids:
        lines = recipes.get(product_id)
        if lines:
            cost = sum((line.quantity * line.ingredient.cost for line in lines), Decimal(0))
            costs[product_id] = cost.quantize(Decimal(1).scaleb(-MONEY_PLACES), rounding=ROUND_HALF_UP)
        else:
            costs[product_id] = products[product_id].cost
    return costs


def _expand_recipes(
    items: list[tuple[int, Decimal]],
    known: "dict[int, ProductWithRecipe] | None" = None,
    costs: dict[int, Decimal] | None = None,
) -> tuple[dict[int, Decimal], dict[int, Product]]:
    """expand_recipes, also returning the products it read (sold items and ingredients) for apply_stock_changes.
    `costs`, when given, is filled with `sale_unit_costs` of the items.

    `known`: the sold products as the caller read them, each with `recipe_known` (orders.services.build_lines):
    then neither they nor the recipes of products without one are read again."""
    product_ids = {product_id for product_id, _ in items}
    products: dict[int, Product]
    if known is not None and product_ids <= known.keys():
        products = dict(known)
        with_recipe = {pk for pk in product_ids if known[pk].recipe_known}
    else:
        products = Product.objects.only(*_POLICY_FIELDS).in_bulk(product_ids)
        with_recipe = product_ids
    unknown = sorted(product_ids - products.keys())
    if unknown:
        raise DomainError(
            f"Unknown product: {', '.join(map(str, unknown))}.", code="unknown_product", fields={"product": unknown}
        )
    recipes: dict[int, list[RecipeLine]] = defaultdict(list)
    if with_recipe:
        lines = RecipeLine.objects.filter(menu_item_id__in=with_recipe).select_related("ingredient")
        for line in lines.only("menu_item_id", "quantity", *(f"ingredient__{name}" for name in _POLICY_FIELDS)):
            recipes[line.menu_item_id].append(line)
            products.setdefault(line.ingredient_id, line.ingredient)

    if costs is not None:
        costs.update(sale_unit_costs(product_ids, recipes, products))
    needed: dict[int, Decimal] = defaultdict(Decimal)
    for product_id, quantity in items:
        product = products[product_id]
        if recipes.get(product_id):
            for line in recipes[product_id]:
                if line.ingredient.tracked:
                    needed[line.ingredient_id] += quantity * line.quantity
        elif product.has_stock:
            needed[product_id] += quantity
    return {product_id: qty for product_id, qty in needed.items() if qty}, products


def recipe_exists():
    """An annotation for Product querysets: whether the product has a recipe (`recipe_known` in consume_for_sale)."""
    return Exists(RecipeLine.objects.filter(menu_item=OuterRef("pk")))


_oversold: ContextVar[list | None] = ContextVar("tillhouse_oversold", default=None)


@contextmanager
def selling_below_zero() -> Iterator[list[dict]]:
    """Within this block a `block` product that would go below zero is sold anyway and named in the list it yields
    ({"product", "name", "on_hand"}) instead of raising OutOfStock: an offline sale, whose goods already left the
    store. Its stock level may then stay negative until it is restocked; later sales are blocked as before."""
    found: list[dict] = []
    token = _oversold.set(found)
    try:
        yield found
    finally:
        _oversold.reset(token)


def apply_stock_changes(
    changes: list[StockChange],
    *,
    reason: str,
    reference: str = "",
    user=None,
    note: str = "",
    unit_costs: dict[int, Decimal] | None = None,
    field: str = "quantity",
) -> StockResult:
    """Apply stock deltas and write their ledger moves, enforcing each product's negative-stock policy.

    Locks the affected StockLevel rows in primary-key order (no deadlock between two sales that touch the same
    products in opposite orders). Must run inside the caller's transaction. Raises OutOfStock, naming every
    product that would fall below zero, when a `block` product would, and DomainError "too_large" naming `field`
    when a stock level would grow past what its column holds; nothing is written then.
    """
    return _apply_stock_changes(
        changes,
        reason=reason,
        reference=reference,
        user=user,
        note=note,
        unit_costs=unit_costs,
        products={},
        field=field,
    )


def _apply_stock_changes(
    changes: list[StockChange],
    *,
    reason: str,
    reference: str,
    user,
    note: str,
    unit_costs: dict[int, Decimal] | None,
    products: dict[int, Product],
    field: str = "quantity",
) -> StockResult:
    totals: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for change in changes:
        totals[(change.product_id, change.location_id)] += change.delta
    totals = {key: delta for key, delta in totals.items() if delta}
    result = StockResult()
    if not totals:
        return result

    product_ids = {product_id for product_id, _ in totals}
    location_ids = {location_id for _, location_id in totals}
    missing = product_ids - products.keys()
    if missing:
        products = {**products, **Product.objects.only(*_POLICY_FIELDS).in_bulk(missing)}
    levels = queries.lock_levels(totals.keys(), product_ids, location_ids)
    if len(levels) < len(totals):
        StockLevel.objects.bulk_create(
            [
                StockLevel(
                    product_id=product_id,
                    location_id=location_id,
                    allow_negative=products[product_id].stock_policy != Product.StockPolicy.BLOCK,
                )
                for product_id, location_id in totals
                if (product_id, location_id) not in levels
            ],
            ignore_conflicts=True,
        )
        levels = queries.lock_levels(totals.keys(), product_ids, location_ids)

    short = []
    for (product_id, location_id), delta in totals.items():
        level = levels[(product_id, location_id)]
        product = products[product_id]
        new_on_hand = level.on_hand + delta
        if not fits_quantity(new_on_hand):
            message = f"{product.name} would have {new_on_hand:,} in stock, more than a stock level can hold."
            raise DomainError(message, code="too_large", fields={field: [message]})
        if delta < 0 and new_on_hand < 0:
            if product.stock_policy == Product.StockPolicy.BLOCK:
                oversold = _oversold.get()
                if oversold is None:
                    short.append(f"{product.name} ({level.on_hand.normalize():f} left)")
                else:
                    oversold.append({"product": product_id, "name": product.name, "on_hand": new_on_hand})
            elif product.stock_policy == Product.StockPolicy.WARN:
                result.warnings.append(f"{product.name} is below zero at {new_on_hand.normalize():f}.")
        level.on_hand = new_on_hand
        # A `block` product that was already negative (its policy changed later) may be restocked towards zero.
        level.allow_negative = product.stock_policy != Product.StockPolicy.BLOCK or new_on_hand < 0
    if short:
        raise OutOfStock("Not enough stock: " + ", ".join(short) + ".", fields={"stock": short})

    unit_costs = unit_costs or {}
    result.moves = [
        StockMove(
            product_id=product_id,
            location_id=location_id,
            delta=delta,
            reason=reason,
            reference=reference,
            note=note,
            user=user,
            unit_cost=unit_costs.get(product_id, products[product_id].cost),
        )
        for (product_id, location_id), delta in totals.items()
    ]
    queries.save_levels_and_moves(list(levels.values()), result.moves)
    return result


def consume_for_sale(
    *,
    location: Location,
    items: list[tuple[int, Decimal]],
    reference: str,
    user=None,
    products: "dict[int, ProductWithRecipe] | None" = None,
    savepoint: bool = True,
) -> StockResult:
    """Take sold items out of stock at a store, recipes expanded. Raises OutOfStock for a `block` product.

    `items` is (product id, quantity sold). Called inside the checkout's transaction. `products`: the sold
    products as read with `recipe_known=recipe_exists()`, so they are not read again. `savepoint=False` when the
    caller's own atomic block rolls back as a whole on any error (a sale does): one round trip less each way.
    """
    with transaction.atomic(savepoint=savepoint):
        costs: dict[int, Decimal] = {}
        needed, read = _expand_recipes(items, products, costs)
        result = _apply_stock_changes(
            [StockChange(product_id, location.pk, -qty) for product_id, qty in needed.items()],
            reason=StockMove.Reason.SALE,
            reference=reference,
            user=user,
            note="",
            unit_costs=None,
            products=read,
        )
        result.unit_costs = costs
        return result


@transaction.atomic
def return_to_stock(
    *,
    location: Location,
    items: list[tuple[int, Decimal]],
    reference: str,
    reason: str = StockMove.Reason.REFUND,
    user=None,
    unit_costs: dict[int, Decimal] | None = None,
) -> StockResult:
    """Put refunded or voided items back on the shelf, recipes expanded (the reverse of consume_for_sale).
    `unit_costs`: the cost each product left the shelf at (`sale_costs`), so that a refund reverses it; a product
    without one is booked at its moving-average cost."""
    needed, products = _expand_recipes(items)
    return _apply_stock_changes(
        [StockChange(product_id, location.pk, qty) for product_id, qty in needed.items()],
        reason=reason,
        reference=reference,
        user=user,
        note="",
        unit_costs=unit_costs,
        products=products,
    )


def sale_costs(reference: str) -> dict[int, Decimal]:
    """The unit cost each product left the shelf at in the sale booked under `reference` (its sale moves)."""
    return dict(
        StockMove.objects.filter(reference=reference, reason=StockMove.Reason.SALE).values_list(
            "product_id", "unit_cost"
        )
    )


# --- Input -------------------------------------------------------------------------------------------------------


def _product(product, *, field: str = "product") -> Product:
    if isinstance(product, Product):
        return product
    try:
        return Product.objects.get(pk=int(product))
    except (Product.DoesNotExist, TypeError, ValueError):
        raise DomainError(
            f"Unknown product {product!r}.", code="unknown_product", fields={field: ["No such product."]}
        ) from None


def _location(location, *, field: str = "location") -> Location:
    if isinstance(location, Location):
        return location
    try:
        return Location.objects.get(pk=int(location))
    except (Location.DoesNotExist, TypeError, ValueError):
        raise DomainError(
            f"Unknown location {location!r}.", code="unknown_location", fields={field: ["No such location."]}
        ) from None


def _stocked(product: Product, *, field: str = "product") -> Product:
    """Refuse products that have no stock of their own: untracked ones, services and menu items with a recipe."""
    if not product.has_stock:
        raise DomainError(
            f"{product.name} is not stock-tracked.", code="not_tracked", fields={field: ["Not stock-tracked."]}
        )
    if product.kind == Product.Kind.MENU_ITEM and product.recipe_lines.exists():
        raise DomainError(
            f"{product.name} is made from a recipe; its ingredients hold the stock.",
            code="not_tracked",
            fields={field: ["Made from a recipe; move its ingredients instead."]},
        )
    return product


# --- Adjustments, waste, transfers ------------------------------------------------------------------------------


@transaction.atomic
def adjust_stock(*, product, location, delta, reason: str, user=None) -> StockResult:
    """Correct the stock of one product at one location by `delta` (positive or negative), saying why.

    The reason is kept on the ledger move. Raises OutOfStock when a `block` product would go below zero and
    DomainError for bad input; nothing is written then.
    """
    product = _stocked(_product(product))
    location = _location(location)
    delta = clean_stock_quantity(delta, field="delta", positive=False)
    reason = clean_text(reason, "reason", required=True)
    return apply_stock_changes(
        [StockChange(product.pk, location.pk, delta)],
        reason=StockMove.Reason.ADJUSTMENT,
        reference=f"adjustment:{uuid.uuid4().hex[:12]}",
        note=reason,
        user=user,
        field="delta",
    )


@transaction.atomic
def record_waste(*, product, location, quantity, note: str = "", user=None) -> StockResult:
    """Take spoiled, broken or expired stock off the shelf. A `block` product cannot waste more than it has."""
    product = _stocked(_product(product))
    location = _location(location)
    quantity = clean_stock_quantity(quantity)
    return apply_stock_changes(
        [StockChange(product.pk, location.pk, -quantity)],
        reason=StockMove.Reason.WASTE,
        reference=f"waste:{uuid.uuid4().hex[:12]}",
        note=clean_text(note, "note"),
        user=user,
    )


@transaction.atomic
def transfer_stock(*, product, source, destination, quantity, note: str = "", user=None) -> StockResult:
    """Move stock between two locations: both legs are written in one transaction under one reference, or neither.

    The source's negative-stock policy applies (a `block` product cannot leave more than the source has).
    """
    product = _stocked(_product(product))
    source = _location(source, field="source")
    destination = _location(destination, field="destination")
    if source.pk == destination.pk:
        raise invalid("Source and destination must be different locations.", "destination")
    quantity = clean_stock_quantity(quantity)
    return apply_stock_changes(
        [StockChange(product.pk, source.pk, -quantity), StockChange(product.pk, destination.pk, quantity)],
        reason=StockMove.Reason.TRANSFER,
        reference=f"transfer:{uuid.uuid4().hex[:12]}",
        note=clean_text(note, "note") or f"{source.code} → {destination.code}",
        user=user,
    )


# --- Purchasing -------------------------------------------------------------------------------------------------


@dataclass
class PurchaseLineInput:
    product: int | Product
    quantity: Decimal | str | int
    unit_cost: Decimal | str | int


@transaction.atomic
def create_purchase_order(
    *,
    supplier,
    location,
    lines: list[PurchaseLineInput],
    user=None,
    reference: str = "",
    note: str = "",
    expected_at=None,
) -> PurchaseOrder:
    """Order stock from a supplier for a location. Each product appears once; quantities are positive."""
    if not isinstance(supplier, Supplier):
        supplier = Supplier.objects.filter(pk=supplier).first() if is_whole_number(str(supplier)) else None
        if supplier is None:
            raise DomainError("Unknown supplier.", code="unknown_supplier", fields={"supplier": ["No such supplier."]})
    location = _location(location)
    if not lines:
        raise invalid("A purchase order needs at least one line.", "lines")
    seen: set[int] = set()
    rows = []
    for index, line in enumerate(lines):
        product = _stocked(_product(line.product, field=f"lines[{index}].product"), field=f"lines[{index}].product")
        if product.pk in seen:
            raise invalid(f"{product.name} is on the order twice.", f"lines[{index}].product")
        seen.add(product.pk)
        rows.append(
            PurchaseOrderLine(
                product=product,
                quantity_ordered=clean_stock_quantity(line.quantity, field=f"lines[{index}].quantity"),
                unit_cost=clean_amount(line.unit_cost, field=f"lines[{index}].unit_cost"),
            )
        )
    order = PurchaseOrder.objects.create(
        supplier=supplier,
        location=location,
        created_by=user,
        reference=clean_text(reference, "reference", max_length=64),
        note=note or "",
        expected_at=expected_at,
    )
    for row in rows:
        row.purchase_order = order
    PurchaseOrderLine.objects.bulk_create(rows)
    return order


def moving_average_cost(*, on_hand: Decimal, cost: Decimal, received: Decimal, unit_cost: Decimal) -> Decimal:
    """The product's new unit cost after `received` units arrive at `unit_cost`.

    Stock already on hand (across every location) keeps its weight; when there is none, or it is negative, the new
    delivery sets the cost. Rounded half up to the currency's smallest unit.
    """
    if on_hand <= 0:
        return quantize(unit_cost)
    return quantize((on_hand * cost + received * unit_cost) / (on_hand + received))


@transaction.atomic
def receive_purchase_order(
    *,
    purchase_order,
    quantities: dict | None = None,
    user=None,
    delivery_note: str = "",
    allow_over_receipt: bool = False,
) -> PurchaseReceipt:
    """Book a delivery against a purchase order: stock goes up at the order's location, each product's cost
    becomes the moving average, and the order becomes partly or fully received.

    `quantities` maps purchase order line ids to the quantity delivered; None receives everything outstanding.
    Receiving more than was ordered is refused unless `allow_over_receipt`. A delivery note can be booked once per
    order. Raises Conflict for an order that is cancelled, fully received or not yet ordered.
    """
    order_id = purchase_order.pk if isinstance(purchase_order, PurchaseOrder) else purchase_order
    try:
        order = PurchaseOrder.objects.select_for_update().get(pk=order_id)
    except (PurchaseOrder.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Purchase order {order_id} does not exist.") from None
    if order.status not in (PurchaseOrder.Status.ORDERED, PurchaseOrder.Status.PARTIAL):
        raise Conflict(f"Purchase order {order.pk} is {order.get_status_display().lower()}; nothing can be received.")
    delivery_note = clean_text(delivery_note, "delivery_note", max_length=64)
    if delivery_note and order.receipts.filter(delivery_note=delivery_note).exists():
        raise Conflict(f"Delivery note {delivery_note} was already received on purchase order {order.pk}.")

    lines = {line.pk: line for line in order.lines.select_related("product").order_by("pk")}
    if quantities is None:
        received = {pk: line.quantity_ordered - line.quantity_received for pk, line in lines.items()}
        received = {pk: qty for pk, qty in received.items() if qty > 0}
    else:
        received = {}
        for key, value in quantities.items():
            line_id = int(key) if is_whole_number(str(key)) else None
            if line_id not in lines:
                raise invalid(f"Line {key} is not on purchase order {order.pk}.", "lines")
            qty = clean_stock_quantity(value, field=f"lines[{key}].quantity", allow_zero=True)
            if qty:
                received[line_id] = qty
    if not received:
        raise invalid("Nothing to receive.", "lines")

    over = []
    for line_id, qty in received.items():
        line = lines[line_id]
        if line.quantity_received + qty > line.quantity_ordered:
            over.append(
                f"{line.product.name}: {qty.normalize():f} received, "
                f"{(line.quantity_ordered - line.quantity_received).normalize():f} outstanding"
            )
    if over and not allow_over_receipt:
        raise DomainError(
            "More than was ordered: " + "; ".join(over) + ".", code="over_receipt", fields={"lines": over}
        )

    # Lock the products (their cost changes) and every stock level of them, in primary-key order, so that the
    # on-hand total the average is weighted by cannot move underneath us.
    product_ids = sorted({lines[line_id].product_id for line_id in received})
    products = {
        p.pk: p for p in Product.objects.select_for_update(no_key=True).filter(pk__in=product_ids).order_by("pk")
    }
    on_hand: defaultdict[int, Decimal] = defaultdict(Decimal)
    for level in StockLevel.objects.select_for_update().filter(product_id__in=product_ids).order_by("pk"):
        on_hand[level.product_id] += level.on_hand

    for line_id, qty in received.items():
        line = lines[line_id]
        product = products[line.product_id]
        product.cost = moving_average_cost(
            on_hand=on_hand[product.pk], cost=product.cost, received=qty, unit_cost=line.unit_cost
        )
        on_hand[product.pk] += qty
        line.quantity_received += qty
    Product.objects.bulk_update(products.values(), ["cost"])
    PurchaseOrderLine.objects.bulk_update([lines[line_id] for line_id in received], ["quantity_received"])

    receipt = PurchaseReceipt.objects.create(
        purchase_order=order,
        delivery_note=delivery_note,
        received_by=user,
        lines={str(line_id): str(qty) for line_id, qty in received.items()},
    )
    apply_stock_changes(
        [StockChange(lines[line_id].product_id, order.location_id, qty) for line_id, qty in received.items()],
        reason=StockMove.Reason.PURCHASE,
        reference=f"po:{order.pk}:receipt:{receipt.pk}",
        note=delivery_note,
        user=user,
        unit_costs={lines[line_id].product_id: lines[line_id].unit_cost for line_id in received},
    )
    complete = all(line.quantity_received >= line.quantity_ordered for line in lines.values())
    order.status = PurchaseOrder.Status.RECEIVED if complete else PurchaseOrder.Status.PARTIAL
    order.save(update_fields=["status"])
    return receipt


@transaction.atomic
def cancel_purchase_order(*, purchase_order, user=None) -> PurchaseOrder:
    """Cancel what is still outstanding. What was already received stays in stock."""
    order = PurchaseOrder.objects.select_for_update().get(pk=getattr(purchase_order, "pk", purchase_order))
    if order.status in (PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.CANCELLED):
        raise Conflict(f"Purchase order {order.pk} is already {order.get_status_display().lower()}.")
    order.status = PurchaseOrder.Status.CANCELLED
    order.save(update_fields=["status"])
    return order


# --- Stock counts -----------------------------------------------------------------------------------------------


def _countable_products():
    with_recipe = RecipeLine.objects.filter(menu_item=OuterRef("pk"))
    return (
        Product.objects.filter(tracked=True, active=True)
        .exclude(kind__in=NOT_STOCKED_KINDS)
        .exclude(Exists(with_recipe))
    )


@transaction.atomic
def start_stock_count(*, location, user=None, product_ids: list[int] | None = None, note: str = "") -> StockCount:
    """Open a count at a location and snapshot what the ledger expects there for each product.

    Counts every tracked, active product with stock of its own unless `product_ids` narrows it. One count may be
    open per location (Conflict otherwise). Sales during the count are fine: posting corrects by counted minus the
    snapshot, so the moves made meanwhile are kept.
    """
    location = _location(location)
    products = _countable_products()
    if product_ids is not None:
        wanted = {clean_id(pk, "products") for pk in product_ids}
        products = products.filter(pk__in=wanted)
        missing = wanted - set(products.values_list("pk", flat=True))
        if missing:
            raise invalid(f"Not countable or unknown: {', '.join(map(str, sorted(missing)))}.", "products")
    if StockCount.objects.filter(location=location, status=StockCount.Status.OPEN).exists():
        raise Conflict(f"A count is already open at {location.name}; post or cancel it first.")
    on_hand = StockLevel.objects.filter(product=OuterRef("pk"), location=location).values("on_hand")[:1]
    snapshot = products.annotate(expected=Coalesce(Subquery(on_hand), Value(Decimal(0)))).values_list("pk", "expected")
    try:
        with transaction.atomic():
            count = StockCount.objects.create(location=location, started_by=user, note=clean_text(note, "note"))
    except IntegrityError:
        raise Conflict(f"A count is already open at {location.name}; post or cancel it first.") from None
    StockCountLine.objects.bulk_create(
        [StockCountLine(stock_count=count, product_id=pk, expected=expected) for pk, expected in snapshot]
    )
    return count


def _open_count(stock_count) -> StockCount:
    count_id = getattr(stock_count, "pk", stock_count)
    try:
        count = StockCount.objects.select_for_update().get(pk=count_id)
    except (StockCount.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Stock count {count_id} does not exist.") from None
    if count.status != StockCount.Status.OPEN:
        raise Conflict(f"Stock count {count.pk} is already {count.get_status_display().lower()}.")
    return count


@transaction.atomic
def record_counted_quantities(*, stock_count, counted: dict, user=None) -> StockCount:
    """Enter what staff found on the shelf: `counted` maps product ids to quantities (0 or more)."""
    count = _open_count(stock_count)
    lines = {line.product_id: line for line in count.lines.all()}
    changed = []
    for key, value in counted.items():
        product_id = int(key) if is_whole_number(str(key)) else None
        if product_id not in lines:
            raise invalid(f"Product {key} is not part of stock count {count.pk}.", "counted")
        line = lines[product_id]
        line.counted = clean_stock_quantity(value, field=f"counted[{key}]", allow_zero=True)
        changed.append(line)
    StockCountLine.objects.bulk_update(changed, ["counted"])
    return count


@transaction.atomic
def post_stock_count(*, stock_count, user=None) -> StockResult:
    """Write one `count` move per counted product whose quantity differs from the snapshot, and close the count.

    Products not counted are left alone. A count can be posted once: a second post raises Conflict.
    """
    count = _open_count(stock_count)
    changes = [
        StockChange(line.product_id, count.location_id, line.counted - line.expected)
        for line in count.lines.exclude(counted=None).order_by("product_id")
        if line.counted != line.expected
    ]
    result = apply_stock_changes(
        changes, reason=StockMove.Reason.COUNT, reference=f"count:{count.pk}", note=count.note, user=user
    )
    count.status = StockCount.Status.POSTED
    count.posted_by = user
    count.posted_at = timezone.now()
    count.save(update_fields=["status", "posted_by", "posted_at"])
    return result


@transaction.atomic
def cancel_stock_count(*, stock_count, user=None) -> StockCount:
    count = _open_count(stock_count)
    count.status = StockCount.Status.CANCELLED
    count.save(update_fields=["status"])
    return count


# --- Low stock --------------------------------------------------------------------------------------------------


@transaction.atomic
def record_low_stock_alerts(*, day: date | None = None) -> dict[Location, list[LowStockAlert]]:
    """List every product at or below its reorder point, per location, once a day, and notify about the new ones.

    Safe to run twice: the second run of a day finds the alerts already there and sends nothing.
    """
    from inventory.selectors import low_stock

    day = day or timezone.localdate()
    # NO KEY UPDATE: serialises two runs without blocking sales, whose inserts take KEY SHARE on the location.
    locations = {loc.pk: loc for loc in Location.objects.select_for_update(no_key=True).order_by("pk")}
    existing = set(LowStockAlert.objects.filter(day=day).values_list("location_id", "product_id"))
    new = [
        LowStockAlert(
            day=day,
            location_id=level.location_id,
            product_id=level.product_id,
            product=level.product,
            on_hand=level.on_hand,
            reorder_point=level.product.reorder_point,
        )
        for level in low_stock()
        if (level.location_id, level.product_id) not in existing
    ]
    LowStockAlert.objects.bulk_create(new)
    by_location: dict[Location, list[LowStockAlert]] = defaultdict(list)
    for alert in new:
        by_location[locations[alert.location_id]].append(alert)
    for location, alerts in by_location.items():
        message = f"{len(alerts)} product(s) low on stock at {location.name}: " + ", ".join(
            f"{a.product.name} ({a.on_hand.normalize():f} ≤ {a.reorder_point.normalize():f})" for a in alerts[:20]
        )
        data = {
            "location": location.code,
            "day": day.isoformat(),
            "products": [{"sku": a.product.sku, "on_hand": str(a.on_hand)} for a in alerts],
        }
        transaction.on_commit(partial(notify, "low_stock", message, **data))
    return dict(by_location)
