"""Daily rollups: each store's figures per local day, so that multi-year and all-store reports read a few rows a
day instead of every order line.

A day is a local calendar day in settings.TIME_ZONE, counted the way the sales reports count it
(billing.reports): a sale belongs to the day its order was paid, a refund and a payment to the day they were
given. A store's rollup for a day is the figures of that day's rows at that store, which is the sum of the Z
reports of the sessions that day when each till is closed before midnight (a session that runs past midnight
has its sales on both days; the rollups follow the days, the Z follows the session).

Writing: closing a Z (billing.sessions.close_session) calls `roll_up_session` in the Z's own transaction. It
recomputes, from the raw rows, every day the session touched (its opening day to today) at its store — a day is
always rewritten whole, never patched, so the last close of a day leaves its complete figures — and moves the
store's `RollupState.through` forward to the last day no till can still add to: yesterday, or the day before the
oldest session still open at the store. Every sale, refund and payment belongs to a cash session at the store, so
once every session that touched a day is closed and the day is over, its rollup is final.

Reading: billing.reports reads the rollups of days up to `through` and the raw rows of the rest (`Period.rollups`).

`rebuild(...)` recomputes a range from the raw rows (the `rebuild_rollups` command); `differences(...)` compares
what is stored with what the raw rows give now.

Columns per dimension (all sums unrounded; billing.figures defines each):
- total (key ""): the billing.figures SUM_KEYS (`orders` … `voids`, `gift_cards`).
- hour (key "0".."23", the local hour): orders, sales, discounts, tax, refunds, refund_tax.
- rate (key "name|percent"; name, percent): sales, base, tax (sold); refunds, refund_base, refund_tax (refunded).
- tender (key the tender): count, payments (tips excluded), tips, rounding, drawer; refund_count, refunds,
  refund_tax.
- product (key the product id): count (lines), quantity, sales, tax, base, cost — sold less refunded. Categories
  are the products grouped by their category at read time, as the category report does, so a product moved to
  another category moves its history with it in the rollups and the raw rows alike.
- staff (key the user id): orders, sales, discounts.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models.functions import ExtractHour
from django.utils import timezone

from billing import figures, reports
from billing.models import CashSession, DailyRollup, RollupState
from inventory.models import Location

Dimension = DailyRollup.Dimension
COLUMNS = (
    "name",
    "percent",
    "orders",
    "count",
    "quantity",
    "sales",
    "discounts",
    "service_charge",
    "tax",
    "base",
    "cost",
    "refund_count",
    "refunds",
    "refund_tax",
    "refund_base",
    "refund_service_charge",
    "refund_cost",
    "tips",
    "rounding",
    "payments",
    "drawer",
    "void_count",
    "voids",
    "gift_cards",
)


def day_rows(location: Location, day: date) -> list[DailyRollup]:
    """The rollup rows of one store's day, computed from the raw rows (unsaved). None for a day with no rows."""
    p = reports.period(location=location, date_from=day, date_to=day)
    p = reports.Period(locations=p.locations, date_from=day, date_to=day, rollups=False)

    def row(dimension: str, key: str = "", **values) -> DailyRollup:
        return DailyRollup(location=location, day=day, dimension=dimension, key=key, **values)

    scope = reports.period_scope(p)
    total = figures.sums_for(scope)
    if not any(total.values()):
        return []
    rows = [row(Dimension.TOTAL, **total)]
    for hour, sums in reports.raw_bucket_sums(p, ExtractHour).items():
        rows.append(row(Dimension.HOUR, str(hour), **sums))
    for (name, percent), sums in figures.rate_sums(scope).items():
        rows.append(
            row(
                Dimension.RATE,
                f"{name}|{format(percent.normalize(), 'f')}",
                name=name,
                percent=percent,
                sales=sums["sales"],
                base=sums["base"],
                tax=sums["tax"],
                refunds=sums["refund_sales"],
                refund_base=sums["refund_base"],
                refund_tax=sums["refund_tax"],
            )
        )
    for tender, sums in reports.raw_tender_sums(p).items():
        values = dict(sums)
        values["payments"] = values.pop("amount")
        rows.append(row(Dimension.TENDER, tender, **values))
    for product_id, sums in figures.lines_by_product(scope.lines, scope.refund_lines).items():
        rows.append(
            row(
                Dimension.PRODUCT,
                str(product_id),
                count=sums["lines"],
                quantity=sums["quantity"],
                sales=sums["sales"],
                tax=sums["tax"],
                base=sums["net"],
                cost=sums["cost"],
            )
        )
    for staff_id, sums in reports.raw_staff_sums(p).items():
        rows.append(row(Dimension.STAFF, str(staff_id or ""), **sums))
    return rows


def write_day(location: Location, day: date) -> int:
    """Replace one store's rollup rows for `day` with what the raw rows give now; returns how many were written."""
    rows = day_rows(location, day)
    DailyRollup.objects.filter(location=location, day=day).delete()
    DailyRollup.objects.bulk_create(rows)
    return len(rows)


def _local_day(moment) -> date:
    return timezone.localdate(moment)


def whole_through(location: Location) -> date:
    """The last day no till at `location` can still add to: yesterday, or the day before the oldest open session."""
    last = timezone.localdate() - timedelta(days=1)
    oldest_open = (
        CashSession.objects.filter(register__location=location, status=CashSession.Status.OPEN)
        .order_by("opened_at")
        .values_list("opened_at", flat=True)
        .first()
    )
    if oldest_open is not None:
        last = min(last, _local_day(oldest_open) - timedelta(days=1))
    return last


def _lock_state(location: Location) -> tuple[RollupState, bool]:
    RollupState.objects.get_or_create(location=location)
    state = RollupState.objects.select_for_update().get(location=location)
    return state, state.through is None


def roll_up_session(session: CashSession) -> list[date]:
    """Rewrite the rollups of every day `session` touched (opening day to today) at its store and move the store's
    `through` forward. Call it inside the Z's transaction, after the session is marked closed. Locks the store's
    RollupState row, so closes at one store take turns here.

    A store whose rollups have never been built (`through` null) gets a `through` only when this is its only
    closed session (nothing older to miss); otherwise `manage.py rebuild_rollups` builds its history first."""
    location = session.register.location
    state, fresh = _lock_state(location)
    first, today = _local_day(session.opened_at), timezone.localdate()
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    for day in days:
        write_day(location, day)
    if fresh:
        earlier = (
            CashSession.objects.filter(register__location=location, status=CashSession.Status.CLOSED)
            .exclude(pk=session.pk)
            .exists()
        )
        if earlier:
            return days
    through = whole_through(location)
    if state.through is None or through > state.through:
        RollupState.objects.filter(pk=state.pk).update(through=through, updated_at=timezone.now())
    return days


def _stores(location_ids: list[int] | None) -> list[Location]:
    stores = Location.objects.filter(kind=Location.Kind.STORE).order_by("pk")
    if location_ids:
        stores = stores.filter(pk__in=location_ids)
    return list(stores)


def _first_day(location: Location) -> date | None:
    opened = (
        CashSession.objects.filter(register__location=location)
        .order_by("opened_at")
        .values_list("opened_at", flat=True)
        .first()
    )
    return _local_day(opened) if opened is not None else None


def _days(location: Location, date_from: date | None, date_to: date | None) -> list[date]:
    first = date_from or _first_day(location)
    last = date_to or timezone.localdate()
    if first is None or first > last:
        return []
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class Difference:
    location: str
    day: date
    dimension: str
    key: str
    column: str
    stored: object
    raw: object

    def __str__(self):
        where = f"{self.location} {self.day} {self.dimension}[{self.key}] {self.column}"
        return f"{where}: stored {self.stored}, raw rows {self.raw}"


def _as_dict(row: DailyRollup) -> dict:
    values = {}
    for column in COLUMNS:
        value = getattr(row, column)
        values[column] = value.normalize() if isinstance(value, Decimal) else value
    return values


def differences(
    *, location_ids: list[int] | None = None, date_from: date | None = None, date_to: date | None = None
) -> list[Difference]:
    """Every stored rollup value that differs from what the raw rows give now (a missing row counts as zeros), from
    `date_from` (default: the store's first cash session) to `date_to` (default: its last whole day — later days are
    rewritten at each close and may lag the raw rows until their tills are closed)."""
    found = []
    for location in _stores(location_ids):
        last = date_to
        if last is None:
            state = RollupState.objects.filter(location=location).first()
            last = state.through if state is not None and state.through else whole_through(location)
        for day in _days(location, date_from, last):
            raw = {(r.dimension, r.key): _as_dict(r) for r in day_rows(location, day)}
            stored = {(r.dimension, r.key): _as_dict(r) for r in DailyRollup.objects.filter(location=location, day=day)}
            empty = _as_dict(DailyRollup())
            for dimension, key in sorted({*raw, *stored}):
                a, b = stored.get((dimension, key), empty), raw.get((dimension, key), empty)
                for column in COLUMNS:
                    if a[column] != b[column]:
                        found.append(Difference(location.code, day, dimension, key, column, a[column], b[column]))
    return found


def rebuild(
    *, location_ids: list[int] | None = None, date_from: date | None = None, date_to: date | None = None
) -> dict[str, int]:
    """Recompute the rollups of each store's days in the range (default: from its first cash session to today)
    from the raw rows, one transaction per store, and move its `through` to the last whole day when the whole
    history was rebuilt (no `date_from`). Returns rows written per store code."""
    written = {}
    for location in _stores(location_ids):
        with transaction.atomic():
            state, _ = _lock_state(location)
            written[location.code] = sum(write_day(location, day) for day in _days(location, date_from, date_to))
            if date_from is None and date_to is None:
                RollupState.objects.filter(pk=state.pk).update(
                    through=whole_through(location), updated_at=timezone.now()
                )
    return written
