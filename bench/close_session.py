"""Closing a cash session of 27,000 paid orders (5 lines each): how long the blind-count close takes.

Recreates a throwaway PostgreSQL database, opens a session through billing.sessions.open_session, loads the orders
with their lines, payments and receipts in bulk (see bench/reports_data.py), adds pay-ins and pay-outs through the
services, then times:

  * the X report (running totals) — the median of 3 runs;
  * close_session with a blind count — one close, as a till is closed once; with its number of SQL queries.

It checks the Z report against straight sums of the session's rows and exits non-zero if they differ or the close
takes longer than the budget (5 s).

    .venv/bin/python bench/close_session.py
    .venv/bin/python bench/close_session.py --orders 5000 --database-url postgres://postgres@127.0.0.1:5432/x
"""

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_data import catalogue, ensure_database, paid_orders, setup_django, staff_users

BUDGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_close")
    parser.add_argument("--orders", type=int, default=27_000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    ensure_database(args.database_url, fresh=True)
    setup_django(args.database_url)

    from django.db import connection
    from django.db.models import Sum
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from billing import sessions
    from billing.models import Payment, Register
    from inventory.models import Location
    from orders.models import OrderLine
    from staff.roles import MANAGER

    rng = random.Random(args.seed)
    location = Location.objects.create(code="bench-close", name="Bench close")
    register = Register.objects.create(location=location, name="Till 1")
    staff = staff_users()
    manager = staff[0]
    from django.contrib.auth.models import Group

    manager.groups.add(Group.objects.get(name=MANAGER))
    products = catalogue(rng)
    session = sessions.open_session(register_id=register.pk, user=manager, opening_float="200.00")

    started = time.perf_counter()
    opened = timezone.now() - timedelta(hours=14)

    def paid_at(i: int):
        return opened + timedelta(seconds=i * 50400 / args.orders)

    def progress(done: int) -> None:
        print(f"\r  loaded {done:,} orders", end="", flush=True)

    paid_orders(
        location=location,
        session=session,
        products=products,
        staff=staff,
        count=args.orders,
        lines_per_order=args.lines,
        paid_at=paid_at,
        rng=rng,
        register=Register.objects.get(pk=register.pk),
        progress=progress,
    )
    for n in range(10):
        sessions.pay_in(session_id=session.pk, user=manager, amount="50.00", reason=f"Change delivery {n}")
        sessions.pay_out(session_id=session.pk, user=manager, amount="12.35", reason=f"Supplier {n}")
    lines = OrderLine.objects.filter(order__payments__session=session).count()
    print(f"\n  {args.orders:,} orders, {lines:,} lines loaded in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    x_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        totals = sessions.session_totals(sessions.CashSession.objects.get(pk=session.pk))
        x_times.append(time.perf_counter() - t0)
    expected = totals.cash.expected
    count = {"100": int(expected // 100), "0.01": int((expected % 100) * 100)}

    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        z = sessions.close_session(session_id=session.pk, user=manager, denominations=count)
        close_s = time.perf_counter() - t0

    paid = Payment.objects.filter(session=session).aggregate(total=Sum("amount"))["total"]
    ok = z.net_sales == paid and z.data["order_count"] == args.orders and z.data["cash"]["over_short"] == "0.00"
    print(f"X report (session totals), median of 3: {statistics.median(x_times) * 1000:.0f} ms")
    print(f"close_session: {close_s * 1000:.0f} ms, {len(queries.captured_queries)} SQL queries")
    receipts = z.data["receipts"]
    print(f"Z{z.number}: net sales {z.net_sales}, {z.data['order_count']:,} orders, receipts "
          f"{receipts['first']}-{receipts['last']}, Z equals the sum of payments: {ok}")  # fmt: skip
    if not ok:
        print("FAIL: the Z report does not match the session's payments")
        return 1
    if close_s > BUDGET_S:
        print(f"FAIL: over the {BUDGET_S:.0f} s budget")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
