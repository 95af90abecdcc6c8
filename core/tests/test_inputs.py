from decimal import Decimal

import pytest

from core.errors import DomainError
from core.inputs import clean_amount, clean_id, clean_money, clean_stock_quantity, clean_text


@pytest.mark.parametrize("value", ["12", 12, " 7 "])
def test_an_id_is_a_positive_whole_number(value):
    assert clean_id(value, "product") == int(str(value).strip())


@pytest.mark.parametrize("value", ["abc", "-1", 0, "1.5", None, True, 2**63, "١٢"])
def test_anything_else_is_not_an_id_and_names_the_field(value):
    with pytest.raises(DomainError) as error:
        clean_id(value, "product")
    assert error.value.code == "invalid" and "product" in error.value.fields


def test_text_is_stripped_and_refuses_nul_characters():
    assert clean_text("  table by the window ", "note") == "table by the window"
    with pytest.raises(DomainError):
        clean_text("a\x00b", "note")


def test_a_missing_required_text_is_reported_as_required():
    with pytest.raises(DomainError) as error:
        clean_text("   ", "reason", required=True)
    assert error.value.code == "required"


def test_raw_amounts_are_parsed_strictly_and_refuse_more_places_than_the_currency():
    assert clean_amount("12.50", field="opening_float") == Decimal("12.50")
    for bad in ("-1", "NaN", "1e400", "12.345", "ten"):
        with pytest.raises(DomainError):
            clean_amount(bad, field="opening_float")


def test_sale_money_takes_parsed_decimals_only():
    assert clean_money(Decimal("3.5"), "tip") == Decimal("3.50")
    with pytest.raises(DomainError):
        clean_money("3.50", "tip")


def test_stock_quantities_may_be_negative_only_when_asked():
    assert clean_stock_quantity("-2", field="delta", positive=False) == Decimal("-2.000")
    with pytest.raises(DomainError):
        clean_stock_quantity("-2", field="quantity")
