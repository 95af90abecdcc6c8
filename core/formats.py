"""Amounts, numbers and dates as a language writes them, with Django's format localisation (django/conf/locale).

The currency is the installation's (POS_CURRENCY, with POS_CURRENCY_DECIMALS places); where its symbol goes and
which separators the number takes depend on the language: "Rp 125.000" in Indonesian, "1.234,50 €" in German,
"EUR 1,234.50" in English (the ISO code, as English receipts always printed it).

These are for people to read. What a script or a form reads back (data attributes, input values, the API) keeps
the plain "1234.50" of core.money.money_text.
"""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import formats, timezone, translation

from core.money import unsigned_zero

# The symbol a language puts with the amount; a currency missing here is written with its ISO code.
CURRENCY_SYMBOLS = {"EUR": "€", "IDR": "Rp", "USD": "$", "GBP": "£", "CHF": "CHF", "SGD": "S$", "MYR": "RM"}
# Where the symbol stands, per language: {n} the number, {s} the symbol. A language missing here writes "{c} {n}"
# with the ISO code (English).
CURRENCY_PATTERNS = {"de": "{n} {s}", "id": "{s} {n}"}


def _language(language: str | None) -> str:
    return (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]


def number(value, places: int | None = None, *, language: str | None = None) -> str:
    """A number with the language's decimal and thousands separators (grouped): 1234.5 → "1.234,5" (de)."""
    lang = _language(language)
    if lang == _language(None):  # the active language already: no switching back and forth
        return formats.number_format(Decimal(value), decimal_pos=places, use_l10n=True, force_grouping=True)
    with translation.override(lang):
        return formats.number_format(Decimal(value), decimal_pos=places, use_l10n=True, force_grouping=True)


def amount(value, *, language: str | None = None, sign: bool = False) -> str:
    """An amount without the currency, quantised to the currency's places, grouped: "1.234,50" (de), "125.000" (id
    with IDR), "1,234.50" (en). Never "-0,00"; `sign` writes "+" before a positive amount."""
    quantised = unsigned_zero(Decimal(str(value)))
    text = number(quantised, settings.POS_CURRENCY_DECIMALS, language=language)
    return f"+{text}" if sign and quantised > 0 else text


def money(value, *, language: str | None = None, currency: str | None = None) -> str:
    """An amount with its currency where the language puts it: "1.234,50 €", "Rp 125.000", "EUR 1,234.50"."""
    lang = _language(language)
    code = currency or settings.POS_CURRENCY
    quantised = unsigned_zero(Decimal(str(value)))
    text = number(quantised.copy_abs(), settings.POS_CURRENCY_DECIMALS, language=lang)
    pattern = CURRENCY_PATTERNS.get(lang)
    written = pattern.format(n=text, s=CURRENCY_SYMBOLS.get(code, code)) if pattern else f"{code} {text}"
    return f"-{written}" if quantised < 0 else written


def when(moment: datetime | None, *, language: str | None = None) -> str:
    """A moment in local time as the language writes a short date and time: "07.12.2026 14:05" (de)."""
    if moment is None:
        return ""
    lang = _language(language)
    with translation.override(lang):
        return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT", use_l10n=True)


def day(moment, *, language: str | None = None) -> str:
    """A date as the language writes it short: "07.12.2026" (de), "07/12/2026" (id)."""
    if moment is None:
        return ""
    lang = _language(language)
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment)
    with translation.override(lang):
        return formats.date_format(moment, "SHORT_DATE_FORMAT", use_l10n=True)
