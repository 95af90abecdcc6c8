"""Checks of an order's input that the plain cleaners of core.inputs do not cover: discounts, and the
bounds every edge (screens, API serializers) shares."""

from __future__ import annotations

from decimal import Decimal

from core.inputs import clean_money, invalid
from core.money import ZERO
from orders import pricing

MAX_LINES = 200
MAX_MODIFIERS = 20
MAX_GUESTS = 500


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
