"""The one definition of every money figure: gross, discounts, net, tax base, tax by rate, service charge, tips,
refunds, voids and cash rounding.

Each figure is an ORM expression or a small aggregate over a queryset the caller chooses: a cash session picks the
orders that got their sale receipt in the session and the session's own payments and refunds
(`billing.sessions`); the sales reports pick a location and a date range (`billing.reports`). What is counted
where is the caller's business; how a figure is computed from the rows is decided here, once.

Amounts come back as unrounded Decimals (sums of stored, already quantised columns); callers quantise for display.
"""

from decimal import Decimal

from django.db.models import Case, Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from core.money import ZERO

MONEY = DecimalField(max_digits=20, decimal_places=4)


def total(expression) -> Coalesce:
    """The sum of `expression` over the rows, 0 when there are none."""
    return Coalesce(Sum(expression), Value(ZERO), output_field=MONEY)


# --- order lines ---------------------------------------------------------------------------------------------

# What the guest was charged for a line: its total after its share of the order discount (tax included at a
# tax-inclusive store).
LINE_SALES = ExpressionWrapper(F("line_total") - F("order_discount_amount"), output_field=MONEY)

# The tax base ("net of tax") of a line: its sales without the tax inside them at a tax-inclusive store.
LINE_TAX_BASE = Case(
    When(prices_include_tax=True, then=F("line_total") - F("order_discount_amount") - F("tax_amount")),
    default=F("line_total") - F("order_discount_amount"),
    output_field=MONEY,
)

# The cost of a line: the cost snapshot taken when it was sold.
LINE_COST = ExpressionWrapper(F("unit_cost") * F("quantity"), output_field=MONEY)

# The value of a voided line: its list price times its quantity (before any discount).
VOID_VALUE = ExpressionWrapper(F("unit_price") * F("quantity"), output_field=MONEY)

# The per-line figures the product and category reports group ("sold" because "quantity" would shadow the column).
LINE_FIGURES = {
    "sold": Coalesce(Sum("quantity"), Value(ZERO), output_field=MONEY),
    "sales": total(LINE_SALES),
    "tax": total("tax_amount"),
    "net": total(LINE_TAX_BASE),
    "cost": total(LINE_COST),
}


# --- orders --------------------------------------------------------------------------------------------------


def order_figures(orders: QuerySet) -> dict:
    """Count and money totals of `orders`: `count`, `sales` (what was charged, after discounts, service charge
    included), `discounts`, `service_charge`, `tax`. Gross sales are `gross(...)` of these."""
    return orders.aggregate(
        count=Count("id"),
        sales=total("total"),
        discounts=total("discount_total"),
        service_charge=total("service_charge"),
        tax=total("tax_total"),
    )


def gross(sales: Decimal, discounts: Decimal) -> Decimal:
    """Gross sales: what was charged plus what was discounted."""
    return sales + discounts


def net_sales(sales: Decimal, refunds: Decimal) -> Decimal:
    """Net sales: what was charged less what was refunded."""
    return sales - refunds


def voided_lines(lines: QuerySet) -> dict:
    """`count` and `amount` (list value) of the voided lines among `lines`."""
    from orders.models import OrderLine

    return lines.filter(status=OrderLine.Status.VOIDED).aggregate(count=Count("id"), amount=total(VOID_VALUE))


def tax_by_rate(lines: QuerySet) -> dict[tuple[str, Decimal], dict]:
    """Per (rate name, percent) of `lines` (active lines): `sales`, `base` (the tax base) and `tax`."""
    return {
        (row["tax_rate_name"], row["tax_rate_percent"]): {"sales": row["sales"], "base": row["base"], "tax": row["tax"]}
        for row in lines.values("tax_rate_name", "tax_rate_percent")
        .annotate(sales=total(LINE_SALES), base=total(LINE_TAX_BASE), tax=total("tax_amount"))
        .order_by()
    }


def refund_tax_by_rate(refund_lines: QuerySet) -> dict[tuple[str, Decimal], Decimal]:
    """Tax refunded per (rate name, percent) of the refunded order lines."""
    return {
        (row["order_line__tax_rate_name"], row["order_line__tax_rate_percent"]): row["tax"]
        for row in refund_lines.values("order_line__tax_rate_name", "order_line__tax_rate_percent")
        .annotate(tax=total("tax_amount"))
        .order_by()
    }


def by_rate_order(rates: dict[tuple[str, Decimal], object]) -> list[tuple[tuple[str, Decimal], object]]:
    """Rates in the order every report prints them: by percent, then name."""
    return sorted(rates.items(), key=lambda item: (item[0][1], item[0][0]))


# --- payments and refunds ------------------------------------------------------------------------------------

# Cash that went into the drawer for a payment: what was handed over less the change given back.
DRAWER_IN = ExpressionWrapper(F("tendered") - F("change"), output_field=MONEY)


def payments_by_tender(payments: QuerySet) -> dict[str, dict]:
    """Per tender of `payments`: `count`, `amount` (tips excluded), `tips`, `rounding` (cash rounding) and `drawer`
    (cash into the drawer)."""
    return {
        row["tender"]: row
        for row in payments.values("tender")
        .annotate(
            count=Count("id"),
            amount=total("amount"),
            tips=total("tip"),
            rounding=total("rounding"),
            drawer=total(DRAWER_IN),
        )
        .order_by()
    }


def tips(payments: QuerySet) -> Decimal:
    return payments.aggregate(tips=total("tip"))["tips"]


def refunds_by_tender(refunds: QuerySet) -> dict[str, dict]:
    """Per tender of `refunds`: `count`, `amount` and `tax` (the tax inside the amount)."""
    return {
        row["tender"]: row
        for row in refunds.values("tender")
        .annotate(count=Count("id"), amount=total("amount"), tax=total("tax_amount"))
        .order_by()
    }


def refund_figures(refunds: QuerySet) -> dict:
    """`count`, `amount` and `tax` of `refunds`."""
    return refunds.aggregate(count=Count("id"), amount=total("amount"), tax=total("tax_amount"))


def column(rows: dict[str, dict], key: str, field: str = "amount"):
    """`rows[key][field]`, or 0 when that key has no row."""
    return rows[key][field] if key in rows else ZERO


def column_total(rows: dict[str, dict], field: str) -> Decimal:
    return sum((row[field] for row in rows.values()), ZERO)
