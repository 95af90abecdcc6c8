"""The manager's start page: today so far at their stores beside the same weekday a week ago, and what needs a look
now (tills left open, receipts that did not print, stock at its reorder point).

Every money figure is the sales report's (`billing.reports.summary`, built on `billing.figures`), so the start page,
the reports, the X/Z and the exports agree to the cent; this module only chooses the stores and the days."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from billing import reports
from billing.models import CashSession, PrintJob
from billing.printing import PROBLEM_STATUSES
from inventory.models import Location
from inventory.selectors import low_stock

TOP_PRODUCTS = 5


@dataclass(frozen=True)
class StoreDay:
    label: str
    store: Location | None  # None: all the user's stores together
    today: dict
    week_ago: dict

    @property
    def change_percent(self) -> Decimal | None:
        """Net sales today against the same weekday last week, in percent; None when there were none then."""
        before = self.week_ago["net_sales"]
        if not before:
            return None
        return ((self.today["net_sales"] - before) * 100 / before).quantize(Decimal("1"))


def start_page(user, *, now: datetime | None = None) -> dict | None:
    """Today at the stores the sales report opens on for `user` (their own, else all they may read); None when
    there are none."""
    stores = reports.default_stores(user)
    if not stores:
        return None
    day = timezone.localdate(now)
    rows = [_store_day(store.name, store, day, stores=[store]) for store in stores]
    everything = _store_day(f"All stores ({len(stores)})", None, day, stores=stores) if len(stores) > 1 else None
    today_all = reports.period(date_from=day, date_to=day, locations=stores)
    return {
        "day": day,
        "week_ago": day - timedelta(days=7),
        "rows": rows,
        "total": everything,
        "top_products": reports.by_product(today_all)[:TOP_PRODUCTS],
        "open_sessions": _open_sessions(stores, day),
        "print_problems": PrintJob.objects.filter(
            location__in=stores, status__in=PROBLEM_STATUSES, resolved_at__isnull=True
        ).count(),
        "low_stock": low_stock(locations=Location.objects.filter(pk__in=[s.pk for s in stores])).count(),
    }


def _store_day(label: str, store: Location | None, day: date, *, stores: list[Location]) -> StoreDay:
    today = reports.period(date_from=day, date_to=day, locations=stores)
    week_ago = reports.period(date_from=day - timedelta(days=7), date_to=day - timedelta(days=7), locations=stores)
    return StoreDay(label=label, store=store, today=reports.summary(today), week_ago=reports.summary(week_ago))


def _open_sessions(stores: list[Location], day: date) -> list[CashSession]:
    """Cash sessions still open at the stores; `opened_before_today` marks the ones left open overnight."""
    sessions = list(
        CashSession.objects.filter(register__location__in=stores, status=CashSession.Status.OPEN)
        .select_related("register__location", "opened_by")
        .order_by("opened_at")
    )
    for session in sessions:
        session.opened_before_today = timezone.localdate(session.opened_at) < day
    return sessions
