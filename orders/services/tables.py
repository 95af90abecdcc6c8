"""Where an order sits and how it is divided: moving it to another table, merging two orders, splitting one."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.inputs import clean_quantity, invalid
from core.money import quantize
from orders.models import Order, OrderLine, Table
from orders.services.access import lock_order, order_lines
from orders.services.discounts import discount_figures, recheck_discounts
from orders.services.totals import LINE_PRICE_FIELDS, ORDER_TOTAL_FIELDS, reprice, save_prices
from orders.services.validation import MAX_GUESTS


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
def merge_orders(*, source_id: int, target_id: int, user, approver=None) -> Order:
    """Move every line of `source` onto `target` (same location) and mark `source` merged into it.

    The discounts the lines bring are checked again on the target, together with its own: a merge that takes the
    target's discounts over the user's limit needs a manager (see recheck_discounts)."""
    if source_id == target_id:
        raise invalid("An order cannot be merged into itself.", "target")
    first, second = sorted([source_id, target_id])
    locked = {first: lock_order(first, user), second: lock_order(second, user)}  # pk order: no deadlock
    source, target = locked[source_id], locked[target_id]
    if source.location_id != target.location_id:
        raise invalid("Both orders must be at the same location.", "target")
    before = discount_figures(order_lines(target))
    OrderLine.objects.filter(order=source).update(order=target)
    target_lines = order_lines(target)
    reprice(target, target_lines)
    approved_by = recheck_discounts(target, target_lines, before=before, user=user, approver=approver)
    if approved_by:
        target.discount_approved_by = approved_by
    save_prices(target, target_lines, extra_order_fields=["discount_approved_by"] if approved_by else ())
    target.guest_count = min(target.guest_count + source.guest_count, MAX_GUESTS)
    target.save(update_fields=["guest_count"])
    reprice(source, [])
    source.status = Order.Status.MERGED
    source.merged_into = target
    source.closed_at = timezone.now()
    source.save(update_fields=[*ORDER_TOTAL_FIELDS, "status", "merged_into", "closed_at"])
    return target


@transaction.atomic
def split_order(order_id: int, *, user, quantities: dict[int, Decimal], approver=None) -> Order:
    """Move some lines (or part of their quantity) to a new order at the same table, e.g. for a guest who pays
    apart. `quantities` maps line id → quantity to move. Returns the new order. The order discount stays with the
    original order; a line's amount discount is divided between the two parts by quantity. Both orders' discounts
    are checked again: a split that makes either a larger share, over the user's limit, needs a manager (see
    recheck_discounts). To split a bill evenly instead, see pricing.split_evenly and take_payment's tenders."""
    order = lock_order(order_id, user)
    lines = order_lines(order)
    before = discount_figures(lines)
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
        service_charge_base=order.service_charge_base,
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
            moved_discount = None
            if line.discount_kind == Order.DiscountKind.AMOUNT:  # divided by quantity, the parts summing to it
                moved_discount = quantize(line.discount_value * quantity / line.quantity)
                line.discount_value -= moved_discount
            line.quantity -= quantity
            changed.append(line)
            copy = OrderLine(**{f.attname: getattr(line, f.attname) for f in OrderLine._meta.concrete_fields})
            copy.pk = None
            copy.id = None
            copy.order = new
            copy.quantity = quantity
            if moved_discount is not None:
                copy.discount_value = moved_discount
            created.append(copy)
    if len(moved) == len(by_id) and not changed:
        raise invalid("Leave at least one line on the original order.", "lines")
    if moved:
        OrderLine.objects.filter(pk__in=[line.pk for line in moved]).update(order=new)
    if created:
        OrderLine.objects.bulk_create(created)
    remaining = [line for line in lines if line not in moved]
    reprice(order, remaining)
    new_lines = order_lines(new)
    reprice(new, new_lines)
    approved_by = recheck_discounts(order, remaining, before=before, user=user, approver=approver)
    approved_by = recheck_discounts(new, new_lines, before=before, user=user, approver=approver) or approved_by
    approved_fields = []
    if approved_by:
        order.discount_approved_by = new.discount_approved_by = approved_by
        approved_fields = ["discount_approved_by"]
    OrderLine.objects.bulk_update(remaining, [*LINE_PRICE_FIELDS, "quantity", "discount_value"])
    order.save(update_fields=[*ORDER_TOTAL_FIELDS, *approved_fields])
    save_prices(new, new_lines, extra_order_fields=approved_fields)
    return new
