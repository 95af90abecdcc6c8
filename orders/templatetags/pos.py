"""Template filters of the POS screens."""

from decimal import Decimal

from django import template

from core.money import money_text
from orders.forms import format_modifiers

register = template.Library()


@register.filter
def money(value) -> str:
    """An amount in the currency's smallest unit: 12.5000 → 12.50 (EUR), 1050.0000 → 1050 (IDR)."""
    if value in (None, ""):
        return ""
    return money_text(Decimal(str(value)))


@register.filter
def signed_money(value) -> str:
    """An amount with its sign, "+" included (a cash rounding: +0.02, -0.03); never "-0.00"."""
    if value in (None, ""):
        return ""
    return money_text(Decimal(str(value)), sign=True)


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


@register.simple_tag
def posted_value(posted, *parts) -> str:
    """What was typed into the field named by `parts` joined ("qty_", line.pk), when a refused form comes back."""
    if not posted:
        return ""
    return posted.get("".join(str(part) for part in parts), "")
