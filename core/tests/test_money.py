from decimal import Decimal

from django.test import override_settings

from core.money import money_text, negated_text


@override_settings(POS_CURRENCY_DECIMALS=2)
def test_a_zero_is_never_written_with_a_minus_sign():
    assert money_text(Decimal("-0.00")) == "0.00"
    assert money_text(Decimal("-0.004")) == "0.00"
    assert negated_text("0.00") == "0.00"
    assert negated_text("12.50") == "-12.50"


@override_settings(POS_CURRENCY_DECIMALS=2)
def test_a_signed_amount_says_plus_only_when_positive_and_groups_thousands_when_asked():
    assert [money_text(Decimal(v), sign=True) for v in ("0.02", "-0.03", "0")] == ["+0.02", "-0.03", "0.00"]
    assert money_text(Decimal("1250"), grouped=True) == "1,250.00"
