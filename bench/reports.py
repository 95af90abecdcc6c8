"""Sales reports over 1,000,000 order lines: each report for one month at one location.

Loads (once; reused by later runs) 200,000 paid orders × 5 lines over 120 days, in time order, at two stores into a
PostgreSQL benchmark database (bench/reports_data.py), then times every report selector of billing.reports for the
last 30 days at the first store, and the whole sales screen (summary + all reports + the hourly chart) through the
test client, as a manager. Each figure is the median of 5 runs after one warm-up run.

Exits non-zero when a report is over the budget (2 s). The screen runs three of them (summary, hours, the
report shown) and is printed for information.

    .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --orders 20000   # a smaller data set for a quick look
"""

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_data import catalogue, ensure_database, paid_orders_sql, setup_django, staff_users

BUDGET_S = 2.0
RUNS = 5


def timed(fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_reports")
    parser.add_argument("--orders", type=int, default=200_000, help="orders in all (5 lines each)")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    ensure_database(args.database_url)
    setup_django(args.database_url)

    from django.conf import settings
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client, override_settings
    from django.utils import timezone

    from billing import reports
    from billing.models import CashSession, Register
    from inventory.models import Location
    from orders.models import Order, OrderLine
    from staff.roles import MANAGER

    rng = random.Random(args.seed)
    staff = staff_users()
    manager = staff[0]
    manager.groups.add(Group.objects.get(name=MANAGER))
    stores = [
        Location.objects.get_or_create(code=f"bench-store-{n}", defaults={"name": f"Bench store {n}"})[0]
        for n in (1, 2)
    ]
    end = timezone.localdate()
    have = Order.objects.filter(location__in=stores).count()
    if have < args.orders:
        products = catalogue(rng)
        started = time.perf_counter()
        sessions = []
        for store in stores:
            register, _ = Register.objects.get_or_create(location=store, name="Bench till")
            sessions.append(CashSession.objects.create(register=register, opened_by=manager, status="closed"))
        paid_orders_sql(
            sessions=sessions,
            products=products,
            staff=staff,
            count=args.orders - have,
            days=args.days,
            end=timezone.make_aware(datetime.combine(end, time_of_day.min)),
        )
        print(f"  loaded in {time.perf_counter() - started:.0f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    total_lines = OrderLine.objects.filter(order__location__in=stores).count()

    p = reports.period(location=stores[0], date_from=end - timedelta(days=30), date_to=end - timedelta(days=1))
    month_lines = reports.sold_lines(p).count()
    print(f"{total_lines:,} order lines in all; {month_lines:,} in the month reported ({p.date_from} to {p.date_to})")

    results = {"summary": timed(lambda: reports.summary(p))}
    for slug, report in reports.REPORTS.items():
        results[slug] = timed(lambda report=report: report.rows(p))
    # Production settings serve hashed static files from a manifest built by collectstatic; plain names will do here.
    plain_static = override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    plain_static.enable()
    client = Client(HTTP_HOST="localhost")
    client.force_login(manager)
    url = f"/reports/?location={stores[0].pk}&date_from={p.date_from}&date_to={p.date_to}&report="
    for slug in ("day", "product"):
        assert client.get(url + slug).status_code == 200
        results[f"sales screen, {slug} (HTTP)"] = timed(lambda slug=slug: client.get(url + slug))

    for name, seconds in results.items():
        print(f"  {name:<28} {seconds * 1000:8.0f} ms")
    slowest = max(seconds for name, seconds in results.items() if "screen" not in name)
    if slowest > BUDGET_S:
        print(f"FAIL: a report took {slowest:.2f} s, over the {BUDGET_S:.0f} s budget")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
