"""Product search latency through the HTTP API with 100,000 products.

Loads N products (default 100,000) into a PostgreSQL benchmark database (created and migrated if needed; the
products are loaded once and reused), starts gunicorn with the production settings on a local port, and times
sequential requests over one keep-alive connection:

  * name prefix  GET /api/v1/products/?q=<first 3–6 letters of a product name>&limit=20
  * barcode      GET /api/v1/products/barcode/<ean13>/

It prints p50/p95/p99/max per kind and exits non-zero when a p95 is over budget (barcode 50 ms, name 100 ms).

    .venv/bin/python bench/product_search.py                   # 100,000 products, 1,000 queries of each kind
    .venv/bin/python bench/product_search.py --products 20000 --queries 200 --port 8201
"""

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = {"barcode": 50.0, "name prefix": 100.0}

BRANDS = (  # noqa: SIM905 - a word list reads better as text
    "Alpen Aurora Bergmann Blossom Brightwater Castello Cedar Clover Coastal Copper Corner Crown Daybreak "
    "Delta Dunmore Elmwood Emerald Fairfield Fenwick Fjord Foxglove Golden Granite Greenleaf Harbour "
    "Harvest Hazel Heritage Highland Hollow Horizon Ironbridge Juniper Kestrel Lakeside Lantern Linden "
    "Maple Marigold Meadow Millstone Misty Monarch Northfield Oakridge Orchard Pebble Pinecrest Prairie "
    "Quarry Redwood Riverside Rosehip Saffron Sandpiper Silverline Skylark Sorrel Southdown Springwell "
    "Stonegate Summit Sunrise Thistle Timber Tidewater Valley Velvet Westbrook Wildflower Willow Windmill "
    "Woodland Yarrow Zephyr"
).split()
GOODS = (  # noqa: SIM905
    "apple juice oat milk almond espresso beans green tea black lemonade cola tonic water sparkling "
    "orange cheddar gouda brie butter yoghurt cream cheese bagels sourdough baguette croissants muffins "
    "granola porridge oats cornflakes basmati rice spaghetti penne fusilli tomato sauce pesto olive oil "
    "sunflower vinegar honey jam peanut chocolate spread dark crisps pretzels popcorn cashews almonds "
    "walnuts raisins dates figs chickpeas lentils kidney tuna sardines salmon fillet chicken breast beef "
    "mince sausages bacon ham salami eggs potatoes carrots onions garlic ginger lemons limes bananas "
    "apples pears grapes strawberries blueberries spinach lettuce tomatoes cucumbers peppers mushrooms "
    "broccoli cauliflower dish soap laundry liquid bin bags kitchen roll toilet paper toothpaste shampoo "
    "hand batteries candles matches"
).split()
SIZES = ["100g", "250g", "500g", "1kg", "330ml", "500ml", "1l", "2l", "6 pack", "12 pack", "family size", "mini"]


def ean13(number: int) -> str:
    stem = f"{200000000000 + number:012d}"
    digits = [int(c) for c in stem]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return stem + str(check)


def product_name(rng: random.Random) -> str:
    first, second = rng.sample(GOODS, 2)
    return f"{rng.choice(BRANDS)} {first} {second} {rng.choice(SIZES)}".title()


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def load_products(count: int, seed: int) -> None:
    from django.core.management import call_command
    from django.db import transaction

    from inventory.models import Category, Product, TaxRate

    call_command("migrate", verbosity=0, interactive=False)
    have = Product.objects.filter(sku__startswith="BENCH").count()
    if have >= count:
        print(f"{have:,} benchmark products already loaded")
        return
    tax, _ = TaxRate.objects.get_or_create(name="Standard", defaults={"percent": 20})
    categories = [Category.objects.get_or_create(name=f"Bench {n}")[0] for n in range(20)]
    rng = random.Random(seed)
    started = time.perf_counter()
    batch = 5000
    for start in range(have, count, batch):
        with transaction.atomic():
            Product.objects.bulk_create(
                [
                    Product(
                        sku=f"BENCH{n:07d}",
                        barcode=ean13(n),
                        name=product_name(rng),
                        category=rng.choice(categories),
                        price=rng.randint(50, 5000) / 100,
                        cost=rng.randint(20, 2500) / 100,
                        tax_rate=tax,
                    )
                    for n in range(start, min(start + batch, count))
                ]
            )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_product")
    print(f"loaded {count - have:,} products in {time.perf_counter() - started:.1f} s")


def api_authorization() -> str:
    """The Authorization header of a read-only API client (a manager's DRF token where API clients do not exist)."""
    from inventory.models import Location

    try:
        from staff.api_clients import create_api_client
        from staff.models import ApiClient
    except ImportError:
        from django.contrib.auth.models import Group, User
        from rest_framework.authtoken.models import Token

        user, _ = User.objects.get_or_create(username="bench-manager", defaults={"is_staff": True})
        user.groups.add(Group.objects.get(name="Manager"))
        return f"Token {Token.objects.get_or_create(user=user)[0].key}"

    from django.utils import timezone

    location, _ = Location.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    ApiClient.objects.filter(name__startswith="bench-search-", revoked_at=None).update(revoked_at=timezone.now())
    _, token = create_api_client(name=f"bench-search-{time.time_ns()}", scope="read", locations=[location])
    return f"Bearer {token}"


def sample_queries(count: int, seed: int) -> tuple[list[str], list[str]]:
    from inventory.models import Product

    rng = random.Random(seed + 1)
    total = Product.objects.filter(sku__startswith="BENCH").count()
    ids = [rng.randrange(total) for _ in range(count)]
    names = dict(Product.objects.filter(sku__in=[f"BENCH{n:07d}" for n in ids]).values_list("sku", "name"))
    prefixes = []
    for n in ids:
        name = names[f"BENCH{n:07d}"]
        prefixes.append(name[: rng.randint(3, 6)].strip())
    barcodes = [ean13(rng.randrange(total)) for _ in range(count)]
    return prefixes, barcodes


def start_server(port: int, env: dict, workers: int) -> subprocess.Popen:
    server_env = {
        **os.environ,
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-prom-"),
    }
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"), "posproject.wsgi"],
        cwd=ROOT,
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_until_up(port: int, headers: dict, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/products/?limit=1", headers=headers)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not answer within {deadline_s} s")


def timed(conn: http.client.HTTPConnection, path: str, headers: dict) -> tuple[float, int, dict]:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, response.status, json.loads(body)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_search")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--port", type=int, default=8200)
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
        "LOG_LEVEL": "WARNING",
    }
    ensure_database(args.database_url)
    setup_django(env)
    load_products(args.products, args.seed)
    headers = {"Authorization": api_authorization(), "Accept": "application/json"}
    prefixes, barcodes = sample_queries(args.queries, args.seed)

    server = start_server(args.port, env, args.workers)
    try:
        wait_until_up(args.port, headers)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        for prefix in prefixes[:50]:  # warm the workers' connections and caches; not counted
            timed(conn, f"/api/v1/products/?q={quote(prefix)}&limit=20", headers)
        results = {"name prefix": [], "barcode": []}
        hits = {"name prefix": 0, "barcode": 0}
        for prefix, barcode in zip(prefixes, barcodes, strict=True):
            ms, status, body = timed(conn, f"/api/v1/products/?q={quote(prefix)}&limit=20", headers)
            assert status == 200, (status, body)
            results["name prefix"].append(ms)
            hits["name prefix"] += bool(body["results"])
            ms, status, body = timed(conn, f"/api/v1/products/barcode/{barcode}/", headers)
            assert status == 200 and body["barcode"] == barcode, (status, body)
            results["barcode"].append(ms)
            hits["barcode"] += 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    over_budget = False
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{args.products:,} products, {args.queries:,} queries of each kind, gunicorn {args.workers} workers")
    print(f"{os.cpu_count()} CPUs, load average after the run: {load} (other work on the machine inflates latency)")
    print(f"{'kind':<12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}  budget p95")
    for kind, values in results.items():
        p95 = percentile(values, 95)
        over_budget |= p95 > BUDGET_MS[kind]
        print(
            f"{kind:<12} {percentile(values, 50):8.1f} {p95:8.1f} {percentile(values, 99):8.1f} {max(values):8.1f}"
            f" {statistics.fmean(values):8.1f}  < {BUDGET_MS[kind]:.0f} ms {'OK' if p95 <= BUDGET_MS[kind] else 'OVER'}"
            f"  ({hits[kind]:,} with results)"
        )
    return 1 if over_budget else 0


if __name__ == "__main__":
    sys.exit(main())
