"""Discounts on an order or a line, and the role limits over which a manager approves (and an audit row is
written)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction

from core.inputs import clean_text, invalid
from core.money import ZERO, quantize
from orders.models import Order, OrderLine
from orders.services.access import lock_order, order_lines
from orders.services.totals import LINE_PRICE_FIELDS, ORDER_TOTAL_FIELDS, reprice, save_prices
from orders.services.validation import clean_discount
from staff.access import manager_approval
from staff.audit import audit
from staff.roles import CASHIER, MANAGER, WAITER, has_role

# Largest discount (percent of what it applies to) each role may give without a manager's approval.
DEFAULT_DISCOUNT_LIMITS = {MANAGER: Decimal(100), CASHIER: Decimal(10), WAITER: Decimal(5)}


def discount_limit(user) -> Decimal:
    """The largest discount, in percent, `user` may give without approval (settings.POS_DISCOUNT_LIMITS)."""
    limits = {**DEFAULT_DISCOUNT_LIMITS, **getattr(settings, "POS_DISCOUNT_LIMITS", {})}
    if user.is_superuser:
        return Decimal(100)
    return max((Decimal(limit) for role, limit in limits.items() if has_role(user, role)), default=ZERO)


def discount_figures(lines: list[OrderLine], line: OrderLine | None = None) -> tuple[tuple, tuple]:
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


def recheck_discounts(order, lines, line=None, *, before: tuple, user, approver):
    """After a change, the order's discounts (together) and `line`'s own discount are checked again: one that went
    over the user's limit and grew needs a manager, and is audited. Returns the approver (or None)."""
    limit = discount_limit(user)
    after = discount_figures(lines, line)
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


def check_discount(order, user, approver, amount: Decimal, base: Decimal, limit: Decimal, obj):
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
    lines = order_lines(order)
    limit = discount_limit(user)
    before = discount_figures(lines)
    if line_id is not None:
        line = next((line for line in lines if line.pk == line_id), None)
        if line is None or line.status != OrderLine.Status.ACTIVE:
            raise invalid("Unknown or voided line.", "line")
        line.discount_kind, line.discount_value = kind, value
        reprice(order, lines)
        approved_by = check_discount(
            order, user, approver, line.discount_amount, line.line_total + line.discount_amount, limit, line
        ) or recheck_discounts(order, lines, before=before, user=user, approver=approver)
        if approved_by:
            order.discount_approved_by = approved_by
        OrderLine.objects.bulk_update(lines, [*LINE_PRICE_FIELDS, "discount_kind", "discount_value"])
        order.save(update_fields=[*ORDER_TOTAL_FIELDS, "discount_approved_by"])
        return order
    order.discount_kind, order.discount_value, order.discount_reason = kind, value, reason
    price = reprice(order, lines)
    order_discount = sum((p.order_discount for p in price.lines), ZERO)
    base = sum((p.line_total for p in price.lines), ZERO)
    order.discount_approved_by = check_discount(
        order, user, approver, order_discount, base, limit, order
    ) or recheck_discounts(order, lines, before=before, user=user, approver=approver)
    save_prices(
        order, lines, extra_order_fields=["discount_kind", "discount_value", "discount_reason", "discount_approved_by"]
    )
    return order
