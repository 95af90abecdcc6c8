"""Every write to an order: open, add and change lines, hold and resume, void, discount, move, merge, split and send
to the kitchen. Screens, the API and the admin all call these.

Each service locks the order row (``select_for_update``) in its own transaction, checks the acting user may work
at the order's location, refuses to touch an order that is no longer open or held, and re-prices the order with
``orders.pricing`` before it returns. Privileged acts (voids, discounts over the role's limit, price overrides)
need a manager as approver and leave an ``AuditEvent``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.errors import Conflict, NotFound
from core.inputs import clean_money, clean_quantity, clean_text, invalid
from core.money import ZERO, check_line_amount, check_money, quantize
from core.sql import columns, insert_batch, instance
from inventory.models import Location, Product, TaxRate
from inventory.services import recipe_exists
from orders import pricing
from orders.models import KitchenTicket, Order, OrderLine, Table
from orders.signals import kitchen_tickets_sent
from staff.access import check_location, manager_approval
from staff.audit import audit
from staff.roles import CASHIER, MANAGER, WAITER, has_role

if TYPE_CHECKING:
    from inventory.services import ProductWithRecipe

MAX_LINES = 200
MAX_MODIFIERS = 20
MAX_GUESTS = 500
SELLABLE_KINDS = (Product.Kind.GOODS, Product.Kind.MENU_ITEM, Product.Kind.SERVICE)

# Largest discount (percent of what it applies to) each role may give without a manager's approval.
DEFAULT_DISCOUNT_LIMITS = {MANAGER: Decimal(100), CASHIER: Decimal(10), WAITER: Decimal(5)}


@dataclass(frozen=True)
class NewLine:
    """A line to add to an order. `unit_price` overrides the catalogue price (needs a manager)."""

    product_id: int
    quantity: Decimal = Decimal(1)
    modifiers: list[dict] = field(default_factory=list)  # [{"name": "extra cheese", "price": "0.50"}]
    note: str = ""
    course: int = 1
    unit_price: Decimal | None = None
    discount_kind: str = ""
    discount_value: Decimal = ZERO


# --- Validation shared by every edge (the plain cleaners are core.inputs') -------------------------------------


def clean_discount(kind: str, value: Decimal, field_name: str = "discount") -> tuple[str, Decimal]:
    if kind not in ("", pricing.PERCENT, pricing.AMOUNT):
        raise invalid("Discount kind is percent or amount.", f"{field_name}_kind")
    if not kind:
        return "", ZERO
    if kind == pricing.PERCENT:
        if not isinstance(value, Decimal) or not value.is_finite() or not (0 < value <= 100):
            raise invalid("A percent discount is more than 0 and at most 100.", f"{field_name}_value")
        if value != value.quantize(Decimal("0.01")):
            raise invalid("At most 2 decimal places.", f"{field_name}_value")
        return kind, value
    return kind, clean_money(value, f"{field_name}_value", allow_zero=False)


def clean_modifiers(modifiers, field_name: str) -> list[dict]:
    if not isinstance(modifiers, list | tuple):
        raise invalid("Modifiers are a list.", field_name)
    if len(modifiers) > MAX_MODIFIERS:
        raise invalid(f"At most {MAX_MODIFIERS} modifiers.", field_name)
    cleaned = []
    for i, modifier in enumerate(modifiers):
        if not isinstance(modifier, dict):
            raise invalid("A modifier has a name and a price.", f"{field_name}[{i}]")
        name = clean_text(modifier.get("name"), f"{field_name}[{i}].name", max_length=60, required=True)
        price = modifier.get("price", ZERO)
        if isinstance(price, str | int):
            from core.money import to_decimal

            price = to_decimal(price, field=f"{field_name}[{i}].price")
        price = clean_money(price, f"{field_name}[{i}].price")
        cleaned.append({"name": name, "price": str(price)})
    return cleaned


def modifiers_price(modifiers: list[dict]) -> Decimal:
    return sum((Decimal(m["price"]) for m in modifiers), ZERO)


def discount_limit(user) -> Decimal:
    """The largest discount, in percent, `user` may give without approval (settings.POS_DISCOUNT_LIMITS)."""
    limits = {**DEFAULT_DISCOUNT_LIMITS, **getattr(settings, "POS_DISCOUNT_LIMITS", {})}
    if user.is_superuser:
        return Decimal(100)
    return max((Decimal(limit) for role, limit in limits.items() if has_role(user, role)), default=ZERO)


# --- Pricing ---------------------------------------------------------------------------------------------------


def reprice(order: Order, lines: list[OrderLine]) -> pricing.OrderPrice:
    """Recompute the totals of `order` and of its `lines` in memory (voided lines count for nothing)."""
    active = [line for line in lines if line.status == OrderLine.Status.ACTIVE]
    price = pricing.price_order(
        [
            pricing.LineInput(
                unit_price=line.unit_price,
                quantity=line.quantity,
                tax_percent=line.tax_rate_percent,
                modifiers_price=modifiers_price(line.modifiers),
                discount_kind=line.discount_kind,
                discount_value=line.discount_value,
            )
            for line in active
        ],
        prices_include_tax=order.location.prices_include_tax,
        discount_kind=order.discount_kind,
        discount_value=order.discount_value,
        service_charge_percent=order.service_charge_percent,
    )
    for line, priced in zip(active, price.lines, strict=True):
        line.line_total = priced.line_total
        line.discount_amount = priced.discount
        line.tax_amount = priced.tax
        line.order_discount_amount = priced.order_discount
        line.service_charge_amount = priced.service_charge
        line.amount_due = priced.amount_due
        for amount in (priced.line_total, priced.tax, priced.amount_due):
            check_money(amount, field="lines")
    for line in lines:
        if line.status != OrderLine.Status.ACTIVE:
            line.line_total = line.discount_amount = line.tax_amount = ZERO
            line.order_discount_amount = line.service_charge_amount = line.amount_due = ZERO
    order.subtotal = price.subtotal
    order.discount_total = price.discount_total
    order.service_charge = price.service_charge
    order.tax_total = price.tax_total
    order.total = price.total
    for amount in (price.subtotal, price.tax_total, price.service_charge, price.total):
        check_money(amount, field="lines")
    return price


LINE_PRICE_FIELDS = [
    "line_total",
    "discount_amount",
    "tax_amount",
    "order_discount_amount",
    "service_charge_amount",
    "amount_due",
]
ORDER_TOTAL_FIELDS = ["subtotal", "discount_total", "service_charge", "tax_total", "total"]


def _price_state(lines: list[OrderLine]) -> dict[int, tuple]:
    """Each line's stored amounts, taken before repricing so that only the lines that changed are written back."""
    return {line.pk: tuple(getattr(line, f) for f in LINE_PRICE_FIELDS) for line in lines}


def _save_prices(
    order: Order, lines: list[OrderLine], extra_order_fields=(), extra_line_fields=(), before: dict | None = None
) -> None:
    """Write the repriced amounts of `lines` (only those that differ from `before`, when given) and the order's
    totals."""
    if before is not None:
        after = _price_state(lines)
        lines = [line for line in lines if before.get(line.pk) != after[line.pk]]
    if lines:
        OrderLine.objects.bulk_update(lines, [*LINE_PRICE_FIELDS, *extra_line_fields])
    order.save(update_fields=[*ORDER_TOTAL_FIELDS, *extra_order_fields])


# --- Opening orders and adding lines ---------------------------------------------------------------------------


def _service_charge_percent(location: Location, channel: str) -> Decimal:
    return location.service_charge_percent if channel == Order.Channel.DINE_IN else ZERO


def _read_products(ids: set[int]) -> dict[int, ProductWithRecipe]:
    """The products of `ids` with their tax rate, and `recipe_known` (whether each has a recipe: see
    inventory.services.consume_for_sale). On PostgreSQL one hand-written join: this runs on every sale."""
    if connection.vendor != "postgresql":
        return Product.objects.select_related("tax_rate").annotate(recipe_known=recipe_exists()).in_bulk(ids)
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


def build_lines(order: Order, new_lines: list[NewLine], *, user, approver=None) -> list[OrderLine]:
    """Validate `new_lines` and turn them into unsaved OrderLines with the catalogue snapshot.

    Raises DomainError (code invalid / unknown_product / not_for_sale) naming the offending field, and
    ApprovalRequired for a price override without a manager."""
    if not new_lines:
        raise invalid("Add at least one line.", "lines", code="required")
    if len(new_lines) > MAX_LINES:
        raise invalid(f"At most {MAX_LINES} lines at once.", "lines")
    ids = set()
    for i, line in enumerate(new_lines):
        if not isinstance(line.product_id, int) or isinstance(line.product_id, bool) or line.product_id <= 0:
            raise invalid("Unknown product.", f"lines[{i}].product", code="unknown_product")
        ids.add(line.product_id)
    products = _read_products(ids)
    built = []
    for i, line in enumerate(new_lines):
        where = f"lines[{i}]"
        product = products.get(line.product_id)
        if product is None:
            raise invalid(f"Unknown product {line.product_id}.", f"{where}.product", code="unknown_product")
        if not product.active or product.kind not in SELLABLE_KINDS:
            raise invalid(f"{product.name} is not for sale.", f"{where}.product", code="not_for_sale")
        quantity = clean_quantity(line.quantity, f"{where}.quantity", places=product.quantity_places)
        course = line.course
        if not isinstance(course, int) or isinstance(course, bool) or not (1 <= course <= 20):
            raise invalid("The course is a number from 1 to 20.", f"{where}.course")
        kind, value = clean_discount(line.discount_kind, line.discount_value, f"{where}.discount")
        unit_price = product.price
        overridden = line.unit_price is not None and line.unit_price != product.price
        if line.unit_price is not None:
            unit_price = clean_money(line.unit_price, f"{where}.unit_price")
        modifiers = clean_modifiers(line.modifiers, f"{where}.modifiers")
        check_line_amount(unit_price + modifiers_price(modifiers), quantity, field=f"{where}.quantity")
        built.append(
            OrderLine(
                order=order,
                product=product,
                name=product.name,
                unit_price=unit_price,
                tax_rate_name=product.tax_rate.name,
                tax_rate_percent=product.tax_rate.percent,
                prices_include_tax=order.location.prices_include_tax,
                unit_cost=product.cost,
                quantity=quantity,
                modifiers=modifiers,
                note=clean_text(line.note, f"{where}.note"),
                course=course,
                discount_kind=kind,
                discount_value=value,
                price_overridden=overridden,
                added_by=user,
            )
        )
    overrides = [line for line in built if line.price_overridden]
    if overrides:
        approved_by = manager_approval(user, approver, "Changing a price")
        for built_line in overrides:
            built_line._approved_by = approved_by  # type: ignore[attr-defined]  # read by _audit_new_lines
    return built


def _audit_new_lines(order: Order, lines: list[OrderLine], user, approver=None) -> None:
    limit = discount_limit(user)
    for line in lines:
        if line.price_overridden:
            audit(
                "price_override",
                actor=user,
                approver=line._approved_by,  # type: ignore[attr-defined]  # set by build_lines
                location_id=order.location_id,
                obj=line,
                order=str(order.uuid),
                product=line.product_id,
                catalogue_price=line.product.price,
                unit_price=line.unit_price,
            )
        if line.discount_kind:
            _check_discount(
                order, user, approver, line.discount_amount, line.line_total + line.discount_amount, limit, line
            )


def prepare_order(
    *,
    location: Location,
    user,
    lines: list[NewLine],
    channel: str = Order.Channel.RETAIL,
    table_id: int | None = None,
    guest_count: int = 1,
    note: str = "",
    approver=None,
) -> tuple[Order, list[OrderLine]]:
    """Validate and price a new order with its lines, without saving anything (see save_new_order)."""
    check_location(user, location.pk)
    if channel not in Order.Channel.values:
        raise invalid("Unknown channel.", "channel")
    if not isinstance(guest_count, int) or isinstance(guest_count, bool) or not (1 <= guest_count <= MAX_GUESTS):
        raise invalid(f"Guests are a number from 1 to {MAX_GUESTS}.", "guest_count")
    table = None
    if table_id is not None:
        table = Table.objects.filter(pk=table_id, location=location, active=True).first()
        if table is None:
            raise invalid("Unknown table at this location.", "table")
    order = Order(
        location=location,
        channel=channel,
        table=table,
        guest_count=guest_count,
        staff=user,
        note=clean_text(note, "note"),
        service_charge_percent=_service_charge_percent(location, channel),
    )
    order_lines = build_lines(order, lines, user=user, approver=approver) if lines else []
    reprice(order, order_lines)
    return order, order_lines


def save_new_order(order: Order, lines: list[OrderLine], *, user, approver=None) -> Order:
    """Insert an order prepared by prepare_order and its lines (one INSERT each); audit overrides/discounts."""
    insert_batch([order], (lines, {"order": order}))  # one round trip on PostgreSQL
    _audit_new_lines(order, lines, user, approver)
    return order


@transaction.atomic
def open_order(
    *,
    location_id: int,
    user,
    channel: str = Order.Channel.RETAIL,
    table_id: int | None = None,
    guest_count: int = 1,
    note: str = "",
    lines: Sequence[NewLine] = (),
    approver=None,
) -> Order:
    """Open an order, with its first lines if given. Raises DomainError for bad input, PermissionDenied when the
    user does not work at the location."""
    location = Location.objects.filter(pk=location_id, kind=Location.Kind.STORE, active=True).first()
    if location is None:
        raise NotFound("Unknown store.", fields={"location": ["Unknown store."]})
    order, order_lines = prepare_order(
        location=location,
        user=user,
        lines=list(lines),
        channel=channel,
        table_id=table_id,
        guest_count=guest_count,
        note=note,
        approver=approver,
    )
    return save_new_order(order, order_lines, user=user, approver=approver)


def lock_order(order_id, user, *, editable: bool = True) -> Order:
    """Lock an order row for the rest of the transaction. Raises NotFound, PermissionDenied, or Conflict when
    `editable` and the order is no longer open or held."""
    order = Order.objects.select_for_update(of=("self",)).select_related("location").filter(pk=order_id).first()
    if order is None:
        raise NotFound("Unknown order.")
    check_location(user, order.location_id)
    if editable and not order.is_editable:
        raise Conflict(f"This order is {order.get_status_display().lower()} and cannot be changed.", code="not_open")
    return order


def _lines(order: Order) -> list[OrderLine]:
    return list(order.lines.select_related("product").order_by("id"))


@transaction.atomic
def add_lines(order_id: int, *, user, lines: list[NewLine], approver=None) -> list[OrderLine]:
    """Add lines to an open or held order and re-price it."""
    order = lock_order(order_id, user)
    built = build_lines(order, lines, user=user, approver=approver)
    OrderLine.objects.bulk_create(built)
    all_lines = _lines(order)
    before = _price_state(all_lines)
    new_ids = {line.pk for line in built}
    discounts_before = _discount_figures([line for line in all_lines if line.pk not in new_ids])
    reprice(order, all_lines)
    if order.discount_kind:  # without one, each new line's own discount is checked (_audit_new_lines)
        _recheck_discounts(order, all_lines, before=discounts_before, user=user, approver=approver)
    _save_prices(order, all_lines, before=before)  # usually the new lines only: adding a line stays flat
    by_id = {line.pk: line for line in all_lines}
    for line in built:
        line.__dict__.update({f: getattr(by_id[line.pk], f) for f in LINE_PRICE_FIELDS})
    _audit_new_lines(order, built, user, approver)
    return built


def _lock_line(line_id: int, user) -> tuple[Order, OrderLine, list[OrderLine]]:
    order_id = OrderLine.objects.filter(pk=line_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound("Unknown order line.")
    order = lock_order(order_id, user)
    lines = _lines(order)
    line = next(line for line in lines if line.pk == line_id)
    if line.status != OrderLine.Status.ACTIVE:
        raise Conflict("This line is voided.", code="line_voided")
    return order, line, lines


@transaction.atomic
def change_line(
    line_id: int,
    *,
    user,
    quantity: Decimal | None = None,
    note: str | None = None,
    course: int | None = None,
    modifiers: list[dict] | None = None,
    reason: str = "",
    approver=None,
) -> OrderLine:
    """Change a line's quantity, note, course or modifiers. A line sent to the kitchen can only be reduced (to
    change it otherwise, void it and add it again).

    Reducing a line that went to the kitchen or that someone else added is a void of the difference, with the
    void's rules: a manager approves, a reason is given, the removed quantity is kept as a voided line and audited
    as void_line. A change that makes the line's or the order's discount a larger share, over the user's limit,
    needs a manager again (see _recheck_discounts). Raises DomainError (`invalid`), ApprovalRequired, Conflict
    (`line_sent`, `line_voided`)."""
    order, line, lines = _lock_line(line_id, user)
    if quantity is not None:
        quantity = clean_quantity(quantity, places=line.product.quantity_places)
    cut = quantity is not None and quantity < line.quantity and _void_needs_manager(line, user)
    if line.sent_at and (not cut or note is not None or course is not None or modifiers is not None):
        raise Conflict("This line went to the kitchen: void it and add a new one.", code="line_sent")
    approved_by = None
    if cut:
        approved_by = manager_approval(user, approver, "Reducing this line")
        reason = clean_text(reason, "reason", required=True)
    before = _discount_figures(lines, line)
    voided = (
        _split_off_void(line, line.quantity - quantity, user=user, reason=reason, approved_by=approved_by)
        if cut
        else None
    )
    if quantity is not None:
        line.quantity = quantity
    if note is not None:
        line.note = clean_text(note, "note")
    if course is not None:
        if not isinstance(course, int) or isinstance(course, bool) or not (1 <= course <= 20):
            raise invalid("The course is a number from 1 to 20.", "course")
        line.course = course
    if modifiers is not None:
        line.modifiers = clean_modifiers(modifiers, "modifiers")
    check_line_amount(line.unit_price + modifiers_price(line.modifiers), line.quantity, field="quantity")
    reprice(order, lines)
    _recheck_discounts(order, lines, line, before=before, user=user, approver=approver)
    _save_prices(order, lines, extra_line_fields=["quantity", "note", "course", "modifiers"])
    if voided is not None:
        voided.save(force_insert=True)
        audit(
            "void_line",
            actor=user,
            approver=approved_by,
            location_id=order.location_id,
            obj=voided,
            reason=reason,
            order=str(order.uuid),
            product=line.product_id,
            quantity=voided.quantity,
            reduced_line=line.pk,
            sent=bool(line.sent_at),
        )
    return line


def _split_off_void(line: OrderLine, quantity: Decimal, *, user, reason: str, approved_by) -> OrderLine:
    """An unsaved voided copy of `line` for `quantity` of it: what a reduction took away, as void reports show."""
    voided = OrderLine(**{f.attname: getattr(line, f.attname) for f in OrderLine._meta.concrete_fields})
    voided.pk = voided.id = None
    voided.quantity = quantity
    voided.status = OrderLine.Status.VOIDED
    voided.void_reason = reason
    voided.voided_by = user
    voided.void_approved_by = approved_by
    for name in LINE_PRICE_FIELDS:
        setattr(voided, name, ZERO)
    return voided


@transaction.atomic
def override_price(line_id: int, *, user, unit_price: Decimal, reason: str, approver=None) -> OrderLine:
    """Charge a line at another unit price. Needs a manager; audited as price_override."""
    reason = clean_text(reason, "reason", required=True)
    unit_price = clean_money(unit_price, "unit_price")
    order, line, lines = _lock_line(line_id, user)
    approved_by = manager_approval(user, approver, "Changing a price")
    previous = line.unit_price
    check_line_amount(unit_price + modifiers_price(line.modifiers), line.quantity, field="unit_price")
    line.unit_price = unit_price
    line.price_overridden = True
    reprice(order, lines)
    OrderLine.objects.bulk_update(lines, [*LINE_PRICE_FIELDS, "unit_price", "price_overridden"])
    order.save(update_fields=ORDER_TOTAL_FIELDS)
    audit(
        "price_override",
        actor=user,
        approver=approved_by,
        location_id=order.location_id,
        obj=line,
        reason=reason,
        order=str(order.uuid),
        previous_price=previous,
        unit_price=unit_price,
    )
    return line


# --- Holding, voiding, discounts -------------------------------------------------------------------------------


@transaction.atomic
def hold_order(order_id: int, *, user) -> Order:
    """Park an open order (a tab left for later)."""
    order = lock_order(order_id, user)
    if order.status == Order.Status.HELD:
        raise Conflict("This order is already held.", code="already_held")
    order.status = Order.Status.HELD
    order.save(update_fields=["status"])
    return order


@transaction.atomic
def resume_order(order_id: int, *, user) -> Order:
    order = lock_order(order_id, user)
    if order.status != Order.Status.HELD:
        raise Conflict("Only a held order can be resumed.", code="not_held")
    order.status = Order.Status.OPEN
    order.save(update_fields=["status"])
    return order


def _void_needs_manager(line: OrderLine, user) -> bool:
    return bool(line.sent_at) or line.added_by_id != user.pk


@transaction.atomic
def void_line(line_id: int, *, user, reason: str, approver=None) -> OrderLine:
    """Void a line with a reason. Staff may void their own lines not yet sent to the kitchen; any other line needs
    a manager. Audited as void_line."""
    reason = clean_text(reason, "reason", required=True)
    order, line, lines = _lock_line(line_id, user)
    approved_by = manager_approval(user, approver, "Voiding this line") if _void_needs_manager(line, user) else None
    line.status = OrderLine.Status.VOIDED
    line.void_reason = reason
    line.voided_by = user
    line.void_approved_by = approved_by
    reprice(order, lines)
    OrderLine.objects.bulk_update(lines, LINE_PRICE_FIELDS)
    line.save(update_fields=["status", "void_reason", "voided_by", "void_approved_by"])
    order.save(update_fields=ORDER_TOTAL_FIELDS)
    audit(
        "void_line",
        actor=user,
        approver=approved_by,
        location_id=order.location_id,
        obj=line,
        reason=reason,
        order=str(order.uuid),
        product=line.product_id,
        quantity=line.quantity,
        sent=bool(line.sent_at),
    )
    return line


@transaction.atomic
def void_order(order_id: int, *, user, reason: str, approver=None) -> Order:
    """Void a whole open or held order. Needs a manager when any line went to the kitchen or was added by someone
    else. Audited as void_order."""
    reason = clean_text(reason, "reason", required=True)
    order = lock_order(order_id, user)
    lines = _lines(order)
    active = [line for line in lines if line.status == OrderLine.Status.ACTIVE]
    needs_manager = any(_void_needs_manager(line, user) for line in active) or order.staff_id != user.pk
    approved_by = manager_approval(user, approver, "Voiding this order") if needs_manager else None
    for line in active:
        line.status = OrderLine.Status.VOIDED
        line.void_reason = reason
        line.voided_by = user
        line.void_approved_by = approved_by
    reprice(order, lines)
    if lines:
        OrderLine.objects.bulk_update(
            lines, [*LINE_PRICE_FIELDS, "status", "void_reason", "voided_by", "void_approved_by"]
        )
    order.status = Order.Status.VOIDED
    order.closed_at = timezone.now()
    order.save(update_fields=[*ORDER_TOTAL_FIELDS, "status", "closed_at"])
    audit(
        "void_order",
        actor=user,
        approver=approved_by,
        location_id=order.location_id,
        obj=order,
        reason=reason,
        lines=len(active),
        sent=sum(1 for line in active if line.sent_at),
    )
    return order


def _discount_figures(lines: list[OrderLine], line: OrderLine | None = None) -> tuple[tuple, tuple]:
    """What the discounts take off, of what, over how many lines: for the whole order (line and order discounts
    together, as one effective discount) and for `line` alone, from the amounts the lines hold now."""
    active = [item for item in lines if item.status == OrderLine.Status.ACTIVE]
    off = sum((item.discount_amount + item.order_discount_amount for item in active), ZERO)
    base = sum((item.line_total + item.discount_amount for item in active), ZERO)
    whole = (off, base, len(active))
    if line is None:
        return whole, (ZERO, ZERO, 1)
    return whole, (line.discount_amount, line.line_total + line.discount_amount, 1)


def _grew_over(limit: Decimal, before: tuple, after: tuple) -> bool:
    """Whether a discount went over `limit` percent and became a larger share than it was. Each line's amounts are
    rounded to the cent, so differences that rounding explains (a cent per line) do not count."""
    off, base, count = after
    if not base or not off:
        return False
    slack = Decimal(count) * Decimal(1).scaleb(-settings.POS_CURRENCY_DECIMALS)
    if off - base * limit / 100 <= slack:
        return False
    before_off, before_base, _ = before
    return not before_base or off - base * before_off / before_base > slack


def _recheck_discounts(order, lines, line=None, *, before: tuple, user, approver):
    """After a change, the order's discounts (together) and `line`'s own discount are checked again: one that went
    over the user's limit and grew needs a manager, and is audited. Returns the approver (or None)."""
    limit = discount_limit(user)
    after = _discount_figures(lines, line)
    grew = [i for i in (0, 1) if _grew_over(limit, before[i], after[i])]
    if not grew:
        return None
    off, base, _ = after[grew[0]]
    approved_by = manager_approval(user, approver, f"Discounts over {limit.normalize():f}%")
    audit(
        "discount_over_limit",
        actor=user,
        approver=approved_by,
        location_id=order.location_id,
        obj=line if grew[0] == 1 else order,
        order=str(order.uuid),
        amount=off,
        percent=str(quantize(off * 100 / base)),
        limit=limit,
        combined=grew[0] == 0,
    )
    return approved_by


def _check_discount(order, user, approver, amount: Decimal, base: Decimal, limit: Decimal, obj):
    """Over the role's limit a discount needs a manager, and is audited. Returns the approver (or None)."""
    if not amount or not base:
        return None
    percent = amount * 100 / base
    if percent <= limit:
        return None
    approved_by = manager_approval(user, approver, f"A discount over {limit.normalize():f}%")
    audit(
        "discount_over_limit",
        actor=user,
        approver=approved_by,
        location_id=order.location_id,
        obj=obj,
        reason=order.discount_reason if obj is order else "",
        order=str(order.uuid),
        amount=amount,
        percent=str(quantize(percent)),
        limit=limit,
    )
    return approved_by


@transaction.atomic
def apply_discount(
    order_id: int,
    *,
    user,
    kind: str,
    value: Decimal,
    reason: str = "",
    line_id: int | None = None,
    approver=None,
) -> Order:
    """Give a discount on the order or on one line (`line_id`): a percent or an amount; kind "" removes it.

    A discount over the user's role limit (see discount_limit) needs a manager and is audited."""
    kind, value = clean_discount(kind, value)
    reason = clean_text(reason, "reason", required=bool(kind))
    order = lock_order(order_id, user)
    lines = _lines(order)
    limit = discount_limit(user)
    before = _discount_figures(lines)
    if line_id is not None:
        line = next((line for line in lines if line.pk == line_id), None)
        if line is None or line.status != OrderLine.Status.ACTIVE:
            raise invalid("Unknown or voided line.", "line")
        line.discount_kind, line.discount_value = kind, value
        reprice(order, lines)
        approved_by = _check_discount(
            order, user, approver, line.discount_amount, line.line_total + line.discount_amount, limit, line
        ) or _recheck_discounts(order, lines, before=before, user=user, approver=approver)
        if approved_by:
            order.discount_approved_by = approved_by
        OrderLine.objects.bulk_update(lines, [*LINE_PRICE_FIELDS, "discount_kind", "discount_value"])
        order.save(update_fields=[*ORDER_TOTAL_FIELDS, "discount_approved_by"])
        return order
    order.discount_kind, order.discount_value, order.discount_reason = kind, value, reason
    price = reprice(order, lines)
    order_discount = sum((p.order_discount for p in price.lines), ZERO)
    base = sum((p.line_total for p in price.lines), ZERO)
    order.discount_approved_by = _check_discount(
        order, user, approver, order_discount, base, limit, order
    ) or _recheck_discounts(order, lines, before=before, user=user, approver=approver)
    _save_prices(
        order, lines, extra_order_fields=["discount_kind", "discount_value", "discount_reason", "discount_approved_by"]
    )
    return order


# --- Tables, merge, split --------------------------------------------------------------------------------------


@transaction.atomic
def move_order(order_id: int, *, user, table_id: int | None) -> Order:
    """Move an order to another table at the same location (None: no table)."""
    order = lock_order(order_id, user)
    table = None
    if table_id is not None:
        table = Table.objects.filter(pk=table_id, location_id=order.location_id, active=True).first()
        if table is None:
            raise invalid("Unknown table at this location.", "table")
    order.table = table
    order.save(update_fields=["table"])
    return order


@transaction.atomic
def merge_orders(*, source_id: int, target_id: int, user) -> Order:
    """Move every line of `source` onto `target` (same location) and mark `source` merged into it."""
    if source_id == target_id:
        raise invalid("An order cannot be merged into itself.", "target")
    first, second = sorted([source_id, target_id])
    locked = {first: lock_order(first, user), second: lock_order(second, user)}  # pk order: no deadlock
    source, target = locked[source_id], locked[target_id]
    if source.location_id != target.location_id:
        raise invalid("Both orders must be at the same location.", "target")
    OrderLine.objects.filter(order=source).update(order=target)
    target_lines = _lines(target)
    reprice(target, target_lines)
    _save_prices(target, target_lines)
    target.guest_count = min(target.guest_count + source.guest_count, MAX_GUESTS)
    target.save(update_fields=["guest_count"])
    reprice(source, [])
    source.status = Order.Status.MERGED
    source.merged_into = target
    source.closed_at = timezone.now()
    source.save(update_fields=[*ORDER_TOTAL_FIELDS, "status", "merged_into", "closed_at"])
    return target


@transaction.atomic
def split_order(order_id: int, *, user, quantities: dict[int, Decimal]) -> Order:
    """Move some lines (or part of their quantity) to a new order at the same table, e.g. for a guest who pays
    apart. `quantities` maps line id → quantity to move. Returns the new order. The order discount stays with the
    original order. To split a bill evenly instead, see pricing.split_evenly and take_payment's tenders."""
    order = lock_order(order_id, user)
    lines = _lines(order)
    by_id = {line.pk: line for line in lines if line.status == OrderLine.Status.ACTIVE}
    if not quantities:
        raise invalid("Choose the lines to move.", "lines", code="required")
    new = Order(
        location=order.location,
        channel=order.channel,
        table=order.table,
        guest_count=1,
        staff=user,
        service_charge_percent=order.service_charge_percent,
    )
    new.save(force_insert=True)
    moved, changed, created = [], [], []
    for line_id, quantity in quantities.items():
        line = by_id.get(line_id)
        if line is None:
            raise invalid(f"Unknown or voided line {line_id}.", "lines")
        quantity = clean_quantity(quantity, f"lines[{line_id}].quantity", places=line.product.quantity_places)
        if quantity > line.quantity:
            raise invalid(f"Line {line_id} has only {line.quantity.normalize():f}.", f"lines[{line_id}].quantity")
        if quantity == line.quantity:
            line.order = new
            moved.append(line)
        else:
            line.quantity -= quantity
            changed.append(line)
            copy = OrderLine(**{f.attname: getattr(line, f.attname) for f in OrderLine._meta.concrete_fields})
            copy.pk = None
            copy.id = None
            copy.order = new
            copy.quantity = quantity
            created.append(copy)
    if len(moved) == len(by_id) and not changed:
        raise invalid("Leave at least one line on the original order.", "lines")
    if moved:
        OrderLine.objects.filter(pk__in=[line.pk for line in moved]).update(order=new)
    if created:
        OrderLine.objects.bulk_create(created)
    remaining = [line for line in lines if line not in moved]
    reprice(order, remaining)
    OrderLine.objects.bulk_update(remaining, [*LINE_PRICE_FIELDS, "quantity"])
    order.save(update_fields=ORDER_TOTAL_FIELDS)
    new_lines = _lines(new)
    reprice(new, new_lines)
    _save_prices(new, new_lines)
    return new


# --- Kitchen ---------------------------------------------------------------------------------------------------


@transaction.atomic
def send_to_kitchen(order_id: int, *, user) -> list[KitchenTicket]:
    """Send the order's new lines to the kitchen: one KitchenTicket per station (the product category's station)
    and course. Lines whose category has no station are not sent. Sends `kitchen_tickets_sent` in the transaction
    so that billing writes the tickets' print jobs with it."""
    order = lock_order(order_id, user)
    pending = list(
        order.lines.filter(status=OrderLine.Status.ACTIVE, sent_at__isnull=True)
        .exclude(product__category__station="")
        .exclude(product__category__isnull=True)
        .select_related("product__category")
        .order_by("course", "id")
    )
    if not pending:
        raise Conflict("Nothing new to send to the kitchen.", code="nothing_to_send")
    groups: dict[tuple[str, int], list[OrderLine]] = defaultdict(list)
    for line in pending:
        category = line.product.category
        assert category is not None  # lines without a category were excluded above
        groups[(category.station, line.course)].append(line)
    tickets = KitchenTicket.objects.bulk_create(
        [
            KitchenTicket(order=order, location_id=order.location_id, station=station, course=course, sent_by=user)
            for station, course in groups
        ]
    )
    now = timezone.now()
    for ticket, group in zip(tickets, groups.values(), strict=True):
        for line in group:
            line.kitchen_ticket = ticket
            line.sent_at = now
    OrderLine.objects.bulk_update(pending, ["kitchen_ticket", "sent_at"])
    kitchen_tickets_sent.send(sender=KitchenTicket, tickets=tickets, user=user)
    return tickets
