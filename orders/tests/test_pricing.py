"""orders.pricing is pure: these tests need no database. Property tests (hypothesis) check the invariants of
DESIGN.md §3.1 over many generated orders."""

from decimal import Decimal

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.pricing import (
    LineInput,
    TenderError,
    TenderInput,
    allocate,
    price_order,
    refund_share,
    round_cash,
    settle,
    split_evenly,
    tip_from_percent,
)

D = Decimal

prices = st.decimals(min_value=D("0"), max_value=D("999.99"), places=2)
quantities = st.decimals(min_value=D("0.001"), max_value=D("50"), places=3)
tax_rates = st.sampled_from([D("0"), D("5.5"), D("7"), D("10"), D("19"), D("20"), D("21")])
discounts = st.one_of(
    st.tuples(st.just(""), st.just(D("0"))),
    st.tuples(st.just("percent"), st.decimals(min_value=D("0.01"), max_value=D("100"), places=2)),
    st.tuples(st.just("amount"), st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)),
)


@st.composite
def lines(draw):
    kind, value = draw(discounts)
    return LineInput(
        unit_price=draw(prices),
        quantity=draw(quantities),
        tax_percent=draw(tax_rates),
        modifiers_price=draw(st.sampled_from([D("0"), D("0.50"), D("1.25")])),
        discount_kind=kind,
        discount_value=value,
    )


orders = st.fixed_dictionaries(
    {
        "lines": st.lists(lines(), min_size=1, max_size=12),
        "prices_include_tax": st.booleans(),
        "discount": discounts,
        "service": st.sampled_from([D("0"), D("10"), D("12.5")]),
    }
)


def price(order):
    kind, value = order["discount"]
    return price_order(
        order["lines"],
        prices_include_tax=order["prices_include_tax"],
        discount_kind=kind,
        discount_value=value,
        service_charge_percent=order["service"],
    )


def cents(amount):
    return amount == amount.quantize(D("0.01"))


@settings(max_examples=300, deadline=None)
@given(orders)
def test_line_amounts_add_up_to_the_order_total(order):
    result = price(order)

    assert sum(line.amount_due for line in result.lines) == result.total
    expected = result.subtotal - result.discount_total + result.service_charge
    if not order["prices_include_tax"]:
        expected += result.tax_total
    assert result.total == expected


@settings(max_examples=300, deadline=None)
@given(orders)
def test_tax_per_rate_is_the_sum_of_the_lines_tax_at_that_rate(order):
    result = price(order)

    for rate, tax in result.tax_by_rate.items():
        assert tax == sum(
            p.tax for p, line in zip(result.lines, order["lines"], strict=True) if line.tax_percent == rate
        )
    assert sum(result.tax_by_rate.values()) == result.tax_total == sum(p.tax for p in result.lines)


@settings(max_examples=300, deadline=None)
@given(orders)
def test_rounding_neither_loses_nor_invents_money(order):
    result = price(order)

    for p, line in zip(result.lines, order["lines"], strict=True):
        exact_gross = (line.unit_price + line.modifiers_price) * line.quantity
        assert abs(p.gross - exact_gross) <= D("0.005")  # half a cent at most, per line
        assert 0 <= p.discount <= p.gross
        assert 0 <= p.net <= p.line_total
        assert all(cents(amount) for amount in (p.gross, p.discount, p.net, p.tax, p.service_charge, p.amount_due))
        rate = line.tax_percent
        exact_tax = p.net * rate / (100 + rate) if order["prices_include_tax"] else p.net * rate / 100
        assert abs(p.tax - exact_tax) <= D("0.005")
    order_discount = sum(p.order_discount for p in result.lines)
    assert result.discount_total == sum(p.discount for p in result.lines) + order_discount
    assert result.total >= 0


@given(st.decimals(min_value=D("0"), max_value=D("10000"), places=2), st.lists(prices, min_size=1, max_size=20))
def test_allocation_shares_exactly_the_amount_in_proportion(amount, weights):
    if sum(weights) == 0:
        amount = D("0")
    shares = allocate(amount, weights)

    assert sum(shares) == amount
    assert all(share >= 0 for share in shares)
    total = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        if total:
            assert abs(share - amount * weight / total) < D("0.01")


@given(st.decimals(min_value=D("0"), max_value=D("100000"), places=2), st.integers(min_value=1, max_value=30))
def test_an_even_split_adds_up_and_differs_by_at_most_one_cent(amount, parts):
    shares = split_evenly(amount, parts)

    assert len(shares) == parts
    assert sum(shares) == amount
    assert max(shares) - min(shares) <= D("0.01")


@given(
    st.decimals(min_value=D("0.01"), max_value=D("1000"), places=2),
    st.lists(st.decimals(min_value=D("0.001"), max_value=D("3"), places=3), min_size=1, max_size=6),
)
def test_refunding_a_line_in_parts_never_gives_back_more_than_was_paid(amount_due, parts):
    quantity = sum(parts)
    refunded = D("0")
    done = D("0")
    for part in parts:
        done += part
        cumulative = refund_share(amount_due=amount_due, quantity=quantity, refund_quantity=done, already=D("0"))
        assert cumulative >= refunded
        refunded = cumulative
    assert refunded == amount_due


def test_inclusive_tax_is_extracted_and_exclusive_tax_is_added():
    line = LineInput(unit_price=D("12.00"), quantity=D("1"), tax_percent=D("20"))

    inclusive = price_order([line], prices_include_tax=True)
    exclusive = price_order([line], prices_include_tax=False)

    assert (inclusive.total, inclusive.tax_total) == (D("12.00"), D("2.00"))
    assert (exclusive.total, exclusive.tax_total) == (D("14.40"), D("2.40"))


def test_half_a_cent_rounds_up():
    result = price_order([LineInput(D("0.25"), D("0.5"), D("0"))], prices_include_tax=True)

    assert result.total == D("0.13")


def test_an_order_discount_is_shared_over_lines_and_lowers_their_tax():
    result = price_order(
        [LineInput(D("10.00"), D("1"), D("20")), LineInput(D("20.00"), D("1"), D("10"))],
        prices_include_tax=True,
        discount_kind="percent",
        discount_value=D("10"),
    )

    assert [p.order_discount for p in result.lines] == [D("1.00"), D("2.00")]
    assert result.total == D("27.00")
    assert result.tax_by_rate == {D("20"): D("1.50"), D("10"): D("1.64")}


def test_an_amount_discount_never_makes_a_line_negative():
    result = price_order(
        [LineInput(D("5.00"), D("1"), D("20"), discount_kind="amount", discount_value=D("9"))], prices_include_tax=True
    )

    assert result.lines[0].line_total == 0
    assert result.total == 0


def test_service_charge_is_a_percent_of_the_net_before_exclusive_tax():
    result = price_order(
        [LineInput(D("100.00"), D("1"), D("10"))], prices_include_tax=False, service_charge_percent=D("12.5")
    )

    assert result.service_charge == D("12.50")
    assert result.total == D("122.50")


@pytest.mark.parametrize(
    ("include", "base", "service", "total"),
    [
        (False, "before_tax", "10.00", "120.00"),  # 100 net + 10 tax + 10% of 100
        (False, "after_tax", "11.00", "121.00"),  # ... + 10% of 110
        (True, "before_tax", "10.00", "120.00"),  # 110 with tax is 100 net: 10% of 100
        (True, "after_tax", "11.00", "121.00"),  # 10% of the 110 paid for the line
    ],
)
def test_the_service_charge_is_taken_of_the_lines_net_of_tax_or_with_tax_as_the_store_says(
    include, base, service, total
):
    price = "110.00" if include else "100.00"
    result = price_order(
        [LineInput(D(price), D("1"), D("10"))],
        prices_include_tax=include,
        service_charge_percent=D("10"),
        service_charge_base=base,
    )

    assert (result.service_charge, result.total, result.tax_total) == (D(service), D(total), D("10.00"))
    assert result.lines[0].service_charge == D(service)


def test_the_service_charge_after_tax_is_shared_over_the_lines_by_what_they_cost_with_tax():
    result = price_order(
        [LineInput(D("100.00"), D("1"), D("0")), LineInput(D("100.00"), D("1"), D("25"))],
        prices_include_tax=False,
        service_charge_percent=D("10"),
        service_charge_base="after_tax",
    )

    assert [line.service_charge for line in result.lines] == [D("10.00"), D("12.50")]
    assert result.total == sum((line.amount_due for line in result.lines), D(0))


def test_an_unknown_service_charge_base_is_refused():
    with pytest.raises(ValueError):
        price_order([LineInput(D("1"), D("1"), D("0"))], prices_include_tax=True, service_charge_base="gross")


def test_a_tip_percent_is_taken_of_the_order_total_to_the_cent():
    assert tip_from_percent(D("23.45"), D("10")) == D("2.35")
    assert tip_from_percent(D("23.45"), D("0")) == D("0.00")


def test_cash_that_covers_the_total_but_not_the_rounded_cash_due_is_refused():
    with pytest.raises(TenderError) as error:
        settle(D("3.58"), [TenderInput("cash", tendered=D("3.58"))], cash_step=D("0.05"))

    assert "3.60" in error.value.message and error.value.field == "tenders[0].tendered"


def test_cash_at_a_rounding_store_records_the_rounding_and_the_change():
    [cash] = settle(D("3.58"), [TenderInput("cash", tendered=D("5.00"))], cash_step=D("0.05"))

    assert (cash.amount, cash.rounding, cash.change) == (D("3.58"), D("0.02"), D("1.40"))


@pytest.mark.parametrize(
    ("amount", "step", "expected"),
    [
        ("12.32", "0.05", "12.30"),
        ("12.33", "0.05", "12.35"),
        ("12.325", "0.05", "12.35"),
        ("12.34", "0", "12.34"),
        ("1050", "100", "1100"),
        ("1049", "100", "1000"),
    ],
)
def test_cash_rounds_half_up_to_the_store_step(amount, step, expected):
    assert round_cash(D(amount), D(step)) == D(expected)


def test_cash_rounding_follows_a_currency_without_decimals():
    with override_settings(POS_CURRENCY_DECIMALS=0):
        assert round_cash(D("10549"), D("100")) == D("10500")
        assert price_order([LineInput(D("1050"), D("1.5"), D("11"))], prices_include_tax=True).total == D("1575")


def test_settling_cash_gives_change_and_a_card_cannot_overpay():
    [cash] = settle(D("8.40"), [TenderInput("cash", tendered=D("10"))])
    assert (cash.amount, cash.change) == (D("8.40"), D("1.60"))

    with pytest.raises(TenderError):
        settle(D("8.40"), [TenderInput("card", amount=D("9"))])


def test_settling_with_tenders_that_fall_short_is_refused():
    with pytest.raises(TenderError) as error:
        settle(D("8.40"), [TenderInput("card", amount=D("4")), TenderInput("cash", tendered=D("4"))])

    assert "0.40" in error.value.message


def test_settling_pays_non_cash_first_so_cash_gives_the_change_and_keeps_the_tenders_in_order():
    cash, card = settle(D("30.00"), [TenderInput("cash", tendered=D("20")), TenderInput("card", amount=D("15"))])

    assert (card.tender, card.amount) == ("card", D("15"))
    assert (cash.tender, cash.amount, cash.change) == ("cash", D("15.00"), D("5.00"))
