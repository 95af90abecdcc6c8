"""Re-pricing an order in memory with orders.pricing, and writing back only the amounts that changed."""

from __future__ import annotations

from decimal import Decimal

from core.money import ZERO, check_money
from orders import pricing
from orders.models import Order, OrderLine


def modifiers_price(modifiers: list[dict]) -> Decimal:
    return sum((Decimal(m["price"]) for m in modifiers), ZERO)


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
        service_charge_base=order.service_charge_base,
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


def price_state(lines: list[OrderLine]) -> dict[int, tuple]:
    """Each line's stored amounts, taken before repricing so that only the lines that changed are written back."""
    return {line.pk: tuple(getattr(line, f) for f in LINE_PRICE_FIELDS) for line in lines}


def save_prices(
    order: Order, lines: list[OrderLine], extra_order_fields=(), extra_line_fields=(), before: dict | None = None
) -> None:
    """Write the repriced amounts of `lines` (only those that differ from `before`, when given) and the order's
    totals."""
    if before is not None:
        after = price_state(lines)
        lines = [line for line in lines if before.get(line.pk) != after[line.pk]]
    if lines:
        OrderLine.objects.bulk_update(lines, [*LINE_PRICE_FIELDS, *extra_line_fields])
    order.save(update_fields=[*ORDER_TOTAL_FIELDS, *extra_order_fields])
