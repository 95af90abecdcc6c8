"""Taking an order (or one of its lines) for a change: the row lock, the location check and the editable check."""

from __future__ import annotations

from core.errors import Conflict, NotFound
from orders.models import Order, OrderLine
from staff.access import check_location


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


def order_lines(order: Order) -> list[OrderLine]:
    """Every line of `order` (voided ones too) with its product, in the order they were added."""
    return list(order.lines.select_related("product").order_by("id"))


def lock_line(line_id: int, user) -> tuple[Order, OrderLine, list[OrderLine]]:
    order_id = OrderLine.objects.filter(pk=line_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound("Unknown order line.")
    order = lock_order(order_id, user)
    lines = order_lines(order)
    line = next(line for line in lines if line.pk == line_id)
    if line.status != OrderLine.Status.ACTIVE:
        raise Conflict("This line is voided.", code="line_voided")
    return order, line, lines
