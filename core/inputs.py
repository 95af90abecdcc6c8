"""The one way to clean what a person or a program typed: ids, money, quantities, text.

Every cleaner returns the clean value or raises DomainError (code "invalid", or "required" for a missing text) with
the field named, so the screens show the message beside the field and the API answers 400 with
{"code", "message", "fields"}. Two kinds of number come in: Decimals already parsed by a form or serializer
(`clean_money`, `clean_quantity`: what a sale takes) and raw input still to parse (`clean_amount`,
`clean_stock_quantity`: cash counts and floats, purchase costs, stock moves and counts).
"""

from decimal import Decimal

from django.conf import settings

from core.errors import DomainError
from core.money import (
    MONEY_DIGITS,
    MONEY_PLACES,
    QTY_DIGITS,
    QTY_PLACES,
    has_more_places_than_currency,
    quantize,
    to_decimal,
)

MAX_QUANTITY = Decimal("10000")  # one line of a sale
MAX_AMOUNT = Decimal("1000000000")  # one amount of a sale
QTY_STEP = Decimal(1).scaleb(-QTY_PLACES)
QTY_LIMIT = Decimal(10) ** (QTY_DIGITS - QTY_PLACES)  # what the ledger's columns hold
MONEY_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)


def invalid(message: str, field_name: str, code: str = "invalid") -> DomainError:
    return DomainError(message, code=code, fields={field_name: [message]})


def clean_id(value, field_name: str) -> int:
    """A row id: a positive whole number (an int, or its digits as text)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid("Not an id.", field_name)
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            raise invalid("Not an id.", field_name)
        value = int(value)
    if not 0 < value < 2**63:
        raise invalid("Not an id.", field_name)
    return value


def clean_text(value, field_name: str, *, max_length: int = 200, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid("Must be text.", field_name)
    value = value.strip()
    if "\x00" in value:
        raise invalid("Text cannot contain NUL characters.", field_name)
    if len(value) > max_length:
        raise invalid(f"At most {max_length} characters.", field_name)
    if required and not value:
        raise invalid("This field is required.", field_name, code="required")
    return value


def clean_quantity(value, field_name: str = "quantity", *, places: int = 3) -> Decimal:
    """A positive quantity with at most `places` decimal places (a product's `quantity_places`: 0 for pieces)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise invalid("Not a number.", field_name)
    if value <= 0:
        raise invalid("The quantity must be more than zero.", field_name)
    if value > MAX_QUANTITY:
        raise invalid(f"The quantity cannot be more than {MAX_QUANTITY}.", field_name)
    if value != value.quantize(Decimal("0.001")):
        raise invalid("At most 3 decimal places.", field_name)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        message = "Whole pieces only." if places == 0 else f"At most {places} decimal places for this product."
        raise invalid(message, field_name)
    return value


def clean_money(value, field_name: str, *, allow_zero: bool = True) -> Decimal:
    """An amount of a sale (a tender, a tip, a price), quantised to the currency."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise invalid("Not a number.", field_name)
    if value < 0 or (value == 0 and not allow_zero):
        raise invalid("The amount must be positive." if not allow_zero else "Cannot be negative.", field_name)
    if value > MAX_AMOUNT:
        raise invalid(f"The amount cannot be more than {MAX_AMOUNT}.", field_name)
    if has_more_places_than_currency(value):
        raise invalid(f"At most {settings.POS_CURRENCY_DECIMALS} decimal places.", field_name)
    return quantize(value)


def clean_stock_quantity(value, *, field: str = "quantity", positive: bool = True, allow_zero: bool = False) -> Decimal:
    """A quantity from raw input for the stock ledger: a finite number with at most three decimals that fits the
    ledger's columns. `positive` refuses negatives (receipts, waste, transfers); `allow_zero` admits 0 (a counted
    empty shelf)."""
    qty = to_decimal(value, field=field)
    if abs(qty) >= QTY_LIMIT:
        raise invalid(f"{field.capitalize()} must be smaller than {QTY_LIMIT:,}.", field)
    if qty != qty.quantize(QTY_STEP):
        raise invalid(f"{field.capitalize()} may have at most {QTY_PLACES} decimal places.", field)
    if qty == 0 and not allow_zero:
        raise invalid(f"{field.capitalize()} must not be zero.", field)
    if positive and qty < 0:
        raise invalid(f"{field.capitalize()} must not be negative.", field)
    return qty.quantize(QTY_STEP)


def clean_amount(value, *, field: str = "amount") -> Decimal:
    """A non-negative amount from raw input (a cost, a float, a pay-in) that fits the money columns and has no
    more places than the currency."""
    amount = to_decimal(value, field=field)
    if amount < 0:
        raise invalid(f"{field.capitalize()} must not be negative.", field)
    if amount >= MONEY_LIMIT:
        raise invalid(f"{field.capitalize()} is too large.", field)
    if has_more_places_than_currency(amount):
        raise invalid(f"{field.capitalize()} has more decimal places than the currency.", field)
    return quantize(amount)
