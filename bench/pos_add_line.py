"""Server time for adding a line on the POS order screen, with 100,000 products in the catalogue.

Loads the catalogue the way bench/product_search.py does (into its own PostgreSQL database, once), signs a cashier
in, opens orders, starts gunicorn with the production settings on a local port and times sequential htmx requests
over one keep-alive connection, from sending the request to reading the whole answer (the refreshed order panel):

  * button   POST /pos/orders/<uuid>/lines/  product=<id>        (a tap on the product grid)
  * scan     POST /pos/orders/<uuid>/lines/  code=<ean13>        (a barcode scanner typing + Enter)
  * chooser  POST /pos/orders/<uuid>/lines/  product=<dish>      (a tap on a dish with modifier groups: the
                                                                  answer is the chooser, nothing is added)
  * options  POST /pos/orders/<uuid>/lines/  product=<dish>&chooser=1&option=…  (the chooser's "Add": a doneness
                                                                  and up to three extras, one using an ingredient)

The dish has a "Doneness" group (exactly 1 of 4) and an "Extras" group (up to 3 of 4, one taking an ingredient out
of stock when sold); the choices rotate, so some adds merge into an unsent line with the same choices and others
make a new one, as on a real order screen.

Orders grow to 20 lines, then the next order is used, so the panel rendered is of a realistic size. It prints
p50/p95/p99/max per kind, the CPU the server's processes used per request (a floor under the wall-clock time that
other processes' load does not move; database time is not in it) and the load average, and exits non-zero when a
p95 is over 50 ms.

    .venv/bin/python bench/pos_add_line.py                     # 100,000 products, 500 lines of each kind
    .venv/bin/python bench/pos_add_line.py --products 20000 --lines 100 --port 8271
"""

import argparse
import http.client
import os
import random
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import product_search as catalogue  # noqa: E402 - the shared catalogue loader lives next to this script

BUDGET_MS = 50.0
KINDS = ("button", "scan", "chooser", "options")
LINES_PER_ORDER = 20
CSRF_TOKEN = "benchcsrftoken0123456789abcdefgh"  # 32 characters: a valid CSRF secret


def cashier_session() -> tuple[str, int, "object", str]:
    """A cashier at a store with a till open, signed in: returns the session key, the location id and the user."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore

    from billing.models import CashSession, Register
    from inventory.models import Location
    from staff.models import StaffProfile, Terminal
    from staff.terminals import device_cookie_value

    location, _ = Location.objects.get_or_create(code="bench-store", defaults={"name": "Bench store"})
    user, _ = User.objects.get_or_create(username="bench-cashier")
    user.groups.add(Group.objects.get(name="Cashier"))
    StaffProfile.objects.get_or_create(user=user)[0].locations.add(location)
    register, _ = Register.objects.get_or_create(location=location, name="Bench till")
    if not CashSession.objects.filter(register=register, status="open").exists():
        CashSession.objects.create(register=register, opened_by=user)

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    # The bench's browser is a paired terminal at the store, with the till as its register (the device cookie).
    device, _ = Terminal.objects.get_or_create(location=location, name="Bench till", defaults={"register": register})
    Terminal.objects.filter(pk=device.pk).update(register=register, paired_at=device.created_at, revoked_at=None)
    return session.session_key, location.pk, user, device_cookie_value(device)


def open_orders(location_id: int, user, count: int) -> list[str]:
    from orders.services import open_order

    return [str(open_order(location_id=location_id, user=user).uuid) for _ in range(count)]


def dish_with_groups() -> tuple[int, list[int], list[int]]:
    """A menu dish with a "Doneness" (exactly 1) and an "Extras" (up to 3) group: its id and the option ids."""
    from decimal import Decimal

    from inventory.models import Product, TaxRate
    from orders.models import ModifierGroup, ModifierOption

    tax = TaxRate.objects.first() or TaxRate.objects.create(name="Bench", percent=Decimal(20))
    dish, created = Product.objects.get_or_create(
        sku="BENCHDISH",
        defaults={"name": "Bench steak", "price": Decimal("18.00"), "tax_rate": tax, "kind": "menu_item"},
    )
    if created:
        bacon = Product.objects.create(sku="BENCHBACON", name="Bench bacon", tax_rate=tax, kind="ingredient")
        doneness = ModifierGroup.objects.create(name="Doneness", min_choices=1, max_choices=1)
        extras = ModifierGroup.objects.create(name="Extras", min_choices=0, max_choices=3, sort_order=1)
        for group in (doneness, extras):
            group.products.add(dish)
        for name in ("Rare", "Medium rare", "Medium", "Well done"):
            ModifierOption.objects.create(group=doneness, name=name)
        ModifierOption.objects.create(
            group=extras, name="Bacon", price_delta=Decimal("1.50"), ingredient=bacon, ingredient_quantity=1
        )
        for name, price in (("Cheese", "1.00"), ("Egg", "0.80"), ("Fries", "2.50")):
            ModifierOption.objects.create(group=extras, name=name, price_delta=Decimal(price))
    groups = {g.name: list(g.options.values_list("pk", flat=True)) for g in ModifierGroup.objects.filter(products=dish)}
    return dish.pk, groups["Doneness"], groups["Extras"]


def sample_products(count: int, seed: int) -> list[tuple[int, str]]:
    from inventory.models import Product

    rng = random.Random(seed + 2)
    ids = list(Product.objects.filter(sku__startswith="BENCH").values_list("pk", "barcode")[:200_000])
    return [rng.choice(ids) for _ in range(count)]


def server_cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) used so far by a process and its children: gunicorn's master and workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root_pid in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def timed_post(conn: http.client.HTTPConnection, path: str, body: str, headers: dict) -> tuple[float, int, str]:
    started = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    return (time.perf_counter() - started) * 1000, response.status, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_pos")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=500, help="lines added of each kind")
    parser.add_argument("--port", type=int, default=8271)
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
    catalogue.load_products(args.products, args.seed)
    session_key, location_id, user, device_cookie = cashier_session()
    from staff.terminals import DEVICE_COOKIE

    total = len(KINDS) * args.lines
    warmup = 40
    orders = open_orders(location_id, user, (total + warmup) // LINES_PER_ORDER + 2)
    products = sample_products(total + warmup, args.seed)
    dish, doneness, extras = dish_with_groups()
    rng = random.Random(args.seed + 3)

    headers = {
        "Cookie": f"sessionid={session_key}; csrftoken={CSRF_TOKEN}; {DEVICE_COOKIE}={device_cookie}",
        "X-CSRFToken": CSRF_TOKEN,
        "HX-Request": "true",
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"http://127.0.0.1:{args.port}/pos/",
        "Origin": f"http://127.0.0.1:{args.port}",
    }
    server = catalogue.start_server(args.port, env, args.workers)
    results: dict[str, list[float]] = {kind: [] for kind in KINDS}
    try:
        wait_until_up(args.port, headers)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        cpu_before = None
        for n, (product_id, barcode) in enumerate(products):
            if n == warmup:
                cpu_before = server_cpu_seconds(server.pid)
            kind = KINDS[n % len(KINDS)]
            if kind == "button":
                body = f"product={product_id}"
            elif kind == "scan":
                body = f"code={barcode}"
            elif kind == "chooser":
                body = f"product={dish}"
            else:
                chosen = [rng.choice(doneness), *rng.sample(extras, rng.randint(0, 3))]
                body = f"product={dish}&chooser=1" + "".join(f"&option={pk}" for pk in chosen)
            path = f"/pos/orders/{orders[n // LINES_PER_ORDER]}/lines/"
            ms, status, text = timed_post(conn, path, body, headers)
            if status != 200 or ("data-chooser" if kind == "chooser" else "Added ") not in text:
                raise SystemExit(f"{kind} {body}: HTTP {status}\n{text[:800]}")
            if n >= warmup:  # the first requests warm the workers' connections and caches; not counted
                results[kind].append(ms)
        cpu_ms = (server_cpu_seconds(server.pid) - cpu_before) * 1000 / total
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(f"\n{args.products:,} products, {args.lines:,} requests of each kind, gunicorn {args.workers} workers")
    print(f"{'kind':<8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}  budget p95")
    over = False
    for kind, values in results.items():
        p95 = catalogue.percentile(values, 95)
        over |= p95 > BUDGET_MS
        print(
            f"{kind:<8} {catalogue.percentile(values, 50):8.1f} {p95:8.1f} {catalogue.percentile(values, 99):8.1f}"
            f" {max(values):8.1f} {statistics.fmean(values):8.1f}  < {BUDGET_MS:.0f} ms"
            f" {'OK' if p95 <= BUDGET_MS else 'OVER'}"
        )
    print(f"server CPU per request (gunicorn, user + system): {cpu_ms:.1f} ms; load average {os.getloadavg()[0]:.1f}")
    return 1 if over else 0


def wait_until_up(port: int, headers: dict, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live", headers=headers)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not answer within {deadline_s} s")


if __name__ == "__main__":
    sys.exit(main())
