"""Lines of an order: building them from the catalogue, adding, changing and re-pricing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from core.errors import Conflict
from core.inputs import clean_money, clean_quantity, clean_text, invalid
from core.money import ZERO, check_line_amount
from inventory.models import Product
from orders import queries
from orders.models import Order, OrderLine
from orders.services.access import lock_line, lock_order, order_lines
from orders.services.discounts import check_discount, discount_figures, discount_limit, recheck_discounts
from orders.services.modifiers import choose, groups_for
from orders.services.totals import (
    LINE_PRICE_FIELDS,
    ORDER_TOTAL_FIELDS,
    modifiers_price,
    price_state,
    reprice,
    save_prices,
)
from orders.services.validation import MAX_LINES, clean_discount
from orders.services.voids import audit_void, void_needs_manager
from staff.access import manager_approval
from staff.audit import audit

SELLABLE_KINDS = (Product.Kind.GOODS, Product.Kind.MENU_ITEM, Product.Kind.SERVICE, Product.Kind.GIFT_CARD)
GIFT_CARD_TAX_NAME = "No tax (gift card)"


def _gift_card_value(product: Product, line: NewLine, where: str) -> Decimal:
    """The face value of a gift card sold on a line: the amount entered at the till (no approval needed: it is
    money owed, not a price), else the product's price; never more than a card may hold (GIFT_CARD_MAX_BALANCE)."""
    value = product.price if line.unit_price is None else clean_money(line.unit_price, f"{where}.unit_price")
    if value <= 0:
        raise invalid("Enter the gift card's amount.", f"{where}.unit_price", code="required")
    limit = Decimal(settings.GIFT_CARD_MAX_BALANCE)
    if value > limit:
        raise invalid(f"A gift card holds at most {limit}.", f"{where}.unit_price", code="gift_card_limit")
    if line.discount_kind or line.modifiers:
        raise invalid("A gift card takes no discount or options.", f"{where}.discount")
    return value


@dataclass(frozen=True)
class NewLine:
    """A line to add to an order. `modifiers` are the ids of the chosen options of the product's modifier groups.
    `unit_price` overrides the catalogue price (needs a manager)."""

    product_id: int
    quantity: Decimal = Decimal(1)
    modifiers: list[int] = field(default_factory=list)
    note: str = ""
    course: int = 1
    unit_price: Decimal | None = None
    discount_kind: str = ""
    discount_value: Decimal = ZERO


class ChoicesWanted(Exception):
    """A product that offers modifier groups, added where the person is to choose first (the POS screen's product
    button or a scan): nothing was added. Carries the product and its groups (options in `.choices`) for the
    chooser."""

    def __init__(self, product: Product, groups: list):
        super().__init__(product.name)
        self.product, self.groups = product, groups


def build_lines(
    order: Order, new_lines: list[NewLine], *, user, approver=None, choose_first: bool = False
) -> list[OrderLine]:
    """Validate `new_lines` and turn them into unsaved OrderLines with the catalogue snapshot.

    Raises DomainError (code invalid / unknown_product / not_for_sale / modifier_required / modifier_excess)
    naming the offending field, and ApprovalRequired for a price override without a manager. With `choose_first`,
    a product that offers modifier groups raises ChoicesWanted instead (the screen shows its chooser)."""
    if not new_lines:
        raise invalid("Add at least one line.", "lines", code="required")
    if len(new_lines) > MAX_LINES:
        raise invalid(f"At most {MAX_LINES} lines at once.", "lines")
    ids = set()
    for i, line in enumerate(new_lines):
        if not isinstance(line.product_id, int) or isinstance(line.product_id, bool) or line.product_id <= 0:
            raise invalid("Unknown product.", f"lines[{i}].product", code="unknown_product")
        ids.add(line.product_id)
    products = queries.read_products(ids)
    offered = groups_for(list(products.values()))
    built = []
    for i, line in enumerate(new_lines):
        where = f"lines[{i}]"
        product = products.get(line.product_id)
        if product is None:
            raise invalid(f"Unknown product {line.product_id}.", f"{where}.product", code="unknown_product")
        if not product.active or product.kind not in SELLABLE_KINDS:
            raise invalid(f"{product.name} is not for sale.", f"{where}.product", code="not_for_sale")
        if choose_first and offered.get(product.pk):
            raise ChoicesWanted(product, offered[product.pk])
        quantity = clean_quantity(line.quantity, f"{where}.quantity", places=product.quantity_places)
        course = line.course
        if not isinstance(course, int) or isinstance(course, bool) or not (1 <= course <= 20):
            raise invalid("The course is a number from 1 to 20.", f"{where}.course")
        if product.kind == Product.Kind.GIFT_CARD:
            if quantity != quantity.to_integral_value():
                raise invalid("Whole cards only.", f"{where}.quantity")
            value = _gift_card_value(product, line, where)
            built.append(
                OrderLine(
                    order=order,
                    product=product,
                    name=product.name,
                    unit_price=value,
                    tax_rate_name=GIFT_CARD_TAX_NAME,
                    tax_rate_percent=ZERO,
                    prices_include_tax=order.location.prices_include_tax,
                    unit_cost=ZERO,
                    quantity=quantity,
                    modifiers=[],
                    note=clean_text(line.note, f"{where}.note"),
                    course=course,
                    added_by=user,
                )
            )
            continue
        kind, value = clean_discount(line.discount_kind, line.discount_value, f"{where}.discount")
        unit_price = product.price
        overridden = line.unit_price is not None and line.unit_price != product.price
        if line.unit_price is not None:
            unit_price = clean_money(line.unit_price, f"{where}.unit_price")
        modifiers = choose(product, offered.get(product.pk, []), line.modifiers, f"{where}.modifiers")
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
            built_line._approved_by = approved_by  # type: ignore[attr-defined]  # read by audit_new_lines
    return built


def audit_new_lines(order: Order, lines: list[OrderLine], user, approver=None) -> None:
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
            check_discount(
                order, user, approver, line.discount_amount, line.line_total + line.discount_amount, limit, line
            )


@transaction.atomic
def add_lines(
    order_id: int,
    *,
    user,
    lines: list[NewLine],
    approver=None,
    merge: bool = False,
    choose_first: bool = False,
) -> list[OrderLine]:
    """Add lines to an open or held order and re-price it; returns the lines added (or grown). With
    `choose_first` (a tap or a scan on the POS screen), a product offering modifier groups adds nothing and raises
    ChoicesWanted, so the screen can show its chooser.

    With `merge` (the POS screens always; the API when asked), a new line that is the same as a line already on
    the order adds its quantity to that line instead: same product, price, tax, options, note and course, no
    discount or price override on either, and the existing line still active and not sent to the kitchen."""
    order = lock_order(order_id, user)
    built = build_lines(order, lines, user=user, approver=approver, choose_first=choose_first)
    existing = order_lines(order)
    before = price_state(existing)
    grown: list[OrderLine] = []
    if merge:
        built, grown = _merge_into_existing(existing, built)  # grows the existing lines' quantities in place
    grown_ids = {line.pk for line in grown}
    discounts_before = discount_figures([line for line in existing if line.pk not in grown_ids])
    # Priced before they are written: the new lines are inserted with their amounts, and only the existing lines
    # whose amounts changed are updated (usually none: adding a line stays two writes, the line and the order).
    all_lines = [*existing, *built]
    reprice(order, all_lines)
    if order.discount_kind:  # without one, each new line's own discount is checked (audit_new_lines)
        recheck_discounts(order, all_lines, before=discounts_before, user=user, approver=approver)
    if built:
        OrderLine.objects.bulk_create(built)
    if grown:
        OrderLine.objects.bulk_update(grown, ["quantity"])
    save_prices(order, existing, before=before)
    audit_new_lines(order, built, user, approver)
    return [*grown, *built]


MERGE_KEY_FIELDS = ("product_id", "unit_price", "tax_rate_percent", "note", "course")


def _merge_key(line: OrderLine) -> tuple | None:
    if line.discount_kind or line.price_overridden:
        return None
    return (*(getattr(line, name) for name in MERGE_KEY_FIELDS), _choices(line.modifiers))


def _choices(modifiers: list[dict]) -> tuple:
    return tuple((m.get("option"), m["name"], Decimal(m["price"])) for m in modifiers or [])


def _merge_into_existing(existing: list[OrderLine], built: list[OrderLine]) -> tuple[list[OrderLine], list[OrderLine]]:
    """Split `built` into the lines still to create and the existing lines they grow (quantities added)."""
    open_lines: dict[tuple, OrderLine] = {}
    for line in existing:
        key = _merge_key(line)
        if key is not None and line.status == OrderLine.Status.ACTIVE and not line.sent_at:
            open_lines.setdefault(key, line)
    to_create, grown = [], {}
    for line in built:
        key = _merge_key(line)
        target = open_lines.get(key) if key is not None else None
        if target is None:
            to_create.append(line)
            continue
        quantity = clean_quantity(target.quantity + line.quantity, "quantity", places=line.product.quantity_places)
        check_line_amount(line.unit_price + modifiers_price(line.modifiers), quantity, field="quantity")
        target.quantity = quantity
        grown[target.pk] = target
    return to_create, list(grown.values())


@transaction.atomic
def change_line(
    line_id: int,
    *,
    user,
    quantity: Decimal | None = None,
    note: str | None = None,
    course: int | None = None,
    modifiers: list[int] | None = None,
    reason: str = "",
    approver=None,
) -> OrderLine:
    """Change a line's quantity, note, course or chosen options (`modifiers`: option ids, checked against the
    product's groups as when adding). A line sent to the kitchen can only be reduced (to
    change it otherwise, void it and add it again).

    Reducing a line that went to the kitchen or that someone else added is a void of the difference, with the
    void's rules: a manager approves, a reason is given, the removed quantity is kept as a voided line and audited
    as void_line. A change that makes the line's or the order's discount a larger share, over the user's limit,
    needs a manager again (see recheck_discounts). Raises DomainError (`invalid`), ApprovalRequired, Conflict
    (`line_sent`, `line_voided`)."""
    order, line, lines = lock_line(line_id, user)
    if quantity is not None:
        quantity = clean_quantity(quantity, places=line.product.quantity_places)
    cut = quantity is not None and quantity < line.quantity and void_needs_manager(line, user)
    if line.sent_at and (not cut or note is not None or course is not None or modifiers is not None):
        raise Conflict("This line went to the kitchen: void it and add a new one.", code="line_sent")
    approved_by = None
    if cut:
        approved_by = manager_approval(user, approver, "Reducing this line")
        reason = clean_text(reason, "reason", required=True)
    before = discount_figures(lines, line)
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
        line.modifiers = choose(
            line.product, groups_for([line.product]).get(line.product_id, []), modifiers, "modifiers"
        )
    check_line_amount(line.unit_price + modifiers_price(line.modifiers), line.quantity, field="quantity")
    reprice(order, lines)
    recheck_discounts(order, lines, line, before=before, user=user, approver=approver)
    save_prices(order, lines, extra_line_fields=["quantity", "note", "course", "modifiers"])
    if voided is not None:
        voided.save(force_insert=True)
        audit_void(order, line, voided, user=user, approved_by=approved_by, reason=reason, reduced_line=line.pk)
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
    order, line, lines = lock_line(line_id, user)
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
