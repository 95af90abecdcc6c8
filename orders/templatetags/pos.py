"""Template filters of the POS screens."""

from decimal import Decimal

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.html import json_script

from core import formats
from core.money import money_text
from orders import js_strings
from orders.forms import format_modifiers

register = template.Library()


@register.filter
def money(value) -> str:
    """An amount in the currency's smallest unit: 12.5000 → 12.50 (EUR), 1050.0000 → 1050 (IDR)."""
    if value in (None, ""):
        return ""
    return money_text(Decimal(str(value)))


def _english() -> bool:
    return (translation.get_language() or "en").split("-")[0] == "en"


@register.filter
def lmoney(value) -> str:
    """An amount for people to read, in the request's language: "1050.00" in English (as `money`), "1.050,00" in
    German, "125.000" in Indonesian with IDR. Never in a form value or a data attribute (scripts read `money`)."""
    if value in (None, ""):
        return ""
    if _english():
        return money_text(Decimal(str(value)))
    return formats.amount(Decimal(str(value)))


@register.filter
def lmoney_cur(value) -> str:
    """An amount with its currency where the language puts it: "12.50 EUR" (English), "12,50 €", "Rp 125.000"."""
    if value in (None, ""):
        return ""
    if _english():
        return f"{money_text(Decimal(str(value)))} {settings.POS_CURRENCY}"
    return formats.money(Decimal(str(value)))


@register.filter
def lsigned_money(value) -> str:
    """`signed_money` for people to read, in the request's language."""
    if value in (None, ""):
        return ""
    if _english():
        return money_text(Decimal(str(value)), sign=True)
    return formats.amount(Decimal(str(value)), sign=True)


@register.filter
def lqty(value) -> str:
    """`qty` in the request's language: 0.25 → "0,25" in German."""
    text = qty(value)
    if not text or _english() or "." not in text:
        return text
    return formats.number(Decimal(text), len(text.split(".")[1]))


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


@register.simple_tag
def pos_js_strings():
    """The texts the POS scripts write, in the page's language, as the JSON block #pos-strings (orders.js_strings)."""
    return json_script(js_strings.translated(), "pos-strings")
