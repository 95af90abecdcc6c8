"""The one way to clean what a person or a program typed: ids, money, quantities, text.

Also the text of the request line: a NUL character (which PostgreSQL cannot store or compare) in the path or the
query string is refused with a clear 400 before any view sees it (RefuseNulCharactersMiddleware), search boxes get
their query through clean_search(), and id and choice filters of the query string through id_param() and
choice_param().

Every cleaner returns the clean value or raises DomainError (code "invalid", or "required" for a missing text) with
the field named, so the screens show the message beside the field and the API answers 400 with
{"code", "message", "fields"}. Two kinds of number come in: Decimals already parsed by a form or serializer
(`clean_money`, `clean_quantity`: what a sale takes) and raw input still to parse (`clean_amount`,
`clean_stock_quantity`: cash counts and floats, purchase costs, stock moves and counts).
"""

import unicodedata
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse

from core.errors import DomainError
from core.money import (
    QTY_PLACES,
    check_money,
    check_quantity,
    has_more_places_than_currency,
    quantize,
    to_decimal,
)

MAX_QUANTITY = Decimal("10000")  # one line of a sale
MAX_AMOUNT = Decimal("1000000000")  # one amount of a sale
QTY_STEP = Decimal(1).scaleb(-QTY_PLACES)
MAX_ID = 2**63 - 1  # bigint
SEARCH_MAX_LENGTH = 100


def invalid(message: str, field_name: str, code: str = "invalid") -> DomainError:
    return DomainError(message, code=code, fields={field_name: [message]})


def clean_id(value, field_name: str) -> int:
    """A row id: a positive whole number (an int, or its digits as text)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid("Not an id.", field_name)
    if isinstance(value, str):
        value = value.strip()
        if not is_whole_number(value):
            raise invalid("Not an id.", field_name)
        value = int(value)
    if not 0 < value <= MAX_ID:
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
    ledger's columns (DomainError "too_large" otherwise, core.money.check_quantity). `positive` refuses negatives
    (receipts, waste, transfers); `allow_zero` admits 0 (a counted empty shelf)."""
    qty = check_quantity(to_decimal(value, field=field), field=field)
    if qty != qty.quantize(QTY_STEP):
        raise invalid(f"{field.capitalize()} may have at most {QTY_PLACES} decimal places.", field)
    if qty == 0 and not allow_zero:
        raise invalid(f"{field.capitalize()} must not be zero.", field)
    if positive and qty < 0:
        raise invalid(f"{field.capitalize()} must not be negative.", field)
    return qty.quantize(QTY_STEP)


def clean_amount(value, *, field: str = "amount") -> Decimal:
    """A non-negative amount from raw input (a cost, a float, a pay-in) that fits the money columns (DomainError
    "too_large" otherwise, core.money.check_money) and has no more places than the currency."""
    amount = check_money(to_decimal(value, field=field), field=field)
    if amount < 0:
        raise invalid(f"{field.capitalize()} must not be negative.", field)
    if has_more_places_than_currency(amount):
        raise invalid(f"{field.capitalize()} has more decimal places than the currency.", field)
    return quantize(amount)


# --- The request line: search boxes, query-string filters, NUL characters ---------------------------------------


def clean_search(query) -> str:
    """A search box's text: control and unassigned characters dropped, spaces trimmed, at most SEARCH_MAX_LENGTH."""
    text = "".join(ch for ch in str(query or "") if unicodedata.category(ch) not in ("Cc", "Cs", "Cn"))
    return text.strip()[:SEARCH_MAX_LENGTH]


def is_whole_number(text: str) -> bool:
    """ "123", not "-1", "1.5", "" or "²" (str.isdigit admits superscripts and other digits int() refuses)."""
    return text.isascii() and text.isdigit()


def id_param(request, name: str) -> int | None:
    """An id filter from the query string (`?location=3`): None when absent, else a whole number up to the largest
    id a column holds; anything else is a 400 naming the parameter (never silently ignored)."""
    from rest_framework.exceptions import ValidationError

    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not is_whole_number(value) or int(value) > MAX_ID:
        raise ValidationError({name: ["Must be a whole number (an id)."]})
    return int(value)


def choice_param(request, name: str, choices) -> str | None:
    """A filter from the query string that is one of `choices` (`?status=open`): None when absent; anything else is
    a 400 naming the parameter."""
    from rest_framework.exceptions import ValidationError

    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise ValidationError({name: [f"One of: {', '.join(choices)}."]})
    return value


def _nul_in(request) -> str | None:
    """The name of the first part of the request line holding a NUL character, or None."""
    if "\x00" in request.path:
        return "path"
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return key.replace("\x00", "") or "query"
    return None


class RefuseNulCharactersMiddleware:
    """A 400 naming the parameter (the API's {"code", "message", "fields"} body under /api/) for a NUL character in
    the path or the query string."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = _nul_in(request)
        if where is None:
            return self.get_response(request)
        message = "The request holds a NUL character."
        if request.path.startswith("/api/"):
            body = {"code": "invalid", "message": message, "fields": {where: ["Must not contain NUL characters."]}}
            return JsonResponse(body, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


# --- Contact details: one normal form, so duplicates are found however they are typed ---------------------------

PHONE_MIN_DIGITS = 6
PHONE_MAX_DIGITS = 15  # E.164
PHONE_SEPARATORS = " -.()/\u00a0"
EMAIL_MAX_LENGTH = 254


def normal_phone(value) -> str:
    """A phone number's digits, with a leading + when it was typed with one ("+44 20-7946 0000" → "+442079460000";
    "00 44 20…" stays "004420…": no country rules are guessed). Spaces, dashes, dots, slashes and brackets are
    dropped; anything else is left in, so clean_phone() can refuse it. Search queries go through it too."""
    return "".join(ch for ch in str(value or "").strip() if ch not in PHONE_SEPARATORS)


def clean_phone(value, field_name: str = "phone") -> str:
    """A phone number in its normal form (normal_phone), "" when none was given; DomainError "invalid" when it is
    not 6 to 15 digits with an optional leading +."""
    if value is not None and not isinstance(value, str):
        raise invalid("Must be text.", field_name)
    phone = normal_phone(value)
    if not phone:
        return ""
    digits = phone[1:] if phone.startswith("+") else phone
    if not is_whole_number(digits):
        raise invalid("A phone number has digits only (spaces, dashes, brackets and a leading + are fine).", field_name)
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise invalid(f"A phone number has {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits.", field_name)
    return phone


def clean_email(value, field_name: str = "email") -> str:
    """An e-mail address, trimmed and lower-cased (as the unique constraint compares it), "" when none was given;
    DomainError "invalid" when it is not an address."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    email = clean_text(value, field_name, max_length=EMAIL_MAX_LENGTH).lower()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        raise invalid("Not an e-mail address.", field_name) from None
    return email
