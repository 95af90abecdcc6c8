"""Every money figure on one small session written by hand, checked against sums worked out on paper and against
plain SQL; the session totals, the sales reports and the X/Z printout give the same numbers for it.

The session (tax-inclusive store, float 100.00):
- order A, paid in cash: 2 beers at 4.80 (VAT 20) and a bread at 3.30 (VAT 10) with a 10 % order discount
  (0.96 + 0.33), a third beer voided; total 11.61, settled as 11.60 in cash (rounding −0.01) from 20.00.
- order B, paid by card: a wine at 6.00 (VAT 20) and a 0.60 service charge; total 6.60, plus a 1.00 tip.
- a cash refund of one beer of order A: 4.32 (its share of the discount taken off), tax 0.72.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from billing import figures, reports, sessions
from billing.models import Payment, Receipt, Refund, RefundLine
from billing.report_printout import report_lines
from billing.tests.cash_data import product
from billing.tests.factories import RegisterFactory
from orders.models import Order, OrderLine

D = Decimal


def _line(order, prod, *, qty, total, discount, tax, status=OrderLine.Status.ACTIVE):
    return OrderLine.objects.create(
        order=order,
        product=prod,
        name=prod.name,
        unit_price=prod.price,
        tax_rate_name=prod.tax_rate.name,
        tax_rate_percent=prod.tax_rate.percent,
        prices_include_tax=True,
        unit_cost=prod.cost,
        quantity=D(qty),
        line_total=D(total),
        order_discount_amount=D(discount),
        amount_due=D(total) - D(discount),
        tax_amount=D(tax),
        status=status,
        added_by=order.staff,
    )


def _order(location, staff, **money):
    return Order.objects.create(
        location=location,
        staff=staff,
        status=Order.Status.PAID,
        paid_at=timezone.now(),
        **{k: D(v) for k, v in money.items()},
    )


def _receipt(session, order, number, **kwargs):
    return Receipt.objects.create(register=session.register, number=number, order=order, session=session, **kwargs)


@pytest.fixture
def day(location, cashier, manager):
    register = RegisterFactory(location=location)
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="100.00")
    beer = product("4.80", cost="2.00", tax="20", name="Beer")
    bread = product("3.30", cost="1.00", tax="10", name="Bread")
    wine = product("6.00", cost="3.00", tax="20", name="Wine")

    a = _order(location, cashier, subtotal="12.90", discount_total="1.29", tax_total="1.71", total="11.61")
    beers = _line(a, beer, qty="2", total="9.60", discount="0.96", tax="1.44")
    _line(a, bread, qty="1", total="3.30", discount="0.33", tax="0.27")
    _line(a, beer, qty="1", total="4.80", discount="0", tax="0.80", status=OrderLine.Status.VOIDED)
    Payment.objects.create(
        order=a,
        session=session,
        tender="cash",
        amount=D("11.61"),
        tendered=D("20.00"),
        change=D("8.40"),
        rounding=D("-0.01"),
        created_by=cashier,
    )
    _receipt(session, a, 1)

    b = _order(location, cashier, subtotal="6.00", service_charge="0.60", tax_total="1.00", total="6.60")
    _line(b, wine, qty="1", total="6.00", discount="0", tax="1.00")
    Payment.objects.create(
        order=b,
        session=session,
        tender="card",
        amount=D("6.60"),
        tendered=D("7.60"),
        tip=D("1.00"),
        created_by=cashier,
    )
    _receipt(session, b, 2)

    refund = Refund.objects.create(
        order=a,
        session=session,
        tender="cash",
        amount=D("4.32"),
        tax_amount=D("0.72"),
        reason="Flat",
        created_by=cashier,
        approved_by=manager,
    )
    RefundLine.objects.create(refund=refund, order_line=beers, quantity=1, amount=D("4.32"), tax_amount=D("0.72"))
    _receipt(session, a, 3, kind=Receipt.Kind.REFUND, refund=refund)
    today = timezone.localdate()
    return session, reports.period(location=location, date_from=today, date_to=today)


def _sale_orders(session):
    return Receipt.objects.filter(session=session, kind=Receipt.Kind.SALE).values("order_id")


def _sql(query: str, *params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def test_the_order_figures_are_the_sums_worked_out_by_hand(day):
    session, _ = day

    f = figures.figures_for(sessions.session_scope(session))

    assert (f.orders, f.sales, f.discounts, f.service_charge, f.tax) == (
        2,
        D("18.21"),
        D("1.29"),
        D("0.60"),
        D("2.71"),
    )
    assert (f.gross_sales, f.refunds, f.net_sales, f.net_tax, f.net_of_tax) == (
        D("19.50"),
        D("4.32"),
        D("13.89"),
        D("1.99"),
        D("11.90"),
    )
    # cost 8.00 less the refunded beer's 2.00; margin: net of tax and service charge (11.30) less cost
    assert (f.cost, f.refund_cost, f.net_cost, f.net_goods_of_tax, f.margin) == (
        D("8.00"),
        D("2.00"),
        D("6.00"),
        D("11.30"),
        D("5.30"),
    )


def test_the_tax_base_by_rate_matches_plain_sql(day):
    session, _ = day

    rates = figures.rates_for(sessions.session_scope(session))

    assert [(r.name, r.sales, r.base, r.tax, r.refund_base, r.refund_tax, r.net_base, r.net_tax) for r in rates] == [
        ("VAT 10", D("2.97"), D("2.70"), D("0.27"), D("0"), D("0"), D("2.70"), D("0.27")),
        ("VAT 20", D("14.64"), D("12.20"), D("2.44"), D("3.60"), D("0.72"), D("8.60"), D("1.72")),
    ]
    by_rate = {(r.name, r.percent): {"base": r.base, "tax": r.tax} for r in rates}
    rows = _sql(
        f"""SELECT l.tax_rate_name,
                   SUM(l.line_total - l.order_discount_amount
                       - CASE WHEN l.prices_include_tax THEN l.tax_amount ELSE 0 END),
                   SUM(l.tax_amount)
              FROM {OrderLine._meta.db_table} l
             WHERE l.status = %s
               AND l.order_id IN (SELECT order_id FROM {Receipt._meta.db_table} WHERE session_id = %s AND kind = %s)
             GROUP BY l.tax_rate_name""",  # noqa: S608 (table names from the models)
        OrderLine.Status.ACTIVE,
        session.pk,
        Receipt.Kind.SALE,
    )
    assert {name: (base, tax) for name, base, tax in rows} == {
        name: (row["base"], row["tax"]) for (name, _), row in by_rate.items()
    }


def test_voids_refunds_tips_and_rounding_are_the_sums_worked_out_by_hand(day):
    session, _ = day

    voids = figures.voided_lines(OrderLine.objects.filter(order_id__in=_sale_orders(session)))
    refunds = figures.refunds_by_tender(Refund.objects.filter(session=session))
    payments = figures.payments_by_tender(Payment.objects.filter(session=session))

    assert (voids["count"], voids["amount"]) == (1, D("4.80"))
    assert (refunds["cash"]["count"], refunds["cash"]["amount"], refunds["cash"]["tax"]) == (1, D("4.32"), D("0.72"))
    assert (payments["cash"]["amount"], payments["cash"]["rounding"], payments["cash"]["drawer"]) == (
        D("11.61"),
        D("-0.01"),
        D("11.60"),
    )
    assert (payments["card"]["amount"], payments["card"]["tips"]) == (D("6.60"), D("1.00"))
    assert figures.tips(Payment.objects.filter(session=session)) == D("1.00")
    [(drawer,)] = _sql(
        f"SELECT SUM(tendered - change) FROM {Payment._meta.db_table} WHERE session_id = %s AND tender = 'cash'",  # noqa: S608
        session.pk,
    )
    assert drawer == payments["cash"]["drawer"]


def test_the_session_totals_are_the_figures_worked_out_by_hand(day):
    session, _ = day

    totals = sessions.session_totals(session)

    assert (totals.gross_sales, totals.discounts, totals.service_charge, totals.sales) == (
        D("19.50"),
        D("1.29"),
        D("0.60"),
        D("18.21"),
    )
    assert (totals.refunds, totals.refund_count, totals.net_sales) == (D("4.32"), 1, D("13.89"))
    assert (totals.tax_total, totals.net_sales_excl_tax) == (D("1.99"), D("11.90"))
    assert [(r.name, r.base, r.tax, r.refund_tax, r.net_tax) for r in totals.tax_rates] == [
        ("VAT 10", D("2.70"), D("0.27"), D("0.00"), D("0.27")),
        ("VAT 20", D("12.20"), D("2.44"), D("0.72"), D("1.72")),
    ]
    # the taxable base of a VAT return is net of refunds, like its tax
    assert [(r.name, r.refund_base, r.net_base) for r in totals.tax_rates] == [
        ("VAT 10", D("0.00"), D("2.70")),
        ("VAT 20", D("3.60"), D("8.60")),
    ]
    assert (totals.cost, totals.margin) == (D("6.00"), D("5.30"))
    assert (totals.void_count, totals.voids) == (1, D("4.80"))
    assert (totals.tips, totals.rounding, totals.payments_total) == (D("1.00"), D("-0.01"), D("18.21"))
    assert [(t.tender, t.count, t.amount, t.tips, t.refunds, t.net) for t in totals.tenders] == [
        ("cash", 1, D("11.61"), D("0.00"), D("4.32"), D("7.29")),
        ("card", 1, D("6.60"), D("1.00"), D("0.00"), D("6.60")),
    ]
    assert (totals.cash.cash_in, totals.cash.cash_refunds, totals.cash.expected) == (
        D("11.60"),
        D("4.32"),
        D("107.28"),
    )
    assert totals.cash.expected == sessions.expected_cash(session)


def test_session_totals_are_frozen_decimals_and_strings_only_in_the_snapshot(day):
    session, _ = day

    totals = sessions.session_totals(session)

    with pytest.raises(AttributeError):
        totals.net_sales = D("0")  # frozen
    assert isinstance(totals.net_sales, Decimal) and isinstance(totals.cash.expected, Decimal)
    snapshot = totals.as_json()
    assert (snapshot["net_sales"], snapshot["tax_total"], snapshot["cash"]["expected"]) == ("13.89", "1.99", "107.28")
    assert snapshot["tax_rates"][1] == {
        "name": "VAT 20",
        "percent": "20",
        "base": "12.20",
        "tax": "2.44",
        "refund_base": "3.60",
        "refund_tax": "0.72",
        "net_base": "8.60",
        "net_tax": "1.72",
    }


def test_the_sales_reports_give_the_same_numbers_as_the_session(day):
    session, p = day
    totals = sessions.session_totals(session)

    summary = reports.summary(p)
    tax = {row["rate"]: row for row in reports.by_tax_rate(p)}
    tender = {row["tender"]: row for row in reports.by_tender(p)}

    assert (summary["orders"], summary["gross_sales"], summary["discounts"]) == (2, totals.gross_sales, D("1.29"))
    assert (summary["sales"], summary["service_charge"], summary["tips"]) == (totals.sales, D("0.60"), totals.tips)
    assert (summary["refunds"], summary["net_sales"]) == (totals.refunds, totals.net_sales)
    # refunds count: tax due as on the Z, cost and margin less the refunded beer (not 2.71, 8.00 and 6.90)
    assert (summary["tax"], summary["net_of_tax"]) == (totals.tax_total, totals.net_sales_excl_tax)
    assert (summary["cost"], summary["margin"]) == (totals.cost, totals.margin) == (D("6.00"), D("5.30"))
    for rate in totals.tax_rates:
        assert (tax[rate.name]["net"], tax[rate.name]["tax"]) == (rate.base, rate.tax)
        assert (tax[rate.name]["refund_base"], tax[rate.name]["net_base"]) == (rate.refund_base, rate.net_base)
        assert (tax[rate.name]["refund_tax"], tax[rate.name]["tax_due"]) == (rate.refund_tax, rate.net_tax)
    assert (tender["Cash"]["amount"], tender["Cash"]["refunds"], tender["Cash"]["net"]) == (
        D("11.61"),
        D("4.32"),
        D("7.29"),
    )
    assert (tender["Card"]["amount"], tender["Card"]["tips"]) == (D("6.60"), D("1.00"))


def test_the_x_report_and_the_z_report_print_the_session_figures(day, cashier, manager):
    session, _ = day
    x = sessions.x_report(session_id=session.pk, user=manager)
    x_lines = report_lines(x, copy=False, columns=48)

    z = sessions.close_session(
        session_id=session.pk,
        user=cashier,
        denominations={"100": 1, "5": 1, "2": 1, "0.2": 1, "0.05": 1, "0.02": 1, "0.01": 1},
    )

    assert (z.gross_sales, z.net_sales, z.tax_total) == (D("19.50"), D("13.89"), D("1.99"))
    assert (z.data["cash"]["expected"], z.data["cash"]["over_short"]) == ("107.28", "0.00")
    z_lines = report_lines(z.data, copy=False, columns=48)
    for lines in (x_lines, z_lines):
        text = "\n".join(lines)
        assert "NET SALES" in text and text.count("13.89") >= 1
        assert any(line.startswith("Gross sales") and line.endswith("19.50 EUR") for line in lines)
        assert any(line.startswith("  of which tax") and line.endswith("1.99") for line in lines)
        assert any(line.startswith("Voided lines (1)") and line.endswith("4.80") for line in lines)
        assert any(line.startswith(" VAT 20 20%") and line.endswith("1.72") for line in lines)
    copy = report_lines(z.data, copy=True, columns=48)
    assert copy[0].strip() == copy[-1].strip() == "*** COPY ***"
    assert copy[1:-2] == z_lines  # the same layout between the marks
