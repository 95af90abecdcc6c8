"""Checks of an order's input that the plain cleaners of core.inputs do not cover: discounts and modifiers, and the
bounds every edge (screens, API serializers) shares."""

from __future__ import annotations

from decimal import Decimal

from core.inputs import clean_money, clean_text, invalid
from core.money import ZERO, to_decimal
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
            price = to_decimal(price, field=f"{field_name}[{i}].price")
        price = clean_money(price, f"{field_name}[{i}].price")
        cleaned.append({"name": name, "price": str(price)})
    return cleaned
