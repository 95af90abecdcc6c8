"""Server time for finding a customer on the POS order screen, with 100,000 customers.

Loads N customers (default 100,000) into its own PostgreSQL benchmark database (created and migrated if needed; the
customers are loaded once and reused), signs a cashier in at a paired terminal (as bench/pos_add_line.py does),
starts gunicorn with the production settings on a local port and times sequential htmx requests over one keep-alive
connection, from sending the request to reading the whole answer (the panel's list of results):

  * phone  GET /pos/customers/search/?q=<a customer's number, typed with a space>&order=<uuid>
  * email  GET /pos/customers/search/?q=<the start of a customer's address, up to and with the @>&order=<uuid>
  * name   GET /pos/customers/search/?q=<the first 4 letters of a customer's name>&order=<uuid>
  * card   GET /pos/customers/search/?q=<a customer's card code, as a scanner types it>&order=<uuid>

Each answer must list the customer looked for (name: some customer whose name starts so). It prints p50/p95/p99/max
per kind, the CPU the server's processes used per request and the load average, then the search alone (the selector
in this process, no HTTP), and exits non-zero when a p95 through HTTP is over 50 ms.

    .venv/bin/python bench/customer_search.py                  # 100,000 customers, 500 searches of each kind
    .venv/bin/python bench/customer_search.py --customers 20000 --searches 100 --port 8281
"""

import argparse
import html
import http.client
import os
import random
import signal
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import pos_add_line as pos  # noqa: E402 - the cashier session and timing helpers live next to this script
import product_search as catalogue  # noqa: E402

BUDGET_MS = 50.0
KINDS = ("phone", "email", "name", "card")
FIRST = (  # noqa: SIM905 - a word list reads better as text
    "Ada Alan Amara Anders Anika Bea Bruno Carmen Chen Dara Diego Elif Emil Esther Farah Felix Greta Hana Hugo Ines "
    "Ivan Jonas Jun Kai Kemal Lara Leon Lina Luca Maya Mei Milan Nadia Nils Noor Olga Omar Pia Priya Rafael Rosa "
    "Sami Sara Sofia Tariq Tom Una Vera Yusuf Zoe"
).split()
LAST = (  # noqa: SIM905
    "Abbott Alvarez Becker Bianchi Brennan Castro Dubois Eriksen Fischer Garcia Haddad Hansen Ibrahim Jansen "
    "Kaya Kowalski Larsen Lindqvist Moreau Müller Nakamura Novak Okafor Olsen Petrov Quinn Rossi Santos Schmidt "
    "Silva Tanaka Torres Urban Varga Weber Wong Yilmaz Zhang"
).split()


def customer_fields(n: int, rng: random.Random) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "name": f"{first} {last}",
        "phone": f"07{(n * 7919 + 12345) % 10**9:09d}",  # distinct for n below 10**9 (7919 is prime to 10)
        "email": f"{first.lower()}.{last.lower()}{n}@example.com",
        "card_code": f"29{n:011d}",
    }


def load_customers(count: int, seed: int) -> None:
    from django.db import connection, transaction

    from orders.models import Customer

    have = Customer.objects.filter(card_code__startswith="29").count()
    if have >= count:
        print(f"{have:,} benchmark customers already loaded")
        return
    rng = random.Random(seed)
    for _ in range(have):  # the same names as a load in one go
        rng.choice(FIRST), rng.choice(LAST)
    started = time.perf_counter()
    batch = 5000
    for start in range(have, count, batch):
        with transaction.atomic():
            Customer.objects.bulk_create(
                [Customer(**customer_fields(n, rng)) for n in range(start, min(start + batch, count))]
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_customer")
    print(f"loaded {count - have:,} customers in {time.perf_counter() - started:.1f} s")


def sample_searches(count: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind, query, what the answer must show), cycling through KINDS."""
    from orders.models import Customer

    rng = random.Random(seed + 5)
    rows = list(Customer.objects.filter(card_code__startswith="29").values_list("name", "phone", "email", "card_code"))
    searches = []
    for n in range(count):
        name, phone, email, card = rng.choice(rows)
        kind = KINDS[n % len(KINDS)]
        if kind == "phone":
            searches.append((kind, f"{phone[:5]} {phone[5:]}", name))
        elif kind == "email":
            searches.append((kind, email[: email.index("@") + 1], name))
        elif kind == "name":
            searches.append((kind, name[:4], name[:4]))
        else:
            searches.append((kind, card, name))
    return searches


def timed_get(conn: http.client.HTTPConnection, path: str, headers: dict) -> tuple[float, int, str]:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    return (time.perf_counter() - started) * 1000, response.status, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_customers")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=500, help="searches of each kind")
    parser.add_argument("--port", type=int, default=8281)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    env = {
        "DJANGO_SETTINGS_MODULE": "posproject.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": "",
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "False",
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
        "LOG_LEVEL": "WARNING",
    }
    catalogue.ensure_database(args.database_url)
    catalogue.setup_django(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    load_customers(args.customers, args.seed)
    session_key, location_id, user, device_cookie = pos.cashier_session()
    from staff.terminals import DEVICE_COOKIE

    [order] = pos.open_orders(location_id, user, 1)
    warmup = 40
    searches = sample_searches(len(KINDS) * args.searches + warmup, args.seed)
    headers = {
        "Cookie": f"sessionid={session_key}; csrftoken={pos.CSRF_TOKEN}; {DEVICE_COOKIE}={device_cookie}",
        "HX-Request": "true",
        "Referer": f"http://127.0.0.1:{args.port}/pos/",
    }
    server = catalogue.start_server(args.port, env, args.workers)
    results: dict[str, list[float]] = {kind: [] for kind in KINDS}
    try:
        pos.wait_until_up(args.port, headers)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        cpu_before = None
        for n, (kind, query, expected) in enumerate(searches):
            if n == warmup:
                cpu_before = pos.server_cpu_seconds(server.pid)
            path = f"/pos/customers/search/?q={quote(query)}&order={order}"
            ms, status, text = timed_get(conn, path, headers)
            if status != 200 or expected not in html.unescape(text):
                raise SystemExit(f"{kind} {query!r}: HTTP {status}, {expected!r} not found\n{text[:800]}")
            if n >= warmup:  # the first requests warm the workers' connections and caches; not counted
                results[kind].append(ms)
        cpu_ms = (pos.server_cpu_seconds(server.pid) - cpu_before) * 1000 / (len(searches) - warmup)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(f"\n{args.customers:,} customers, {args.searches:,} searches of each kind, gunicorn {args.workers} workers")
    print(f"{'kind':<6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}  budget p95")
    over = False
    for kind, values in results.items():
        p95 = catalogue.percentile(values, 95)
        over |= p95 > BUDGET_MS
        print(
            f"{kind:<6} {catalogue.percentile(values, 50):8.1f} {p95:8.1f} {catalogue.percentile(values, 99):8.1f}"
            f" {max(values):8.1f} {statistics.fmean(values):8.1f}  < {BUDGET_MS:.0f} ms"
            f" {'OK' if p95 <= BUDGET_MS else 'OVER'}"
        )
    print(f"server CPU per request (gunicorn, user + system): {cpu_ms:.1f} ms; load average {os.getloadavg()[0]:.1f}")
    print("the search alone (orders.selectors.search_customers in this process, its statements and the ORM):")
    for kind, values in search_alone(searches[warmup:]).items():
        p50, p95 = catalogue.percentile(values, 50), catalogue.percentile(values, 95)
        print(f"{kind:<6} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
    return 1 if over else 0


def search_alone(searches: list[tuple[str, str, str]]) -> dict[str, list[float]]:
    """The selector's own time per kind, without HTTP, sessions, permissions or the template: what the indexes buy."""
    from orders.selectors import search_customers

    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for kind, query, expected in searches:
        started = time.perf_counter()
        found = search_customers(query)
        times[kind].append((time.perf_counter() - started) * 1000)
        if not any(expected in customer.name for customer in found):
            raise SystemExit(f"{kind} {query!r}: {expected!r} not found in process")
    return times


if __name__ == "__main__":
    sys.exit(main())
