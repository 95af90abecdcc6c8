"""Money and quantities as Decimal, quantised to the currency's exponent with ROUND_HALF_UP (DESIGN.md §3.1)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

ZERO = Decimal("0")
MONEY_DIGITS = 14
MONEY_PLACES = 4  # stored precision; amounts are quantised to the currency's exponent before they are saved
QTY_DIGITS = 14
QTY_PLACES = 3

# The bounds of every money and quantity input, from the columns that store them: numeric(14,4) holds amounts
# below 10**10, numeric(14,3) quantities below 10**11. Inputs, and the stored results computed from them (a line's
# amount, an order's total, a stock level), are checked against these before they reach the database.
MONEY_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
QTY_LIMIT = Decimal(10) ** (QTY_DIGITS - QTY_PLACES)


def currency_exponent() -> Decimal:
    return Decimal(1).scaleb(-settings.POS_CURRENCY_DECIMALS)


def quantize(amount: Decimal) -> Decimal:
    """Round to the currency's smallest unit, half up (2.675 → 2.68 for EUR, 1050.5 → 1051 for IDR)."""
    return Decimal(amount).quantize(currency_exponent(), rounding=ROUND_HALF_UP)


def unsigned_zero(amount: Decimal) -> Decimal:
    """`amount` quantised, a zero never signed: -0.00 (a negated or subtracted nothing) is 0.00 on paper and screen."""
    amount = quantize(amount)
    return amount.copy_abs() if amount == 0 else amount


def money_text(amount: Decimal, *, sign: bool = False, grouped: bool = False) -> str:
    """An amount as printed: quantised, never "-0.00"; `sign` writes "+" before a positive amount (a rounding),
    `grouped` separates thousands (1,250.00)."""
    amount = unsigned_zero(Decimal(amount))
    text = f"{amount:,f}" if grouped else f"{amount:f}"
    return f"+{text}" if sign and amount > 0 else text


def negated_text(value) -> str:
    """A stored figure ("12.50") shown as taken off ("-12.50"); zero stays "0.00", never "-0.00"."""
    amount = Decimal(str(value))
    return money_text(-amount) if amount else money_text(amount)


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


def _too_large(field: str, message: str):
    from core.errors import DomainError

    return DomainError(message, code="too_large", fields={field: [message]})


def fits_money(amount: Decimal) -> bool:
    return abs(amount) < MONEY_LIMIT


def fits_quantity(quantity: Decimal) -> bool:
    return abs(quantity) < QTY_LIMIT


def check_money(amount: Decimal, *, field: str = "amount") -> Decimal:
    """`amount`, or DomainError "too_large" naming `field` when a money column cannot hold it."""
    if not fits_money(amount):
        raise _too_large(field, f"The amount must be smaller than {MONEY_LIMIT:,}.")
    return amount


def check_quantity(quantity: Decimal, *, field: str = "quantity") -> Decimal:
    """`quantity`, or DomainError "too_large" naming `field` when a quantity column cannot hold it."""
    if not fits_quantity(quantity):
        raise _too_large(field, f"The quantity must be smaller than {QTY_LIMIT:,}.")
    return quantity


def check_line_amount(unit_price: Decimal, quantity: Decimal, *, field: str = "quantity") -> Decimal:
    """The amount of a line, (unit price + modifiers) × quantity, or DomainError "too_large" naming `field` when
    it (or its tax and totals) would not fit a money column."""
    amount = unit_price * quantity
    if not fits_money(amount):
        raise _too_large(field, f"The line would come to {amount:,}, more than an amount can be ({MONEY_LIMIT:,}).")
    return amount
