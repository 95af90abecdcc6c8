"""Sales reports: read-only selectors over a date range at one location, shared by the manager screens, the API and
the CSV export.

A sale belongs to the local day and hour its order was paid (settings.TIME_ZONE). Sales figures are what guests were
charged after discounts, tax included at a tax-inclusive store; `net` is that amount without tax; margin is net
minus the cost snapshot taken when the line was sold. Refunds and voids are reported on their own, on the day they
happened. Each report is one aggregate query (two for tenders and tax rates, which net refunds off).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Max,
    Min,
    QuerySet,
)
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from billing import figures
from billing.models import Payment, Refund, RefundLine
from core.errors import DomainError
from core.money import ZERO, quantize
from inventory.models import Location, Product
from orders.models import Order, OrderLine

MONEY = DecimalField(max_digits=20, decimal_places=4)
MAX_DAYS = 366
EARLIEST_DAY = date(2000, 1, 1)  # no sale of this product is older; a year-1 or year-9999 day is a typo
LATEST_DAY = date(2099, 12, 31)
SOLD = (Order.Status.PAID, Order.Status.REFUNDED)


@dataclass(frozen=True)
class Period:
    """Local calendar days `date_from`..`date_to` (both included) at one location."""

    location: Location
    date_from: date
    date_to: date

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_from, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_to + timedelta(days=1), time.min))

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1


def period(*, location: Location, date_from: date, date_to: date) -> Period:
    """Raises DomainError "invalid" when a day is outside EARLIEST_DAY..LATEST_DAY, the range is backwards or
    longer than MAX_DAYS."""
    for name, day in (("date_from", date_from), ("date_to", date_to)):
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            message = f"Choose a day from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}."
            raise DomainError(message, code="invalid", fields={name: [message]})
    if date_from > date_to:
        raise DomainError(
            "The start date is after the end date.",
            code="invalid",
            fields={"date_to": ["The end date is before the start date."]},
        )
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise DomainError(
            f"Choose at most {MAX_DAYS} days.", code="invalid", fields={"date_from": ["The range is too long."]}
        )
    return Period(location=location, date_from=date_from, date_to=date_to)


# --- building blocks ------------------------------------------------------------------------------------------


def sold_orders(p: Period) -> QuerySet[Order]:
    return Order.objects.filter(location=p.location, paid_at__gte=p.start, paid_at__lt=p.end, status__in=SOLD)


def sold_lines(p: Period) -> QuerySet[OrderLine]:
    """Active lines of the period's sold orders.

    Orders are numbered as they are opened, so the lines of a period's orders sit between its first and last order
    id: bounding `order_id` lets PostgreSQL read that slice of the lines through their order index instead of
    scanning every line ever sold (one cheap extra query on the orders' location/paid-at index).
    """
    bounds = sold_orders(p).aggregate(first=Min("id"), last=Max("id"))
    if bounds["first"] is None:
        return OrderLine.objects.none()
    return OrderLine.objects.filter(
        order_id__gte=bounds["first"],
        order_id__lte=bounds["last"],
        order__location=p.location,
        order__paid_at__gte=p.start,
        order__paid_at__lt=p.end,
        order__status__in=SOLD,
        status=OrderLine.Status.ACTIVE,
    )


_sum = figures.total
LINE_FIGURES = figures.LINE_FIGURES


def _money(rows: list[dict]) -> list[dict]:
    for row in rows:
        for key, value in row.items():
            if isinstance(value, Decimal) and key not in ("quantity", "percent", "margin_percent"):
                row[key] = quantize(value)
    return rows


def _with_margin(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["quantity"] = row.pop("sold")
        row["margin"] = row["net"] - row["cost"]
        row["margin_percent"] = (row["margin"] * 100 / row["net"]).quantize(Decimal("0.1")) if row["net"] else None
    return rows


# --- reports --------------------------------------------------------------------------------------------------


def summary(p: Period) -> dict:
    sold = figures.order_figures(sold_orders(p))
    orders = {"orders": sold.pop("count"), **sold}
    lines = sold_lines(p).aggregate(net=_sum(figures.LINE_TAX_BASE), cost=_sum(figures.LINE_COST))
    refunded = figures.refund_figures(
        Refund.objects.filter(order__location=p.location, created_at__gte=p.start, created_at__lt=p.end)
    )
    tips = figures.tips(
        Payment.objects.filter(order__location=p.location, created_at__gte=p.start, created_at__lt=p.end)
    )
    result = {
        **orders,
        "gross_sales": figures.gross(orders["sales"], orders["discounts"]),
        "refunds": refunded["amount"],
        "refund_count": refunded["count"],
        "net_sales": figures.net_sales(orders["sales"], refunded["amount"]),
        "average_ticket": orders["sales"] / orders["orders"] if orders["orders"] else ZERO,
        "tips": tips,
        "cost": lines["cost"],
        "margin": lines["net"] - lines["cost"],
    }
    return _money([result])[0]


def by_day(p: Period) -> list[dict]:
    zone = timezone.get_current_timezone()
    found = {
        row["day"]: row
        for row in sold_orders(p)
        .annotate(day=TruncDate("paid_at", tzinfo=zone))
        .values("day")
        .annotate(orders=Count("id"), sales=_sum("total"), discounts=_sum("discount_total"), tax=_sum("tax_total"))
        .order_by("day")
    }
    empty = {"orders": 0, "sales": ZERO, "discounts": ZERO, "tax": ZERO}
    days = (p.date_from + timedelta(days=n) for n in range(p.days))
    return _money([found.get(day, {"day": day, **empty}) for day in days])


def by_hour(p: Period) -> list[dict]:
    """All 24 local hours, empty ones included (the chart needs them)."""
    zone = timezone.get_current_timezone()
    found = {
        row["hour"]: row
        for row in sold_orders(p)
        .annotate(hour=ExtractHour("paid_at", tzinfo=zone))
        .values("hour")
        .annotate(orders=Count("id"), sales=_sum("total"))
        .order_by("hour")
    }
    return _money([found.get(hour, {"hour": hour, "orders": 0, "sales": ZERO}) for hour in range(24)])


def _per_product(p: Period) -> list[dict]:
    """Line figures grouped by product id alone (a narrow hash aggregate); names are looked up afterwards."""
    return list(sold_lines(p).values("product_id").annotate(lines=Count("id"), **LINE_FIGURES).order_by())


def by_product(p: Period) -> list[dict]:
    rows = _per_product(p)
    products = Product.objects.in_bulk([row["product_id"] for row in rows])
    for row in rows:
        product = products[row["product_id"]]
        row["sku"], row["product"] = product.sku, product.name
    rows.sort(key=lambda row: (-row["sales"], row["product"]))
    return _money(_with_margin(rows))


def by_category(p: Period) -> list[dict]:
    rows = _per_product(p)
    names = dict(Product.objects.filter(pk__in=[row["product_id"] for row in rows]).values_list("pk", "category__name"))
    categories: dict[str, dict] = {}
    for row in rows:
        name = names.get(row["product_id"]) or "(none)"
        total = categories.setdefault(name, {"category": name, "lines": 0, **dict.fromkeys(LINE_FIGURES, ZERO)})
        for key in ("lines", *LINE_FIGURES):
            total[key] += row[key]
    return _money(_with_margin(sorted(categories.values(), key=lambda row: -row["sales"])))


def gross_margin(p: Period) -> list[dict]:
    """Margin by category, best first; price minus the cost recorded when each line was sold."""
    return sorted(by_category(p), key=lambda row: row["margin"], reverse=True)


def by_staff(p: Period) -> list[dict]:
    rows = list(
        sold_orders(p)
        .values("staff_id", "staff__username", "staff__first_name", "staff__last_name")
        .annotate(orders=Count("id"), sales=_sum("total"), discounts=_sum("discount_total"))
        .order_by("-sales")
    )
    for row in rows:
        full_name = f"{row.pop('staff__first_name')} {row.pop('staff__last_name')}".strip()
        row["staff"] = full_name or row["staff__username"]
        row["username"] = row.pop("staff__username")
        row["average_ticket"] = row["sales"] / row["orders"] if row["orders"] else ZERO
    return _money(rows)


def by_tender(p: Period) -> list[dict]:
    window = {"created_at__gte": p.start, "created_at__lt": p.end, "order__location": p.location}
    paid = figures.payments_by_tender(Payment.objects.filter(**window))
    refunded = figures.refunds_by_tender(Refund.objects.filter(**window))
    rows = []
    for tender, label in Payment.Tender.choices:
        if tender in paid or tender in refunded:
            amount = paid[tender]["amount"] if tender in paid else ZERO
            refunds = refunded[tender]["amount"] if tender in refunded else ZERO
            rows.append(
                {
                    "tender": label,
                    "count": paid[tender]["count"] if tender in paid else 0,
                    "amount": amount,
                    "tips": paid[tender]["tips"] if tender in paid else ZERO,
                    "refunds": refunds,
                    "net": amount - refunds,
                }
            )
    return _money(rows)


def by_tax_rate(p: Period) -> list[dict]:
    sold = figures.tax_by_rate(sold_lines(p))
    refunded = figures.refund_tax_by_rate(
        RefundLine.objects.filter(
            refund__order__location=p.location, refund__created_at__gte=p.start, refund__created_at__lt=p.end
        )
    )
    empty = {"sales": ZERO, "base": ZERO, "tax": ZERO}
    rates = {key: {**sold.get(key, empty), "refund_tax": refunded.get(key, ZERO)} for key in {**sold, **refunded}}
    rows = []
    for (name, percent), row in figures.by_rate_order(rates):
        rows.append(
            {
                "rate": name,
                "percent": Decimal(format(percent.normalize(), "f")),
                "sales": row["sales"],
                "net": row["base"],
                "tax": row["tax"],
                "refund_tax": row["refund_tax"],
                "tax_due": row["tax"] - row["refund_tax"],
            }
        )
    return _money(rows)


def refunds(p: Period) -> list[dict]:
    rows = (
        Refund.objects.filter(order__location=p.location, created_at__gte=p.start, created_at__lt=p.end)
        .order_by("created_at", "id")
        .values(
            "id",
            "created_at",
            "order__uuid",
            "tender",
            "amount",
            "tax_amount",
            "reason",
            "created_by__username",
            "approved_by__username",
        )
    )
    return _money(
        [
            {
                "at": timezone.localtime(row["created_at"]),
                "order": str(row["order__uuid"])[:8],
                "tender": row["tender"],
                "amount": row["amount"],
                "tax": row["tax_amount"],
                "reason": row["reason"],
                "by": row["created_by__username"],
                "approved_by": row["approved_by__username"],
            }
            for row in rows
        ]
    )


def voids(p: Period) -> list[dict]:
    """Lines voided on orders of this location, dated by when the line was rung up."""
    value = figures.VOID_VALUE
    rows = (
        OrderLine.objects.filter(
            order__location=p.location,
            created_at__gte=p.start,
            created_at__lt=p.end,
            status=OrderLine.Status.VOIDED,
        )
        .annotate(value=value)
        .order_by("created_at", "id")
        .values(
            "created_at",
            "order__uuid",
            "order__status",
            "name",
            "quantity",
            "value",
            "void_reason",
            "voided_by__username",
            "void_approved_by__username",
        )
    )
    return _money(
        [
            {
                "at": timezone.localtime(row["created_at"]),
                "order": str(row["order__uuid"])[:8],
                "order_status": row["order__status"],
                "product": row["name"],
                "quantity": row["quantity"],
                "value": row["value"],
                "reason": row["void_reason"],
                "by": row["voided_by__username"],
                "approved_by": row["void_approved_by__username"],
            }
            for row in rows
        ]
    )


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    rows: Callable[[Period], list[dict]]
    columns: tuple[tuple[str, str], ...]  # (key, heading)


MARGIN_COLUMNS = (("net", "Net of tax"), ("cost", "Cost"), ("margin", "Margin"), ("margin_percent", "Margin %"))

REPORTS: dict[str, Report] = {
    report.slug: report
    for report in (
        Report(
            "day",
            "Sales by day",
            by_day,
            (("day", "Day"), ("orders", "Orders"), ("sales", "Sales"), ("discounts", "Discounts"), ("tax", "Tax")),
        ),
        Report("hour", "Sales by hour", by_hour, (("hour", "Hour"), ("orders", "Orders"), ("sales", "Sales"))),
        Report(
            "product",
            "Sales by product",
            by_product,
            (
                ("sku", "SKU"),
                ("product", "Product"),
                ("quantity", "Qty"),
                ("sales", "Sales"),
                ("tax", "Tax"),
                *MARGIN_COLUMNS,
            ),
        ),
        Report(
            "category",
            "Sales by category",
            by_category,
            (("category", "Category"), ("quantity", "Qty"), ("sales", "Sales"), ("tax", "Tax"), *MARGIN_COLUMNS),
        ),
        Report(
            "staff",
            "Sales by staff",
            by_staff,
            (
                ("staff", "Staff"),
                ("orders", "Orders"),
                ("sales", "Sales"),
                ("discounts", "Discounts"),
                ("average_ticket", "Avg ticket"),
            ),
        ),
        Report(
            "tender",
            "Payments by tender",
            by_tender,
            (
                ("tender", "Tender"),
                ("count", "Payments"),
                ("amount", "Taken"),
                ("tips", "Tips"),
                ("refunds", "Refunded"),
                ("net", "Net"),
            ),
        ),
        Report(
            "tax",
            "Tax by rate",
            by_tax_rate,
            (
                ("rate", "Rate"),
                ("percent", "%"),
                ("sales", "Sales"),
                ("net", "Net of tax"),
                ("tax", "Tax"),
                ("refund_tax", "Tax refunded"),
                ("tax_due", "Tax due"),
            ),
        ),
        Report(
            "margin",
            "Gross margin by category",
            gross_margin,
            (("category", "Category"), ("sales", "Sales"), *MARGIN_COLUMNS),
        ),
        Report(
            "refunds",
            "Refunds",
            refunds,
            (
                ("at", "When"),
                ("order", "Order"),
                ("tender", "Tender"),
                ("amount", "Amount"),
                ("tax", "Tax"),
                ("reason", "Reason"),
                ("by", "By"),
                ("approved_by", "Approved by"),
            ),
        ),
        Report(
            "voids",
            "Voided lines",
            voids,
            (
                ("at", "When"),
                ("order", "Order"),
                ("product", "Product"),
                ("quantity", "Qty"),
                ("value", "Value"),
                ("reason", "Reason"),
                ("by", "By"),
                ("approved_by", "Approved by"),
            ),
        ),
    )
}


def report_rows(slug: str, p: Period) -> list[dict]:
    """Rows of the report named `slug`. Raises DomainError "not_found" for an unknown report."""
    report = REPORTS.get(slug)
    if report is None:
        raise DomainError(f"No report called {slug!r}.", code="not_found", status=404)
    return report.rows(p)
