"""Template filters of the POS screens."""

from decimal import Decimal

from django import template

from core.money import quantize
from orders.forms import format_modifiers

register = template.Library()


@register.filter
def money(value) -> str:
    """An amount in the currency's smallest unit: 12.5000 → 12.50 (EUR), 1050.0000 → 1050 (IDR)."""
    if value in (None, ""):
        return ""
    return f"{quantize(Decimal(str(value))):f}"


@register.filter
def qty(value) -> str:
    """A quantity without trailing zeros: 2.000 → 2, 0.250 → 0.25."""
    if value in (None, ""):
        return ""
    number = Decimal(str(value)).normalize()
    return f"{number:f}"


@register.filter
def modifiers_text(modifiers) -> str:
    return format_modifiers(modifiers)
