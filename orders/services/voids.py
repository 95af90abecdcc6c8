"""Voiding a line or a whole order: who may, when a manager must approve, and the audit row."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.inputs import clean_text
from orders.models import Order, OrderLine
from orders.services.access import lock_line, lock_order, order_lines
from orders.services.totals import LINE_PRICE_FIELDS, ORDER_TOTAL_FIELDS, reprice
from staff.access import manager_approval
from staff.audit import audit


def void_needs_manager(line: OrderLine, user) -> bool:
    return bool(line.sent_at) or line.added_by_id != user.pk


def audit_void(order: Order, line: OrderLine, voided: OrderLine, *, user, approved_by, reason: str, **extra) -> None:
    """The audit row of a void: `voided` is the line that now carries the voided quantity (the line itself, or the
    part cut off a reduced line)."""
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
        sent=bool(line.sent_at),
        **extra,
    )


@transaction.atomic
def void_line(line_id: int, *, user, reason: str, approver=None) -> OrderLine:
    """Void a line with a reason. Staff may void their own lines not yet sent to the kitchen; any other line needs
    a manager. Audited as void_line."""
    reason = clean_text(reason, "reason", required=True)
    order, line, lines = lock_line(line_id, user)
    approved_by = manager_approval(user, approver, "Voiding this line") if void_needs_manager(line, user) else None
    line.status = OrderLine.Status.VOIDED
    line.void_reason = reason
    line.voided_by = user
    line.void_approved_by = approved_by
    reprice(order, lines)
    OrderLine.objects.bulk_update(lines, LINE_PRICE_FIELDS)
    line.save(update_fields=["status", "void_reason", "voided_by", "void_approved_by"])
    order.save(update_fields=ORDER_TOTAL_FIELDS)
    audit_void(order, line, line, user=user, approved_by=approved_by, reason=reason)
    return line


@transaction.atomic
def void_order(order_id: int, *, user, reason: str, approver=None) -> Order:
    """Void a whole open or held order. Needs a manager when any line went to the kitchen or was added by someone
    else. Audited as void_order."""
    reason = clean_text(reason, "reason", required=True)
    order = lock_order(order_id, user)
    lines = order_lines(order)
    active = [line for line in lines if line.status == OrderLine.Status.ACTIVE]
    needs_manager = any(void_needs_manager(line, user) for line in active) or order.staff_id != user.pk
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
