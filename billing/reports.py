"""Sales reports: read-only selectors over a date range at one store or several together (the sum of the stores),
shared by the manager screens, the API and the CSV export.

A sale belongs to the local day and hour its order was paid (settings.TIME_ZONE), a refund to the day and hour it
was given. Every figure is defined in `billing.figures`: sales are what guests were charged after discounts (tax
included, whether shelf prices include it or not); refunds reduce sales, tax, cost and margin in the period of the
refund; cost is the cost captured when each line was sold. The hours of a day add up to the day, the days to the
summary, the stores to all stores.

Whole closed days come from the daily rollups (billing.rollups: a store's days up to its `RollupState.through`),
the other days from the raw rows; both give the sums of billing.figures, added up before any figure is derived, so
a report answers the same either way (`Period.rollups=False` reads only raw rows). Refund and void listings always
read the raw rows (they list rows, they do not sum them).
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    DecimalField,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, ExtractHour, TruncDate
from django.utils import timezone

from billing import figures
from billing.models import DailyRollup, Payment, Refund, RollupState
from core.errors import DomainError
from core.money import ZERO, quantize
from inventory.models import Location, Product
from orders.models import Order, OrderLine
from staff.selectors import locations_for, own_stores

MONEY = DecimalField(max_digits=20, decimal_places=4)
MAX_DAYS = 366
EARLIEST_DAY = date(2000, 1, 1)  # no sale of this product is older; a year-1 or year-9999 day is a typo
LATEST_DAY = date(2099, 12, 31)
SOLD = (Order.Status.PAID, Order.Status.REFUNDED)


@dataclass(frozen=True)
class Period:
    """Local calendar days `date_from`..`date_to` (both included) at one or more stores (`locations`)."""

    locations: tuple[Location, ...]
    date_from: date
    date_to: date
    rollups: bool = True  # read whole closed days from the daily rollups (False: every day from the raw rows)

    @property
    def location(self) -> Location | None:
        """The store when there is one, None for several."""
        return self.locations[0] if len(self.locations) == 1 else None

    @property
    def location_ids(self) -> list[int]:
        return [location.pk for location in self.locations]

    @property
    def label(self) -> str:
        return self.locations[0].name if len(self.locations) == 1 else f"All stores ({len(self.locations)})"

    @property
    def code(self) -> str:
        return self.locations[0].code if len(self.locations) == 1 else "all"

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_from, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date_to + timedelta(days=1), time.min))

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def previous(self) -> "Period":
        """The period of as many days just before this one, at the same stores."""
        return replace(
            self, date_from=self.date_from - timedelta(days=self.days), date_to=self.date_from - timedelta(days=1)
        )

    def single(self, location: Location) -> "Period":
        return replace(self, locations=(location,))


def period(
    *,
    date_from: date,
    date_to: date,
    location: Location | None = None,
    locations: "list[Location] | tuple[Location, ...] | QuerySet[Location] | None" = None,
) -> Period:
    """A period at `location` or at each of `locations` (sums over all of them). Raises DomainError "invalid" when
    a day is outside EARLIEST_DAY..LATEST_DAY, the range is backwards or longer than MAX_DAYS, or no store is given."""
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
    chosen = (location,) if location is not None else tuple(sorted(locations or (), key=lambda loc: loc.pk))
    if not chosen:
        raise DomainError("Choose a store.", code="invalid", fields={"location": ["No store to report on."]})
    return Period(locations=chosen, date_from=date_from, date_to=date_to)


def report_stores(user) -> QuerySet[Location]:
    """The stores whose sales `user` may read (never a warehouse or kitchen: sales happen at stores)."""
    return locations_for(user).filter(kind=Location.Kind.STORE).order_by("name")


def default_stores(user) -> list[Location]:
    """Where a report opens: the user's own stores (on their staff profile) when they work at any, all of them
    together for someone who works at several; otherwise every store they may read."""
    stores = report_stores(user)
    own = list(stores.filter(pk__in=own_stores(user).values("pk")))
    return own or list(stores)


# --- building blocks ------------------------------------------------------------------------------------------


def sold_orders(p: Period) -> QuerySet[Order]:
    return Order.objects.filter(location__in=p.location_ids, paid_at__gte=p.start, paid_at__lt=p.end, status__in=SOLD)


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
        order__location__in=p.location_ids,
        order__paid_at__gte=p.start,
        order__paid_at__lt=p.end,
        order__status__in=SOLD,
        status=OrderLine.Status.ACTIVE,
    )


def period_refunds(p: Period) -> QuerySet[Refund]:
    """Refunds given in the period at its stores, whatever day the sale was."""
    return Refund.objects.filter(order__location__in=p.location_ids, created_at__gte=p.start, created_at__lt=p.end)


def period_payments(p: Period) -> QuerySet[Payment]:
    return Payment.objects.filter(order__location__in=p.location_ids, created_at__gte=p.start, created_at__lt=p.end)


def period_scope(p: Period) -> figures.Scope:
    """The rows a period's figures count (see billing.figures)."""
    return figures.scope(
        orders=sold_orders(p), lines=sold_lines(p), refunds=period_refunds(p), payments=period_payments(p)
    )


_sum = figures.total


# --- rollups and raw rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Where a period's figures come from: `raw` sub-periods (stores grouped by their first day not rolled up) and
    `rolled`, the DailyRollup filter of the whole closed days (None when there are none)."""

    raw: tuple[Period, ...]
    rolled: Q | None


def split(p: Period) -> Split:
    if not p.rollups:
        return Split(raw=(p,), rolled=None)
    through = dict(
        RollupState.objects.filter(location__in=p.location_ids, through__isnull=False).values_list(
            "location_id", "through"
        )
    )
    raw_groups: dict[date, list[Location]] = {}
    rolled_groups: dict[date, list[int]] = {}
    for location in p.locations:
        last = through.get(location.pk)
        if last is not None and last >= p.date_from:
            last = min(last, p.date_to)
            rolled_groups.setdefault(last, []).append(location.pk)
            first_raw = last + timedelta(days=1)
        else:
            first_raw = p.date_from
        if first_raw <= p.date_to:
            raw_groups.setdefault(first_raw, []).append(location)
    raw = tuple(
        Period(locations=tuple(stores), date_from=first, date_to=p.date_to, rollups=False)
        for first, stores in sorted(raw_groups.items())
    )
    rolled = None
    for last, ids in rolled_groups.items():
        q = Q(location__in=ids, day__gte=p.date_from, day__lte=last)
        rolled = q if rolled is None else rolled | q
    return Split(raw=raw, rolled=rolled)


def rolled_rows(s: Split, dimension: str) -> QuerySet[DailyRollup]:
    if s.rolled is None:
        return DailyRollup.objects.none()
    return DailyRollup.objects.filter(s.rolled, dimension=dimension)


def _rollup_total(field: str):
    if field in figures.INT_KEYS:
        return Coalesce(Sum(field), Value(0), output_field=IntegerField())
    return _sum(field)


def period_sums(p: Period) -> dict:
    """The billing.figures SUM_KEYS sums of the period: raw rows plus the rollups of whole closed days."""
    s = split(p)
    parts = [figures.sums_for(period_scope(r)) for r in s.raw]
    if s.rolled is not None:
        parts.append(
            rolled_rows(s, DailyRollup.Dimension.TOTAL).aggregate(**{k: _rollup_total(k) for k in figures.SUM_KEYS})
        )
    return figures.add_sums(*parts)


BUCKET_KEYS = ("orders", "sales", "discounts", "tax", "refunds", "refund_tax")


def raw_bucket_sums(p: Period, bucket) -> dict:
    """Per local `bucket` (TruncDate or ExtractHour) of the raw rows: BUCKET_KEYS sums (orders by paid-at, refunds
    by when given)."""
    zone = timezone.get_current_timezone()
    rows: dict = {}
    for row in (
        sold_orders(p)
        .annotate(key=bucket("paid_at", tzinfo=zone))
        .values("key")
        .annotate(orders=Count("id"), sales=_sum("total"), discounts=_sum("discount_total"), tax=_sum("tax_total"))
        .order_by()
    ):
        key = row.pop("key")
        rows[key] = {**row, "refunds": ZERO, "refund_tax": ZERO}
    for row in (
        figures.gift_card_lines(sold_orders(p))
        .annotate(key=bucket("order__paid_at", tzinfo=zone))
        .values("key")
        .annotate(amount=_sum(figures.LINE_SALES))
        .order_by()
    ):
        rows[row["key"]]["sales"] -= row["amount"]  # money owed, not sales (billing.figures)
    for row in (
        period_refunds(p)
        .annotate(key=bucket("created_at", tzinfo=zone))
        .values("key")
        .annotate(refunds=_sum("amount"), refund_tax=_sum("tax_amount"))
        .order_by()
    ):
        target = rows.setdefault(
            row["key"],
            {"orders": 0, "sales": ZERO, "discounts": ZERO, "tax": ZERO, "refunds": ZERO, "refund_tax": ZERO},
        )
        target["refunds"], target["refund_tax"] = row["refunds"], row["refund_tax"]
    return rows


def _rolled_keyed(s: Split, dimension: str, group: str, keys: tuple[str, ...], convert=lambda key: key) -> dict:
    return {
        convert(row.pop(group)): row
        for row in rolled_rows(s, dimension).values(group).annotate(**{k: _rollup_total(k) for k in keys}).order_by()
    }


def bucket_sums(p: Period, bucket) -> dict:
    s = split(p)
    parts = [raw_bucket_sums(r, bucket) for r in s.raw]
    if bucket is TruncDate:
        parts.append(_rolled_keyed(s, DailyRollup.Dimension.TOTAL, "day", BUCKET_KEYS))
    else:
        parts.append(_rolled_keyed(s, DailyRollup.Dimension.HOUR, "key", BUCKET_KEYS, int))
    return figures.add_keyed(*parts, keys=BUCKET_KEYS)


def raw_product_sums(p: Period) -> dict[int, dict]:
    sc = period_scope(p)
    return figures.lines_by_product(sc.lines, sc.refund_lines)


def product_sums(p: Period) -> dict[int, dict]:
    """Per product id: billing.figures PRODUCT_SUM_KEYS with the margin (raw rows plus rollups)."""
    s = split(p)
    parts: list[dict] = [raw_product_sums(r) for r in s.raw]
    rolled = _rolled_keyed(
        s, DailyRollup.Dimension.PRODUCT, "key", ("count", "quantity", "sales", "tax", "base", "cost"), int
    )
    parts.append(
        {
            product_id: {
                "product_id": product_id,
                "lines": row["count"],
                "quantity": row["quantity"],
                "sales": row["sales"],
                "tax": row["tax"],
                "net": row["base"],
                "cost": row["cost"],
            }
            for product_id, row in rolled.items()
        }
    )
    return figures.products_from(figures.add_keyed(*parts, keys=figures.PRODUCT_SUM_KEYS))


STAFF_KEYS = ("orders", "sales", "discounts")


def raw_staff_sums(p: Period) -> dict[int, dict]:
    rows = {
        row.pop("staff_id"): row
        for row in sold_orders(p)
        .values("staff_id")
        .annotate(orders=Count("id"), sales=_sum("total"), discounts=_sum("discount_total"))
        .order_by()
    }
    for row in (
        figures.gift_card_lines(sold_orders(p)).values("order__staff_id").annotate(amount=_sum(figures.LINE_SALES))
    ).order_by():
        rows[row["order__staff_id"]]["sales"] -= row["amount"]  # money owed, not sales (billing.figures)
    return rows


def staff_sums(p: Period) -> dict[int, dict]:
    s = split(p)
    parts = [raw_staff_sums(r) for r in s.raw]
    parts.append(_rolled_keyed(s, DailyRollup.Dimension.STAFF, "key", STAFF_KEYS, int))
    return figures.add_keyed(*parts, keys=STAFF_KEYS)


TENDER_KEYS = ("count", "amount", "tips", "rounding", "drawer", "refund_count", "refunds", "refund_tax")


def raw_tender_sums(p: Period) -> dict[str, dict]:
    """Per tender: payments taken (`count`, `amount`, `tips`, `rounding`, `drawer`) and refunds given
    (`refund_count`, `refunds`, `refund_tax`) in the period (billing.figures)."""
    paid = figures.payments_by_tender(period_payments(p))
    refunded = figures.refunds_by_tender(period_refunds(p))
    rows = {}
    for tender in {*paid, *refunded}:
        a, b = paid.get(tender, {}), refunded.get(tender, {})
        rows[tender] = {
            "count": a.get("count", 0),
            "amount": a.get("amount", ZERO),
            "tips": a.get("tips", ZERO),
            "rounding": a.get("rounding", ZERO),
            "drawer": a.get("drawer", ZERO),
            "refund_count": b.get("count", 0),
            "refunds": b.get("amount", ZERO),
            "refund_tax": b.get("tax", ZERO),
        }
    return rows


def tender_sums(p: Period) -> dict[str, dict]:
    s = split(p)
    parts: list[dict] = [raw_tender_sums(r) for r in s.raw]
    rolled = _rolled_keyed(
        s,
        DailyRollup.Dimension.TENDER,
        "key",
        ("count", "payments", "tips", "rounding", "drawer", "refund_count", "refunds", "refund_tax"),
    )
    for row in rolled.values():
        row["amount"] = row.pop("payments")
    parts.append(rolled)
    return figures.add_keyed(*parts, keys=TENDER_KEYS)


def rate_sums(p: Period) -> dict:
    s = split(p)
    parts: list[dict] = [figures.rate_sums(period_scope(r)) for r in s.raw]
    parts.append(
        {
            (row["name"], row["percent"]): {
                "sales": row["sales"],
                "base": row["base"],
                "tax": row["tax"],
                "refund_sales": row["refunds"],
                "refund_base": row["refund_base"],
                "refund_tax": row["refund_tax"],
            }
            for row in rolled_rows(s, DailyRollup.Dimension.RATE)
            .values("name", "percent")
            .annotate(**{k: _sum(k) for k in ("sales", "base", "tax", "refunds", "refund_base", "refund_tax")})
            .order_by()
        }
    )
    return figures.add_keyed(*parts, keys=figures.RATE_SUM_KEYS)


def _money(rows: list[dict]) -> list[dict]:
    for row in rows:
        for key, value in row.items():
            if isinstance(value, Decimal) and key not in ("quantity", "percent", "margin_percent"):
                row[key] = quantize(value)
    return rows


def _with_margin(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["margin"] = row["net"] - row["cost"]
        row["margin_percent"] = (row["margin"] * 100 / row["net"]).quantize(Decimal("0.1")) if row["net"] else None
    return rows


# --- reports --------------------------------------------------------------------------------------------------

SUMMARY_FIGURES = (
    "orders",
    "gross_sales",
    "discounts",
    "service_charge",
    "sales",
    "refunds",
    "refund_count",
    "net_sales",
    "tax",
    "net_of_tax",
    "cost",
    "margin",
    "tips",
    "rounding",
    "voids",
    "void_count",
)


def summary(p: Period) -> dict:
    """The period's figures (billing.figures): sales as charged, refunds given in the period, and the net figures,
    which count those refunds: `net_sales`, `tax` (the tax due, as on the Z), `net_of_tax`, `cost` (of goods sold
    less goods refunded, at the costs captured when sold) and `margin` (net of tax and service charge, less cost).
    """
    f = figures.figures_from(period_sums(p)).rounded()
    result = {
        "orders": f.orders,
        "gross_sales": f.gross_sales,
        "discounts": f.discounts,
        "service_charge": f.service_charge,
        "sales": f.sales,
        "refunds": f.refunds,
        "refund_count": f.refund_count,
        "net_sales": f.net_sales,
        "tax": f.net_tax,
        "tax_sold": f.tax,
        "refund_tax": f.refund_tax,
        "net_of_tax": f.net_of_tax,
        "cost": f.net_cost,
        "margin": f.margin,
        "tips": f.tips,
        "rounding": f.rounding,
        "voids": f.voids,
        "void_count": f.void_count,
        "average_ticket": quantize(f.sales / f.orders if f.orders else ZERO),
        "gift_cards_sold": f.gift_cards,
    }
    return result


def gift_card_liability(p: Period) -> dict:
    """The gift-card figures of the period, apart from sales (billing.giftcards.liability_summary): sold, redeemed,
    refunded to cards, breakage (expired), adjusted, and the outstanding liability now (every card's balance)."""
    from billing import giftcards

    return {
        key: quantize(value)
        for key, value in giftcards.liability_summary(p.start, p.end, location_ids=p.location_ids).items()
    }


def summary_with_previous(p: Period) -> dict:
    """`current` and `previous` (the as many days just before) summaries, and `change` (current − previous) of
    each money figure."""
    current, previous = summary(p), summary(p.previous())
    return {
        "current": current,
        "previous": previous,
        "previous_from": p.previous().date_from,
        "previous_to": p.previous().date_to,
        "change": {key: current[key] - previous[key] for key in current},
    }


def _buckets(p: Period, bucket, keys: list) -> list[dict]:
    """Sales and refunds per local `bucket` (TruncDate or ExtractHour): orders, sales, discounts, refunds, net sales
    and tax (net of refunds), for every key in `keys`."""
    sums = bucket_sums(p, bucket)
    empty = dict.fromkeys(BUCKET_KEYS, ZERO) | {"orders": 0}
    rows = []
    for key in keys:
        row = sums.get(key, empty)
        rows.append(
            {
                "orders": row["orders"],
                "sales": row["sales"],
                "discounts": row["discounts"],
                "refunds": row["refunds"],
                "net_sales": row["sales"] - row["refunds"],
                "tax": row["tax"] - row["refund_tax"],
                "key": key,
            }
        )
    return rows


def by_day(p: Period) -> list[dict]:
    """Every day of the period: orders paid, sales, discounts, refunds given that day, net sales and tax due."""
    days = [p.date_from + timedelta(days=n) for n in range(p.days)]
    rows = _buckets(p, TruncDate, days)
    for row in rows:
        row["day"] = row.pop("key")
    return _money(rows)


def by_hour(p: Period) -> list[dict]:
    """All 24 local hours, empty ones included (the chart needs them); each hour's figures as by_day's, so that the
    hours of a one-day period add up to its day."""
    rows = _buckets(p, ExtractHour, list(range(24)))
    for row in rows:
        row["hour"] = row.pop("key")
    return _money(rows)


def _per_product(p: Period) -> list[dict]:
    """Line figures per product id, net of the period's refunds (billing.figures.lines_by_product)."""
    return list(product_sums(p).values())


def by_product(p: Period) -> list[dict]:
    """Per product: quantity, sales (tax included), tax, net of tax, cost and margin, sold less refunded in the
    period. They add up to the summary's goods figures: sales = summary sales − service charge − refunded goods."""
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
    keys = ("lines", "quantity", "sales", "tax", "net", "cost")
    for row in rows:
        name = names.get(row["product_id"]) or "(none)"
        total = categories.setdefault(name, {"category": name, **dict.fromkeys(keys, ZERO)})
        for key in keys:
            total[key] += row[key]
    return _money(_with_margin(sorted(categories.values(), key=lambda row: -row["sales"])))


def gross_margin(p: Period) -> list[dict]:
    """Margin by category, best first; net of tax minus the cost captured when each line was sold, refunds
    taken back."""
    return sorted(by_category(p), key=lambda row: row["margin"], reverse=True)


def by_staff(p: Period) -> list[dict]:
    sums = staff_sums(p)
    users = get_user_model().objects.in_bulk([pk for pk in sums if pk is not None])
    rows = []
    for pk, row in sums.items():
        user = users.get(pk)
        full_name = f"{user.first_name} {user.last_name}".strip() if user else ""
        username = user.username if user else ""
        rows.append(
            {
                "staff_id": pk,
                "orders": row["orders"],
                "sales": row["sales"],
                "discounts": row["discounts"],
                "staff": full_name or username,
                "username": username,
                "average_ticket": row["sales"] / row["orders"] if row["orders"] else ZERO,
            }
        )
    rows.sort(key=lambda row: (-row["sales"], row["username"]))
    return _money(rows)


def by_tender(p: Period) -> list[dict]:
    sums = tender_sums(p)
    rows = []
    for tender, label in Payment.Tender.choices:
        if tender in sums:
            row = sums[tender]
            rows.append(
                {
                    "tender": str(label),
                    "count": row["count"],
                    "amount": row["amount"],
                    "tips": row["tips"],
                    "refunds": row["refunds"],
                    "net": row["amount"] - row["refunds"],
                }
            )
    return _money(rows)


def by_tax_rate(p: Period) -> list[dict]:
    """Per rate: sales, taxable base and tax sold, refunded in the period, and net (what a VAT return declares)."""
    return _money(
        [
            {
                "rate": rate.name,
                "percent": Decimal(format(rate.percent.normalize(), "f")),
                "sales": rate.sales,
                "net": rate.base,
                "tax": rate.tax,
                "refund_base": rate.refund_base,
                "refund_tax": rate.refund_tax,
                "net_base": rate.net_base,
                "tax_due": rate.net_tax,
            }
            for rate in figures.rates_from(rate_sums(p))
        ]
    )


def refunds(p: Period) -> list[dict]:
    rows = (
        period_refunds(p)
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
            order__location__in=p.location_ids,
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


BUCKET_COLUMNS = (
    ("orders", "Orders"),
    ("sales", "Sales"),
    ("discounts", "Discounts"),
    ("refunds", "Refunds"),
    ("net_sales", "Net sales"),
    ("tax", "Tax due"),
)
MARGIN_COLUMNS = (("net", "Net of tax"), ("cost", "Cost"), ("margin", "Margin"), ("margin_percent", "Margin %"))

REPORTS: dict[str, Report] = {
    report.slug: report
    for report in (
        Report(
            "day",
            "Sales by day",
            by_day,
            (("day", "Day"), *BUCKET_COLUMNS),
        ),
        Report("hour", "Sales by hour", by_hour, (("hour", "Hour"), *BUCKET_COLUMNS)),
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
                ("refund_base", "Net of tax refunded"),
                ("refund_tax", "Tax refunded"),
                ("net_base", "Net of tax due"),
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


# --- year over year -------------------------------------------------------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _months(p: Period) -> dict[int, dict]:
    """Per month (1..12) of a period within one calendar year: orders, net sales and tax due (net of refunds)."""
    months = {n: {"orders": 0, "net_sales": ZERO, "tax": ZERO} for n in range(1, 13)}
    for day, row in bucket_sums(p, TruncDate).items():
        month = months[day.month]
        month["orders"] += row["orders"]
        month["net_sales"] += row["sales"] - row["refunds"]
        month["tax"] += row["tax"] - row["refund_tax"]
    return months


def year_over_year(*, locations: "list[Location] | tuple[Location, ...]", year: int) -> dict:
    """`year` beside the year before, month by month, at one store or several together: orders, net sales (sales
    less refunds) and tax due per month, the change in net sales and its percent (None when last year had none).
    Whole closed days come from the daily rollups, so a year at every store costs two small queries."""
    this = period(locations=locations, date_from=date(year, 1, 1), date_to=date(year, 12, 31))
    last = period(locations=locations, date_from=date(year - 1, 1, 1), date_to=date(year - 1, 12, 31))
    now, before = _months(this), _months(last)
    rows = []
    for n in range(1, 13):
        change = now[n]["net_sales"] - before[n]["net_sales"]
        rows.append(
            {
                "month": MONTHS[n - 1],
                "orders": now[n]["orders"],
                "net_sales": quantize(now[n]["net_sales"]),
                "previous_orders": before[n]["orders"],
                "previous_net_sales": quantize(before[n]["net_sales"]),
                "change": quantize(change),
                "change_percent": (change * 100 / before[n]["net_sales"]).quantize(Decimal("0.1"))
                if before[n]["net_sales"]
                else None,
            }
        )
    totals = {
        key: sum((row[key] for row in rows), ZERO if key != "orders" and key != "previous_orders" else 0)
        for key in ("orders", "net_sales", "previous_orders", "previous_net_sales", "change")
    }
    previous_total = totals["previous_net_sales"]
    totals["change_percent"] = (
        (totals["change"] * 100 / previous_total).quantize(Decimal("0.1")) if previous_total else None
    )
    return {"year": year, "previous_year": year - 1, "label": this.label, "months": rows, "total": totals}
