"""Checkout throughput through the HTTP API, against the raw-SQL limit of the same writes.

Prepares a PostgreSQL benchmark database (created and migrated if needed; a store, 500 products with ample stock,
one till with a receipt printer and an open cash session per client, a sell-scope API client), starts gunicorn with
the production
settings (deploy/gunicorn.conf.py) on a local port, then:

  * wrk drives POST /api/v1/checkout/ — 5 random products, a card payment, a fresh Idempotency-Key per request —
    at 8 and then 16 concurrent clients (bench/checkout.lua);
  * pgbench runs the same writes as raw SQL at 16 clients — an order, 5 lines, 5 stock updates, a payment, in one
    transaction (bench/checkout_pgbench.sql) — which is the most this database could do for those writes.

It prints checkouts/s, p50/p99 latency and the ratio to the raw-SQL limit, and exits non-zero below the target
(150 checkouts/s with p99 < 150 ms at 16 clients). Needs wrk and pgbench (see `need()` below).

With `--gift-card` it compares, on the same server at 16 clients, the card-only checkout with one that pays 5.00
with a gift card (a random one of 64 fresh cards) and the rest by card, alternating the two three times each, and
exits non-zero when the gift card adds 10% or more to the median p99.

    .venv/bin/python bench/checkout.py                      # 15 s per run
    .venv/bin/python bench/checkout.py --seconds 30 --port 8210 --workers 5
    .venv/bin/python bench/checkout.py --gift-card --seconds 15
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
TARGET_PER_S = 150
TARGET_P99_MS = 150
PRODUCTS = 500


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        sys.exit(f"{tool} is needed: install it with `apt-get update && apt-get install -y {package}`.")
    return path


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [parts.path.lstrip("/")]).fetchone():
            conn.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare(clients: int) -> dict:
    """Migrate and load the data once; return what the load generators need."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from billing.models import CashSession, Printer, Register
    from inventory.models import Category, Location, Product, StockLevel, StockMove, TaxRate
    from inventory.services import StockChange, apply_stock_changes
    from staff.api_clients import create_api_client
    from staff.models import ApiClient, StaffProfile

    call_command("migrate", verbosity=0, interactive=False)
    with transaction.atomic():
        store, _ = Location.objects.get_or_create(code="bench", defaults={"name": "Bench Store"})
        cashier, created = User.objects.get_or_create(username="bench-cashier")
        if created:
            cashier.groups.add(Group.objects.get(name="Cashier"))
            StaffProfile.objects.get_or_create(user=cashier)[0].locations.add(store)
        # A sell-scope API client at the bench store (a new token each run: only its hash is stored).
        ApiClient.objects.filter(name="bench-till").update(revoked_at=timezone.now())
        ApiClient.objects.filter(name="bench-till").update(name=f"bench-till-{timezone.now():%Y%m%d%H%M%S%f}")
        token = create_api_client(name="bench-till", scope="sell", locations=[store])[1]
        if not Product.objects.filter(sku__startswith="BENCH").exists():
            tax = TaxRate.objects.get_or_create(name="Standard", defaults={"percent": Decimal("20")})[0]
            category = Category.objects.create(name="Bench")
            Product.objects.bulk_create(
                Product(
                    sku=f"BENCH{i:05d}",
                    name=f"Bench product {i}",
                    price=Decimal("2.50"),
                    cost=Decimal("1.00"),
                    tax_rate=tax,
                    category=category,
                )
                for i in range(PRODUCTS)
            )
        products = list(Product.objects.filter(sku__startswith="BENCH").order_by("pk").values_list("pk", flat=True))
        low = StockLevel.objects.filter(location=store, product_id__in=products, on_hand__lt=100_000)
        top_up = [StockChange(pk, store.pk, Decimal(1_000_000)) for pk in low.values_list("product_id", flat=True)]
        missing = set(products) - set(StockLevel.objects.filter(location=store).values_list("product_id", flat=True))
        top_up += [StockChange(pk, store.pk, Decimal(1_000_000)) for pk in missing]
        if top_up:
            apply_stock_changes(top_up, reason=StockMove.Reason.PURCHASE, reference="bench")
        # Each till prints its receipts, as in a shop: every sale hands a print job to the broker when it commits.
        # No printing worker runs during the bench (the queue is dropped afterwards), so the printer is never called.
        printer, _ = Printer.objects.get_or_create(name="Bench receipt printer", defaults={"host": "127.0.0.1"})
        registers = []
        for i in range(clients):
            register, _ = Register.objects.get_or_create(location=store, name=f"Bench till {i + 1}")
            if register.printer_id != printer.pk:
                register.printer = printer
                register.save(update_fields=["printer"])
            if not CashSession.objects.filter(register=register, status=CashSession.Status.OPEN).exists():
                CashSession.objects.create(register=register, opened_by=cashier)
            registers.append(register.pk)
    assert products == list(range(products[0], products[0] + len(products))), "bench products are not contiguous"
    return {
        "token": token,
        "pmin": products[0],
        "pmax": products[-1],
        "registers": registers,
        "location": store.pk,
        "staff": cashier.pk,
        "session": CashSession.objects.filter(register_id=registers[0], status="open").values_list("pk", flat=True)[0],
    }


GIFT_CARDS = 64


def fresh_gift_cards(store_id: int, staff_id: int) -> list[str]:
    """GIFT_CARDS new cards holding the most a card may hold, each with its issue movement (as a sale issues it)."""
    from django.contrib.auth.models import User
    from django.db import transaction

    from billing import giftcards
    from billing.models import GiftCard, GiftCardMovement

    amount = giftcards.max_balance()
    user = User.objects.get(pk=staff_id)
    with transaction.atomic():
        cards = GiftCard.objects.bulk_create(
            GiftCard(
                code=giftcards.new_code(),
                issued_at_id=store_id,
                initial_value=amount,
                balance=amount,
                created_by=user,
            )
            for _ in range(GIFT_CARDS)
        )
        GiftCardMovement.objects.bulk_create(
            GiftCardMovement(
                card=card, kind="issue", amount=amount, balance_after=amount, location_id=store_id, user=user
            )
            for card in cards
        )
    return [card.code for card in cards]


def start_server(port: int, env: dict, workers: int, log) -> subprocess.Popen:
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
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def checkout_once(port: int, data: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = {"register": data["registers"][0], "lines": [{"product": data["pmin"]}], "tenders": [{"tender": "card"}]}
    conn.request(
        "POST",
        "/api/v1/checkout/",
        body=json.dumps(body),
        headers={
            "Authorization": f"Bearer {data['token']}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    response = conn.getresponse()
    payload = response.read()
    if response.status != 201:
        raise RuntimeError(f"checkout answered {response.status}: {payload[:500]!r}")
    return response.status


def wait_until_up(port: int, data: dict, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            checkout_once(port, data)
            return
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run_wrk(wrk: str, port: int, clients: int, seconds: int, data: dict, cards: list[str] = ()) -> dict:
    env = {
        **os.environ,
        "BENCH_CARDS": ",".join(cards),
        "BENCH_TOKEN": data["token"],
        "BENCH_PMIN": str(data["pmin"]),
        "BENCH_PMAX": str(data["pmax"]),
        "BENCH_REGISTERS": ",".join(map(str, data["registers"][:clients])),
    }
    out = subprocess.run(
        [
            wrk,
            f"-t{min(2, clients)}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench/checkout.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = dict(re.findall(r"(\w+)=(\d+)", out.split("BENCH", 1)[1]))
    requests, duration_s = int(fields["requests"]), int(fields["duration_us"]) / 1e6
    ok = requests - int(fields["non2xx"]) - int(fields["errors"])
    return {
        "clients": clients,
        "per_s": ok / duration_s,
        "p50_ms": int(fields["p50_us"]) / 1000,
        "p99_ms": int(fields["p99_us"]) / 1000,
        "failed": requests - ok,
    }


def run_pgbench(pgbench: str, url: str, clients: int, seconds: int, data: dict) -> dict:
    parts = urlparse(url)
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as logs:
        out = subprocess.run(
            [
                pgbench,
                "-n",
                "-h",
                parts.hostname or "127.0.0.1",
                "-p",
                str(parts.port or 5432),
                "-U",
                parts.username or "postgres",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-f",
                str(ROOT / "bench/checkout_pgbench.sql"),
                "-D",
                f"pmin={data['pmin']}",
                "-D",
                f"pmax={data['pmax']}",
                "-D",
                f"loc={data['location']}",
                "-D",
                f"staff={data['staff']}",
                "-D",
                f"session={data['session']}",
                "--log",
                f"--log-prefix={logs}/tx",
                parts.path.lstrip("/"),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PGPASSWORD": parts.password or ""},
        ).stdout
        latencies = []
        for log in Path(logs).iterdir():
            for row in log.read_text().splitlines():
                latencies.append(int(row.split()[2]) / 1000)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latencies.sort()
    return {
        "clients": clients,
        "per_s": tps,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "failed": 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_checkout")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2", help="broker for the receipt print jobs")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--port", type=int, default=8210)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: its config's)")
    parser.add_argument("--gift-card", action="store_true", help="compare card-only checkouts with gift-card ones")
    args = parser.parse_args()
    wrk = need("wrk", "wrk")
    pgbench = need("pgbench", "postgresql-client")

    env = {
        "DJANGO_SETTINGS_MODULE": "posproject.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "False",
        "LOG_LEVEL": "WARNING",
    }
    ensure_database(args.database_url)
    setup_django(env)
    data = prepare(clients=16)
    workers = args.workers or (os.cpu_count() or 1) * 2 + 1
    if args.gift_card:
        return compare_gift_card(args, env, data, workers, wrk)

    results = []
    with tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log") as log:
        server = start_server(args.port, env, workers, log)
        try:
            wait_until_up(args.port, data)
            run_wrk(wrk, args.port, 8, 3, data)  # warm-up, not counted
            for clients in (8, 16):
                results.append(("API (gunicorn + Django)", run_wrk(wrk, args.port, clients, args.seconds, data)))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    limit = run_pgbench(pgbench, args.database_url, 16, args.seconds, data)
    results.append(("raw SQL (pgbench)", limit))
    _drop_queued_print_jobs(args.redis_url)

    print(f"\ncheckout of 5 random products, card; {args.seconds} s per run; gunicorn {workers} workers")
    print(f"{'what':<26} {'clients':>7} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} {'of limit':>9}")
    for what, r in results:
        print(
            f"{what:<26} {r['clients']:>7} {r['per_s']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
            f" {r['failed']:>7} {r['per_s'] / limit['per_s']:>8.0%}"
        )
    at16 = results[1][1]
    ok = at16["per_s"] >= TARGET_PER_S and at16["p99_ms"] < TARGET_P99_MS and at16["failed"] == 0
    print(f"target at 16 clients: >= {TARGET_PER_S}/s with p99 < {TARGET_P99_MS} ms: {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def compare_gift_card(args, env: dict, data: dict, workers: int, wrk: str) -> int:
    """Card-only against gift card + card at 16 clients on one server, alternated (three runs each)."""
    cards = fresh_gift_cards(data["location"], data["staff"])
    runs: dict[str, list[dict]] = {"card only": [], "gift card + card": []}
    with tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log") as log:
        server = start_server(args.port, env, workers, log)
        try:
            wait_until_up(args.port, data)
            run_wrk(wrk, args.port, 8, 3, data)  # warm-up, not counted
            run_wrk(wrk, args.port, 8, 3, data, cards)
            for _ in range(3):
                runs["card only"].append(run_wrk(wrk, args.port, 16, args.seconds, data))
                runs["gift card + card"].append(run_wrk(wrk, args.port, 16, args.seconds, data, cards))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    _drop_queued_print_jobs(args.redis_url)
    print(f"\ncheckout of 5 random products at 16 clients; {args.seconds} s per run; gunicorn {workers} workers")
    print(f"{'what':<18} {'run':>3} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
    medians = {}
    for what, results in runs.items():
        for i, r in enumerate(results, 1):
            print(f"{what:<18} {i:>3} {r['per_s']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['failed']:>7}")
        medians[what] = {key: statistics.median(r[key] for r in results) for key in ("per_s", "p50_ms", "p99_ms")}
    for what, m in medians.items():
        print(f"{what:<18} median  {m['per_s']:>8.1f} {m['p50_ms']:>8.1f} {m['p99_ms']:>8.1f}")
    added = medians["gift card + card"]["p99_ms"] / medians["card only"]["p99_ms"] - 1
    failed = sum(r["failed"] for results in runs.values() for r in results)
    ok = added < 0.10 and failed == 0
    print(f"the gift card adds {added:+.1%} to the median p99 (target < +10%): {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def _drop_queued_print_jobs(redis_url: str) -> None:
    """No printing worker runs during the bench: drop the receipts it queued (their rows stay `queued`)."""
    import redis

    redis.Redis.from_url(redis_url).delete("celery")


if __name__ == "__main__":
    sys.exit(main())
