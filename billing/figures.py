"""The one definition of every money figure: gross, discounts, sales, tax by rate with its taxable base, service
charge, tips, refunds, voids, cash rounding, cost of goods sold and margin.

Each figure is an ORM expression or an aggregate over querysets the caller chooses (a `Scope`): a cash session
picks the orders that got their sale receipt in the session and the session's own payments and refunds
(`billing.sessions`); the sales reports pick stores and a date range (`billing.reports`); the daily rollups pick a
store and a day. What is counted where is the caller's business; how a figure is computed from the rows is decided
here, once, so the X/Z, the reports, their CSV, the API and anything built on them agree to the cent.

Definitions (every amount as the guest saw it, after discounts):
- gift cards sold: a line of a `gift_card` product is money owed, not a sale (billing.giftcards): it is left out
  of every line figure (the scope's `lines` never hold one) and out of sales; `gift_cards` is what was paid for
  such lines (service charge aside), so an order's total is its sales plus its gift cards. The `sales` sum is
  already net of them (in the scopes and the rollups alike).
  Redeeming a card is a tender: the goods it pays for are sales then.
- sales: what was charged for the goods: a line's `amount_due` less its service charge share (tax included,
  whether shelf prices include it or it was added on top); an order's `total` is its lines' sales plus its service
  charge.
- net of tax (`base`): sales less the tax in them, the taxable base of a rate.
- refunds give back a line's share of all three (sales, tax, service charge); they count in the period (session,
  day) of the refund, not of the sale, and reduce sales, tax, service charge, cost and margin there.
- cost: the unit cost captured when the line was sold (`OrderLine.unit_cost`: the product's moving-average cost
  then, or its recipe's ingredients'), times the quantity; a refund takes back its quantity at that same cost.
- margin: net of tax less cost, goods only (the service charge is not a sale of goods). With costs ≥ 0 it is never
  more than the net sales of tax and, when the tax is not negative, never more than the net sales.

Amounts come back unrounded (sums of stored, already quantised columns and of per-unit costs times quantities);
`Figures.rounded()` quantises each figure once for display.

Stable functions for other modules: `Scope`, `figures_for(scope) -> Figures`, `rates_for(scope) -> list[RateFigures]`,
`lines_by_product(lines, refund_lines) -> dict[int, LineFigures]`, `payments_by_tender`, `refunds_by_tender`,
`voided_lines`, and the expressions `LINE_*`/`REFUND_*`. Each keyed figure also comes as its sums (`sums_for`,
`rate_sums`, the per-product and per-tender dicts) and a derivation from them (`figures_from`, `rates_from`,
`products_from`): the daily rollups (billing.rollups) store the sums, and a report adds rollup sums to raw sums
before deriving, so a figure is computed one way whatever rows it came from.
"""

from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from core.money import ZERO, quantize

MONEY = DecimalField(max_digits=20, decimal_places=4)
GIFT_CARD_KIND = "gift_card"  # inventory.Product.Kind.GIFT_CARD


def total(expression) -> Coalesce:
    """The sum of `expression` over the rows, 0 when there are none."""
    return Coalesce(Sum(expression), Value(ZERO), output_field=MONEY)


# --- order lines (active lines of sold orders) --------------------------------------------------------------

# What the guest was charged for a line's goods: tax included, service charge share left out.
LINE_SALES = ExpressionWrapper(F("amount_due") - F("service_charge_amount"), output_field=MONEY)

# The tax base ("net of tax") of a line.
LINE_TAX_BASE = ExpressionWrapper(F("amount_due") - F("service_charge_amount") - F("tax_amount"), output_field=MONEY)

# The cost of a line: the unit cost captured when it was sold, times its quantity.
LINE_COST = ExpressionWrapper(F("unit_cost") * F("quantity"), output_field=MONEY)

# The value of a voided line: its list price times its quantity (before any discount).
VOID_VALUE = ExpressionWrapper(F("unit_price") * F("quantity"), output_field=MONEY)

# --- refund lines --------------------------------------------------------------------------------------------

REFUND_SALES = ExpressionWrapper(F("amount") - F("service_charge_amount"), output_field=MONEY)
REFUND_TAX_BASE = ExpressionWrapper(F("amount") - F("service_charge_amount") - F("tax_amount"), output_field=MONEY)
REFUND_COST = ExpressionWrapper(F("order_line__unit_cost") * F("quantity"), output_field=MONEY)

# The per-line figures the product and category reports group ("sold" because "quantity" would shadow the column).
LINE_FIGURES = {
    "sold": Coalesce(Sum("quantity"), Value(ZERO), output_field=MONEY),
    "sales": total(LINE_SALES),
    "tax": total("tax_amount"),
    "net": total(LINE_TAX_BASE),
    "cost": total(LINE_COST),
}
REFUND_LINE_FIGURES = {
    "sold": Coalesce(Sum("quantity"), Value(ZERO), output_field=MONEY),
    "sales": total(REFUND_SALES),
    "tax": total("tax_amount"),
    "net": total(REFUND_TAX_BASE),
    "cost": total(REFUND_COST),
}


@dataclass(frozen=True)
class Scope:
    """The rows a set of figures counts. `orders`: the sold orders (paid or refunded since); `lines`: their active
    lines; `refunds` and `refund_lines`: the refunds counted here (whatever the sale's period) and their lines;
    `payments`: the payments counted here. Build it with `scope(...)` when the lines follow from the orders."""

    orders: QuerySet
    lines: QuerySet
    refunds: QuerySet
    refund_lines: QuerySet
    payments: QuerySet


def scope(*, orders: QuerySet, refunds: QuerySet, payments: QuerySet, lines: QuerySet | None = None) -> Scope:
    """A Scope whose lines are the active lines of `orders` (unless given) and whose refund lines are `refunds`'."""
    from billing.models import RefundLine
    from orders.models import OrderLine

    if lines is None:
        lines = OrderLine.objects.filter(order__in=orders, status=OrderLine.Status.ACTIVE)
    lines = lines.exclude(product__kind=GIFT_CARD_KIND)
    return Scope(
        orders=orders,
        lines=lines,
        refunds=refunds,
        refund_lines=RefundLine.objects.filter(refund__in=refunds),
        payments=payments,
    )


@dataclass(frozen=True)
class Figures:
    """Every money figure of a scope. Sold figures count the scope's sales, refund figures its refunds, net
    figures are sold less refunded."""

    orders: int
    gross_sales: Decimal  # sales + discounts
    discounts: Decimal
    sales: Decimal  # what was charged: goods (tax included) + service charge; the orders' totals less gift cards
    goods_sales: Decimal  # sales less service charge
    service_charge: Decimal
    tax: Decimal  # tax on the sales
    cost: Decimal  # cost of the goods sold
    refund_count: int
    refunds: Decimal  # what was given back
    refund_tax: Decimal
    refund_service_charge: Decimal
    refund_cost: Decimal  # cost taken back by the refunds (at the cost captured when sold)
    net_sales: Decimal  # sales − refunds
    net_tax: Decimal  # tax − refund tax: the tax due
    net_service_charge: Decimal
    net_of_tax: Decimal  # net sales − net tax (service charge included)
    net_goods_of_tax: Decimal  # net of tax less the net service charge: the goods' taxable base
    net_cost: Decimal  # cost − refund cost: the cost of goods sold
    margin: Decimal  # net_goods_of_tax − net_cost
    tips: Decimal
    rounding: Decimal  # cash rounding (positive: guests paid more than the exact amount)
    payments: Decimal  # paid towards orders (tips excluded)
    void_count: int
    voids: Decimal
    gift_cards: Decimal = ZERO  # gift cards sold: money owed, apart from sales

    def rounded(self) -> "Figures":
        """Each money figure quantised once, from the unrounded sums."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = quantize(value) if isinstance(value, Decimal) else value
        return Figures(**values)

    def as_dict(self) -> dict:
        return asdict(self)


# The sums every figure is derived from (`figures_from`): what a daily rollup's `total` row stores.
SUM_KEYS = (
    "orders",
    "sales",
    "discounts",
    "service_charge",
    "tax",
    "cost",
    "refund_count",
    "refunds",
    "refund_tax",
    "refund_service_charge",
    "refund_cost",
    "tips",
    "rounding",
    "payments",
    "void_count",
    "voids",
    "gift_cards",
)


def figures_for(s: Scope) -> Figures:
    """Every figure of the scope: five aggregate queries (orders, lines, refunds, refund lines, payments) and one
    for the voided lines of the scope's orders."""
    return figures_from(sums_for(s))


def sums_for(s: Scope) -> dict:
    """The SUM_KEYS sums of the scope's rows (unrounded). Sums of several scopes add up key by key."""
    from orders.models import OrderLine

    sold = s.orders.aggregate(
        count=Count("id"),
        sales=total("total"),
        discounts=total("discount_total"),
        service_charge=total("service_charge"),
        tax=total("tax_total"),
    )
    lines = s.lines.aggregate(cost=total(LINE_COST))
    refunded = s.refunds.aggregate(count=Count("id"), amount=total("amount"), tax=total("tax_amount"))
    refund_lines = s.refund_lines.aggregate(service=total("service_charge_amount"), cost=total(REFUND_COST))
    paid = s.payments.aggregate(amount=total("amount"), tips=total("tip"), rounding=total("rounding"))
    voids = voided_lines(OrderLine.objects.filter(order__in=s.orders))
    gift_cards = gift_card_lines(s.orders).aggregate(amount=total(LINE_SALES))["amount"]
    return {
        "orders": sold["count"],
        "sales": sold["sales"] - gift_cards,
        "discounts": sold["discounts"],
        "service_charge": sold["service_charge"],
        "tax": sold["tax"],
        "cost": lines["cost"],
        "refund_count": refunded["count"],
        "refunds": refunded["amount"],
        "refund_tax": refunded["tax"],
        "refund_service_charge": refund_lines["service"],
        "refund_cost": refund_lines["cost"],
        "tips": paid["tips"],
        "rounding": paid["rounding"],
        "payments": paid["amount"],
        "void_count": voids["count"],
        "voids": voids["amount"],
        "gift_cards": gift_cards,
    }


def gift_card_lines(orders: QuerySet) -> QuerySet:
    """The active gift-card lines of `orders` (money owed, not sales)."""
    from orders.models import OrderLine

    return OrderLine.objects.filter(order__in=orders, status=OrderLine.Status.ACTIVE, product__kind=GIFT_CARD_KIND)


def add_sums(*parts: dict) -> dict:
    """SUM_KEYS sums of several parts (scopes, rollup rows) added key by key."""
    return {
        key: sum((part[key] for part in parts), 0 if key.endswith("count") or key == "orders" else ZERO)
        for key in SUM_KEYS
    }


def figures_from(sums: dict) -> Figures:
    """Every figure, derived from the SUM_KEYS sums (of a scope, or of rollup rows: the same derivation)."""
    net_sales = sums["sales"] - sums["refunds"]
    net_tax = sums["tax"] - sums["refund_tax"]
    net_service = sums["service_charge"] - sums["refund_service_charge"]
    net_cost = sums["cost"] - sums["refund_cost"]
    net_goods = net_sales - net_tax - net_service
    return Figures(
        orders=sums["orders"],
        gross_sales=gross(sums["sales"], sums["discounts"]),
        discounts=sums["discounts"],
        sales=sums["sales"],
        goods_sales=sums["sales"] - sums["service_charge"],
        service_charge=sums["service_charge"],
        tax=sums["tax"],
        cost=sums["cost"],
        refund_count=sums["refund_count"],
        refunds=sums["refunds"],
        refund_tax=sums["refund_tax"],
        refund_service_charge=sums["refund_service_charge"],
        refund_cost=sums["refund_cost"],
        net_sales=net_sales,
        net_tax=net_tax,
        net_service_charge=net_service,
        net_of_tax=net_sales - net_tax,
        net_goods_of_tax=net_goods,
        net_cost=net_cost,
        margin=net_goods - net_cost,
        tips=sums["tips"],
        rounding=sums["rounding"],
        payments=sums["payments"],
        void_count=sums["void_count"],
        voids=sums["voids"],
        gift_cards=sums["gift_cards"],
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


# --- tax rates -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateFigures:
    """One tax rate of a scope: sold, refunded and net (sold − refunded) sales, taxable base and tax."""

    name: str
    percent: Decimal
    sales: Decimal
    base: Decimal
    tax: Decimal
    refund_sales: Decimal
    refund_base: Decimal
    refund_tax: Decimal
    net_sales: Decimal
    net_base: Decimal
    net_tax: Decimal


RATE_SUM_KEYS = ("sales", "base", "tax", "refund_sales", "refund_base", "refund_tax")


def rates_for(s: Scope) -> list[RateFigures]:
    """Per tax rate (rate name and percent as snapshotted on the line), by percent then name. The net bases and
    taxes add up to the scope's `net_goods_of_tax` and `net_tax`."""
    return rates_from(rate_sums(s))


def rate_sums(s: Scope) -> dict[tuple[str, Decimal], dict]:
    """Per (rate name, percent): the RATE_SUM_KEYS sums of the scope's lines and refund lines (unrounded)."""
    sold = {
        (row["tax_rate_name"], row["tax_rate_percent"]): row
        for row in s.lines.values("tax_rate_name", "tax_rate_percent")
        .annotate(sales=total(LINE_SALES), base=total(LINE_TAX_BASE), tax=total("tax_amount"))
        .order_by()
    }
    refunded = {
        (row["order_line__tax_rate_name"], row["order_line__tax_rate_percent"]): row
        for row in s.refund_lines.values("order_line__tax_rate_name", "order_line__tax_rate_percent")
        .annotate(sales=total(REFUND_SALES), base=total(REFUND_TAX_BASE), tax=total("tax_amount"))
        .order_by()
    }
    empty = {"sales": ZERO, "base": ZERO, "tax": ZERO}
    sums = {}
    for key in {*sold, *refunded}:
        a, b = sold.get(key, empty), refunded.get(key, empty)
        sums[key] = {
            "sales": a["sales"],
            "base": a["base"],
            "tax": a["tax"],
            "refund_sales": b["sales"],
            "refund_base": b["base"],
            "refund_tax": b["tax"],
        }
    return sums


def add_keyed(*parts: dict, keys: tuple[str, ...]) -> dict:
    """Dicts of per-key sums (rates, tenders, products …) added key by key; a key missing from a part is 0."""
    merged: dict = {}
    for part in parts:
        for key, row in part.items():
            target = merged.setdefault(key, {**row, **{k: 0 if k in INT_KEYS else ZERO for k in keys}})
            for k in keys:
                target[k] += row[k]
    return merged


INT_KEYS = {"orders", "count", "lines", "refund_count", "void_count"}


def rates_from(sums: dict[tuple[str, Decimal], dict]) -> list[RateFigures]:
    """RateFigures from `rate_sums` (of a scope, or added up over rollups), by percent then name."""
    rates = []
    for name, percent in sorted(sums, key=lambda key: (key[1], key[0])):
        row = sums[(name, percent)]
        rates.append(
            RateFigures(
                name=name,
                percent=percent,
                sales=row["sales"],
                base=row["base"],
                tax=row["tax"],
                refund_sales=row["refund_sales"],
                refund_base=row["refund_base"],
                refund_tax=row["refund_tax"],
                net_sales=row["sales"] - row["refund_sales"],
                net_base=row["base"] - row["refund_base"],
                net_tax=row["tax"] - row["refund_tax"],
            )
        )
    return rates


# --- products ------------------------------------------------------------------------------------------------


def lines_by_product(lines: QuerySet, refund_lines: QuerySet) -> dict[int, dict]:
    """Per product id: `lines` (sold lines), `quantity`, `sales`, `tax`, `net` (of tax), `cost` and `margin`, each
    sold less refunded (a product only refunded in the scope has negative figures). They add up to the scope's
    goods sales less refunds' goods, net tax, `net_goods_of_tax`, `net_cost` and `margin`."""
    rows: dict[int, dict] = {}
    for row in lines.values("product_id").annotate(lines=Count("id"), **LINE_FIGURES).order_by():
        rows[row["product_id"]] = row
    for row in refund_lines.values("order_line__product_id").annotate(**REFUND_LINE_FIGURES).order_by():
        product_id = row["order_line__product_id"]
        target = rows.setdefault(
            product_id, {"product_id": product_id, "lines": 0, **dict.fromkeys(LINE_FIGURES, ZERO)}
        )
        for key in LINE_FIGURES:
            target[key] -= row[key]
    for row in rows.values():
        row["quantity"] = row.pop("sold")
    return products_from(rows)


PRODUCT_SUM_KEYS = ("lines", "quantity", "sales", "tax", "net", "cost")


def products_from(rows: dict[int, dict]) -> dict[int, dict]:
    """Per-product PRODUCT_SUM_KEYS sums (of a scope, or added up over rollups) with their `margin`."""
    for row in rows.values():
        row["margin"] = row["net"] - row["cost"]
    return rows


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
