"""Money and quantities as Decimal, quantised to the currency's exponent with ROUND_HALF_UP (DESIGN.md §3.1)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

ZERO = Decimal("0")
MONEY_DIGITS = 14
MONEY_PLACES = 4  # stored precision; amounts are quantised to the currency's exponent before they are saved
QTY_DIGITS = 14
QTY_PLACES = 3


def currency_exponent() -> Decimal:
    return Decimal(1).scaleb(-settings.POS_CURRENCY_DECIMALS)


def quantize(amount: Decimal) -> Decimal:
    """Round to the currency's smallest unit, half up (2.675 → 2.68 for EUR, 1050.5 → 1051 for IDR)."""
    return Decimal(amount).quantize(currency_exponent(), rounding=ROUND_HALF_UP)


def to_decimal(value, *, field: str = "amount") -> Decimal:
    """Parse a user-supplied number strictly: no floats, no NaN or infinity."""
    from core.errors import DomainError

    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError(f"{value!r} is not a number.", code="invalid", fields={field: ["Not a number."]}) from None
    if not result.is_finite():
        raise DomainError("Numbers must be finite.", code="invalid", fields={field: ["Not a finite number."]})
    return result


def has_more_places_than_currency(amount: Decimal) -> bool:
    return amount != amount.quantize(currency_exponent(), rounding=ROUND_HALF_UP)
