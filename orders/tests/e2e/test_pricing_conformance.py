"""One pricing: the device's static/js/pricing.js, run in Chromium, gives what orders/pricing.py gives, to the cent
and to the printed digit, for every order hypothesis can think of (DESIGN.md §6).

Hypothesis draws the orders (derandomized, so CI sees the same ones every run): inclusive and exclusive tax, mixed
rates, line and order discounts of both kinds, modifiers, quantities with up to three decimals, service charge
before or after tax or none, currencies with 2 and 0 decimals, cash rounding steps, tips as amounts and percents,
one to four tenders. All of them go to the browser in one call and every field of every result is compared. When
one differs, hypothesis draws the same orders again, one browser call each, and shrinks the first that differs to
a minimal one, which the failure shows with the field that differs and both values.
"""

import json
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, DecimalException
from pathlib import Path

import hypothesis
import pytest
from django.test import override_settings
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

from billing.forms import quick_cash_amounts
from core.money import ZERO, money_text, quantize
from orders.pricing import (
    LineInput,
    TenderError,
    TenderInput,
    price_order,
    refund_share,
    round_cash,
    settle,
    split_evenly,
    tip_from_percent,
)
from orders.services.totals import modifiers_price

pytestmark = pytest.mark.e2e

PRICING_JS = Path(__file__).resolve().parents[3] / "static" / "js" / "pricing.js"
CASES = 1100  # hypothesis may skip a duplicate; at least MIN_CASES are required
MIN_CASES = 1000
D = Decimal

TAX_RATES = [D("0"), D("5"), D("5.5"), D("7"), D("8.875"), D("10"), D("11"), D("19"), D("20"), D("21"), D("99.999")]
CASH_STEPS = [D("0"), D("0.05"), D("0.10"), D("100"), D("0.25"), D("1"), D("500"), D("1000")]
TENDERS = ["cash", "card", "voucher", "other"]


def scaled(places: int, least: int, most: int) -> st.SearchStrategy[Decimal]:
    """Decimals with `places` places from least to most smallest units (integers draw faster than decimals)."""
    return st.integers(least, most).map(lambda n: D(n).scaleb(-places))


def money(places: int, top: int) -> st.SearchStrategy[Decimal]:
    return scaled(places, 0, top * 10**places)


def percents(least: int = 0) -> st.SearchStrategy[Decimal]:
    return scaled(2, least, 100_00)


def discounts(places: int, top: int) -> st.SearchStrategy[tuple[str, Decimal]]:
    return st.one_of(
        st.just(("", D(0))),
        st.tuples(st.just("percent"), percents(1)),
        st.tuples(st.just("amount"), scaled(places, 1, top * 10**places)),
    )


def quantities(places: int) -> st.SearchStrategy[Decimal]:
    """A quantity of a product whose quantity_places is `places` (0 for pieces, up to 3 for weighed goods)."""
    return scaled(places, 1, 20 * 10**places) | scaled(places, 1, 10_000 * 10**places)


def line_plans(places: int, scale: int) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            # prices are stored with up to 4 places: some have more than the currency
            "unit_price": st.one_of(*(money(p, 500 * scale) | money(p, 100_000 * scale) for p in (places, places + 2))),
            "quantity": st.one_of(*(quantities(p) for p in range(4))),
            "tax_percent": st.sampled_from(TAX_RATES) | scaled(3, 0, 30_000),
            "modifiers": st.lists(money(places, 5 * scale), max_size=3),
            "discount": discounts(places, 20 * scale),
            "refund_fraction": percents().map(lambda p: p / 100),
            "already_fraction": percents().map(lambda p: p / 100),
        }
    )


def tender_plans(places: int, scale: int) -> st.SearchStrategy[dict]:
    """A tender; its amount (or the cash handed over) is drawn as a share of what is left to pay, see prepare()."""
    return st.fixed_dictionaries(
        {
            "tender": st.sampled_from(TENDERS),
            # most pay a part of what is left, some more than is left (the last may pay the rest, see orders_in)
            "share": st.one_of(scaled(2, 1, 99), scaled(2, 1, 99), scaled(2, 0, 150)),
            "extra": money(places, 50 * scale),  # cash handed over above a share, or above the rest
            "hands_over_more": st.booleans(),
            "tip": st.one_of(
                st.just(None),
                st.tuples(st.just("amount"), money(places, 10 * scale)),
                st.tuples(st.just("percent"), percents()),
            ),
            "guest": st.one_of(st.none(), st.integers(1, 500)),
            "reference": st.sampled_from(["", "auth 4411"]),
        }
    )


def orders_in(places: int) -> st.SearchStrategy[dict]:
    scale = 1 if places else 1000  # a currency without decimals counts in thousands (IDR)
    return st.fixed_dictionaries(
        {
            "places": st.just(places),
            "lines": st.lists(line_plans(places, scale), min_size=1, max_size=8),
            "prices_include_tax": st.booleans(),
            "discount": discounts(places, 50 * scale),
            "service_charge_percent": st.one_of(st.sampled_from([D(0), D(10), D("12.5")]), percents()),
            "service_charge_base": st.sampled_from(["before_tax", "after_tax"]),
            "cash_step": st.sampled_from(CASH_STEPS),
            "tip_percent": percents(),
            "parts": st.integers(1, 12),
            "tenders": st.lists(tender_plans(places, scale), min_size=1, max_size=4),
            "last_pays_the_rest": st.sampled_from([True, True, True, False]),
        }
    )


ORDERS = orders_in(2) | orders_in(0)


def text(amount: Decimal) -> str:
    return format(amount, "f")


def nullable(amount):
    return None if amount is None else str(amount)


def line_inputs(plan) -> list[LineInput]:
    return [
        LineInput(
            unit_price=line["unit_price"],
            quantity=line["quantity"],
            tax_percent=line["tax_percent"],
            modifiers_price=modifiers_price([{"price": str(price)} for price in line["modifiers"]]),
            discount_kind=line["discount"][0],
            discount_value=line["discount"][1],
        )
        for line in plan["lines"]
    ]


def prepare(plan) -> tuple[dict, dict]:
    """The inputs both sides get (decimals as Python writes them, so the JS reads the same digits and exponents) and
    what orders.pricing answers. A tender's amount, what a guest hands over and what a line already refunded are
    drawn as fractions of the order's total or the line's amount and turned into amounts here: inputs, not results."""
    with override_settings(POS_CURRENCY_DECIMALS=plan["places"]):
        lines = line_inputs(plan)
        price = price_order(
            lines,
            prices_include_tax=plan["prices_include_tax"],
            discount_kind=plan["discount"][0],
            discount_value=plan["discount"][1],
            service_charge_percent=plan["service_charge_percent"],
            service_charge_base=plan["service_charge_base"],
        )
        total = price.total
        # A tender's share is of what is left when settle() comes to it (cards and vouchers first, then cash).
        by_index: dict[int, TenderInput] = {}
        left = total
        in_order = sorted(enumerate(plan["tenders"]), key=lambda pair: pair[1]["tender"] == "cash")
        for i, t in in_order:
            pays_the_rest = plan["last_pays_the_rest"] and i == in_order[-1][0]
            given = None if pays_the_rest else quantize(left * t["share"])
            handed = given if given is not None or not t["hands_over_more"] else left
            left = ZERO if given is None else max(left - given, ZERO)
            tip_kind, tip = t["tip"] or ("", ZERO)
            by_index[i] = TenderInput(
                tender=t["tender"],
                amount=given if t["tender"] != "cash" else None,
                tendered=handed + t["extra"] if t["tender"] == "cash" and handed is not None else None,
                tip=tip if tip_kind == "amount" else ZERO,
                tip_percent=tip if tip_kind == "percent" else None,
                reference=t["reference"],
                guest=t["guest"],
            )
        tenders = [by_index[i] for i in range(len(by_index))]
        refunds = [
            {
                "quantity": (line["quantity"] * line["refund_fraction"]).quantize(D("0.001")),
                "already": quantize(priced.amount_due * line["already_fraction"]),
            }
            for line, priced in zip(plan["lines"], price.lines, strict=True)
        ]
        inputs = {
            "places": plan["places"],
            "lines": [
                {
                    "unitPrice": str(li.unit_price),
                    "quantity": str(li.quantity),
                    "taxPercent": str(li.tax_percent),
                    "modifiers": [{"price": str(price)} for price in line["modifiers"]],
                    "discountKind": li.discount_kind,
                    "discountValue": str(li.discount_value),
                }
                for li, line in zip(lines, plan["lines"], strict=True)
            ],
            "order": {
                "pricesIncludeTax": plan["prices_include_tax"],
                "discountKind": plan["discount"][0],
                "discountValue": str(plan["discount"][1]),
                "serviceChargePercent": str(plan["service_charge_percent"]),
                "serviceChargeBase": plan["service_charge_base"],
            },
            "cashStep": str(plan["cash_step"]),
            "tipPercent": str(plan["tip_percent"]),
            "parts": plan["parts"],
            "refunds": [{"quantity": str(r["quantity"]), "already": str(r["already"])} for r in refunds],
            "tenders": [
                {
                    "tender": t.tender,
                    "amount": nullable(t.amount),
                    "tendered": nullable(t.tendered),
                    "tip": str(t.tip),
                    "tipPercent": nullable(t.tip_percent),
                    "reference": t.reference,
                    "guest": t.guest,
                }
                for t in tenders
            ],
        }

        cash_due = round_cash(total, plan["cash_step"])
        expected = {
            "price": {
                "lines": [
                    {
                        "gross": text(p.gross),
                        "discount": text(p.discount),
                        "line_total": text(p.line_total),
                        "order_discount": text(p.order_discount),
                        "net": text(p.net),
                        "tax": text(p.tax),
                        "service_charge": text(p.service_charge),
                        "amount_due": text(p.amount_due),
                    }
                    for p in price.lines
                ],
                "subtotal": text(price.subtotal),
                "discount_total": text(price.discount_total),
                "service_charge": text(price.service_charge),
                "tax_total": text(price.tax_total),
                "total": text(total),
                "tax_by_rate": [[text(rate), text(tax)] for rate, tax in price.tax_by_rate.items()],
            },
            "cash_due": text(cash_due),
            "quick_cash": [text(amount) for amount in quick_cash_amounts(total, step=plan["cash_step"])],
            "split": [text(share) for share in split_evenly(total, plan["parts"])],
            "tip": text(tip_from_percent(total, plan["tip_percent"])),
            "refunds": [
                text(
                    refund_share(
                        amount_due=p.amount_due,
                        quantity=li.quantity,
                        refund_quantity=r["quantity"],
                        already=r["already"],
                    )
                )
                for p, li, r in zip(price.lines, lines, refunds, strict=True)
            ],
            "texts": [money_text(total), money_text(total, grouped=True), money_text(cash_due - total, sign=True)],
        }
        try:
            expected["settle"] = [
                {
                    "tender": s.tender,
                    "amount": text(s.amount),
                    "tendered": text(s.tendered),
                    "change": text(s.change),
                    "tip": text(s.tip),
                    "rounding": text(s.rounding),
                    "reference": s.reference,
                    "guest": s.guest,
                }
                for s in settle(total, tenders, cash_step=plan["cash_step"])
            ]
        except TenderError as error:
            expected["settle"] = {"error": error.message, "field": error.field}
    return inputs, expected


# The same, on the device: every case through TillhousePricing, decimals written as Python's format(d, "f").
RUN_CASES = """(cases) => JSON.stringify(JSON.parse(cases).map((c) => {
  const f = (d) => d.toFixedString();
  try {
    const P = TillhousePricing.forCurrency(c.places);
    const lines = c.lines.map((line) => ({...line, modifiersPrice: TillhousePricing.modifiersPrice(line.modifiers)}));
    const price = P.priceOrder(lines, c.order);
    const total = price.total;
    const cashDue = P.roundCash(total, c.cashStep);
    const out = {
      price: {
        lines: price.lines.map((p) => ({
          gross: f(p.gross), discount: f(p.discount), line_total: f(p.lineTotal),
          order_discount: f(p.orderDiscount), net: f(p.net), tax: f(p.tax),
          service_charge: f(p.serviceCharge), amount_due: f(p.amountDue),
        })),
        subtotal: f(price.subtotal), discount_total: f(price.discountTotal),
        service_charge: f(price.serviceCharge), tax_total: f(price.taxTotal), total: f(total),
        tax_by_rate: price.taxByRate.map((e) => [f(e.rate), f(e.tax)]),
      },
      cash_due: f(cashDue),
      quick_cash: P.quickCashAmounts(total, c.cashStep).map(f),
      split: P.splitEvenly(total, c.parts).map(f),
      tip: f(P.tipFromPercent(total, c.tipPercent)),
      refunds: price.lines.map((p, i) => f(P.refundShare({
        amountDue: p.amountDue, quantity: c.lines[i].quantity,
        refundQuantity: c.refunds[i].quantity, already: c.refunds[i].already,
      }))),
      texts: [P.moneyText(total), P.moneyText(total, {grouped: true}), P.moneyText(cashDue.sub(total), {sign: true})],
    };
    try {
      out.settle = P.settle(total, c.tenders, {cashStep: c.cashStep}).map((s) => ({
        tender: s.tender, amount: f(s.amount), tendered: f(s.tendered), change: f(s.change), tip: f(s.tip),
        rounding: f(s.rounding), reference: s.reference, guest: s.guest,
      }));
    } catch (error) {
      if (!(error instanceof TillhousePricing.TenderError)) throw error;
      out.settle = {error: error.message, field: error.field};
    }
    return out;
  } catch (error) {
    return {exception: String(error && error.stack || error)};
  }
}))"""


def run_in_browser(page, cases: list[dict]) -> list[dict]:
    """The device's results for `cases`, in one call (as JSON both ways: the quickest way through Playwright)."""
    return json.loads(page.evaluate(RUN_CASES, json.dumps(cases)))


def first_difference(expected, actual, path="result"):
    """The path of the first field that differs, with both values, or None."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in list(expected) + [k for k in actual if k not in expected]:
            if key not in expected or key not in actual:
                return f"{path}.{key}", expected.get(key, "<missing>"), actual.get(key, "<missing>")
            found = first_difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(e, a, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{path} (length)", len(expected), len(actual)
        return None
    return None if expected == actual else (path, expected, actual)


def describe(inputs, difference) -> str:
    where, python, js = difference
    return (
        f"{where}: orders/pricing.py gives {python!r}, static/js/pricing.js gives {js!r}\n"
        f"for the order {json.dumps(inputs, indent=1)}"
    )


def every_case(check, *, shrink: bool, strategy=ORDERS):
    """Run `check` on the drawn orders (or other cases): the same ones in the same sequence every time (derandomize),
    so that a difference found in the batch is found again one case at a time, and shrunk."""
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]

    @hypothesis.settings(
        max_examples=CASES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(strategy)
    def run(plan):
        check(plan)

    run()


@pytest.fixture
def pricing_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.add_script_tag(path=str(PRICING_JS))
    yield page
    context.close()


def test_the_device_prices_and_settles_every_generated_order_as_the_server_does(pricing_page):
    prepared = []
    every_case(lambda plan: prepared.append(prepare(plan)), shrink=False)
    assert len(prepared) >= MIN_CASES, f"hypothesis drew only {len(prepared)} orders"

    results = run_in_browser(pricing_page, [inputs for inputs, _ in prepared])

    differing = [
        (inputs, difference)
        for (inputs, expected), actual in zip(prepared, results, strict=True)
        if (difference := first_difference(expected, actual))
    ]
    if not differing:
        return
    summary = f"{len(differing)} of {len(prepared)} orders differ; the first: {describe(*differing[0])}"

    def same_in_the_browser(plan):
        inputs, expected = prepare(plan)
        difference = first_difference(expected, run_in_browser(pricing_page, [inputs])[0])
        assert difference is None, describe(inputs, difference)

    try:
        every_case(same_in_the_browser, shrink=True)
    except AssertionError as error:
        error.add_note(f"(shrunk by hypothesis from the batch run, where {summary})")
        raise
    pytest.fail(summary)


# Python's decimal arithmetic itself, where the 28 digits of its context show: huge and tiny operands.
DECIMALS = st.builds(
    lambda sign, coefficient, exponent: Decimal((sign, tuple(int(c) for c in str(coefficient)), exponent)),
    st.integers(0, 1),
    st.integers(0, 10**12)
    | st.integers(0, 10**40)
    # 29 digits or more ending in 5 and zeros: exactly half way at the 28th digit, where half-even shows
    | st.builds(lambda n, k: (10 * n + 5) * 10**k, st.integers(10**27, 10**28 - 1), st.integers(0, 3)),
    st.integers(-12, 4) | st.integers(-40, 12),
)
OPERATIONS = st.tuples(
    st.sampled_from(["add", "sub", "mul", "div", "neg", "quantize", "integral", "int", "compare"]),
    DECIMALS,
    DECIMALS,
    st.integers(-2, 6),
    st.sampled_from([ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_CEILING, ROUND_FLOOR, ROUND_DOWN]),
)

RUN_OPERATIONS = """(operations) => JSON.stringify(JSON.parse(operations).map(([op, a, b, places, rounding]) => {
  const D = TillhousePricing.D;
  a = D(a);
  b = D(b);
  try {
    let r;
    if (op === "add") r = a.add(b);
    else if (op === "sub") r = a.sub(b);
    else if (op === "mul") r = a.mul(b);
    else if (op === "div") r = a.div(b);
    else if (op === "neg") r = a.neg();
    else if (op === "quantize") r = a.quantize(new TillhousePricing.Decimal(0, 1n, -places), rounding);
    else if (op === "integral") r = a.toIntegralValue(rounding);
    else if (op === "int") return [a.toBigInt().toString()];
    else if (op === "compare") return [String(a.compare(b))];
    return [r.toString(), r.toFixedString(), r.toFixedString(true)];
  } catch (error) {
    return ["error"];
  }
}))"""


def python_operation(op, a, b, places, rounding) -> list[str]:
    try:
        if op == "int":
            return [str(int(a))]
        if op == "compare":
            return [str((a > b) - (a < b))]
        result = {
            "add": lambda: a + b,
            "sub": lambda: a - b,
            "mul": lambda: a * b,
            "div": lambda: a / b,
            "neg": lambda: -a,
            "quantize": lambda: a.quantize(Decimal(1).scaleb(-places), rounding=rounding),
            "integral": lambda: a.to_integral_value(rounding=rounding),
        }[op]()
    except DecimalException:
        return ["error"]
    return [str(result), format(result, "f"), format(result, ",f")]


def test_the_device_decimal_rounds_as_python_decimal_does_at_its_28_digits(pricing_page):
    operations: list[tuple] = []
    every_case(operations.append, shrink=False, strategy=OPERATIONS)
    assert len(operations) >= MIN_CASES, f"hypothesis drew only {len(operations)} operations"

    sent = [[op, str(a), str(b), places, rounding] for op, a, b, places, rounding in operations]
    results = json.loads(pricing_page.evaluate(RUN_OPERATIONS, json.dumps(sent)))

    differing = [
        f"{op}({a}, {b}, places={places}, {rounding}): Python {python_operation(*operation)}, JS {result}"
        for operation, (op, a, b, places, rounding), result in zip(operations, sent, results, strict=True)
        if python_operation(*operation) != result
    ]
    assert not differing, f"{len(differing)} of {len(sent)} operations differ, the first: {differing[:3]}"
