"""Catalogue CSV import of 100,000 products into PostgreSQL.

Creates (drops first) a benchmark database (default `tillhouse_bench_catalogue`), migrates it, adds two locations and
two tax rates, writes a CSV of N products (default 100,000: 40 categories, a barcode each, opening stock at the store
for every product and at the depot for every third), then times, each through inventory.catalogue as the Celery task
and the command run it:

  * check      the dry run of the whole file (nothing written)
  * import     the import into an empty catalogue (products, categories, opening stock moves, one transaction)
  * re-import  the same file again (a no-op: nothing created, updated or booked)
  * export     the catalogue back to CSV
  * export → import  the export imported (a no-op)

It prints the seconds of each step and exits non-zero when the import takes 60 s or more, or when a no-op was not.

    .venv/bin/python bench/catalogue_import.py                  # 100,000 products
    .venv/bin/python bench/catalogue_import.py --products 20000
"""

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 60.0
WORDS = (  # noqa: SIM905 - a word list reads better as text
    "apple juice oat milk almond espresso beans green tea lemonade cola tonic water sparkling orange cheddar gouda "
    "brie butter yoghurt bagels sourdough baguette croissants muffins granola porridge rice spaghetti penne pesto "
    "olive oil honey jam peanut chocolate crisps pretzels popcorn cashews walnuts raisins dates chickpeas lentils"
).split()


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def catalogue_csv(count: int, seed: int) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("sku,barcode,name,category,price,cost,tax_rate,kind,stock_policy,stock:main,stock:depot\n")
    for n in range(count):
        name = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {n}"
        price = rng.randint(50, 5000)
        depot = str(rng.randint(0, 40)) if n % 3 == 0 else ""
        out.write(
            f"BENCH{n:07d},{2000000000000 + n},{name},Aisle {n % 40},{price // 100}.{price % 100:02d},"
            f"{price // 300}.{price % 100:02d},{'Standard' if n % 5 else 'Reduced'},goods,"
            f"{('block', 'warn', 'allow')[n % 3]},{rng.randint(1, 200)},{depot}\n"
        )
    return out.getvalue()


def timed(label: str, work):
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    print(f"{label:<17} {seconds:7.1f} s")
    return result, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_catalogue")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    env = {
        "DJANGO_SETTINGS_MODULE": "posproject.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": "",
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    recreate_database(args.database_url)
    setup_django(env)
    from django.core.management import call_command

    from inventory import catalogue
    from inventory.models import Location, Product, StockMove, TaxRate

    call_command("migrate", verbosity=0, interactive=False)
    Location.objects.create(code="main", name="Main Street")
    Location.objects.create(code="depot", name="Depot", kind=Location.Kind.WAREHOUSE)
    TaxRate.objects.create(name="Standard", percent=20)
    TaxRate.objects.create(name="Reduced", percent=5)
    text = catalogue_csv(args.products, args.seed)
    print(f"{args.products:,} products, {len(text) / 1e6:.1f} MB of CSV")

    checked, _ = timed("check", lambda: catalogue.check_catalogue(text))
    imported, import_seconds = timed("import", lambda: catalogue.import_catalogue(text))
    moves = StockMove.objects.count()
    again, _ = timed("re-import", lambda: catalogue.import_catalogue(text))
    out = io.StringIO()
    timed("export", lambda: catalogue.export_catalogue(out))
    round_trip, _ = timed("export → import", lambda: catalogue.import_catalogue(out.getvalue()))

    problems = []
    if not checked.clean or not imported.applied or imported.created != args.products:
        problems.append(f"the import did not create every product: {imported.as_dict()}")
    for label, result in (("re-import", again), ("export → import", round_trip)):
        if (result.created, result.updated, result.stock_moves) != (0, 0, 0) or not result.clean:
            problems.append(f"{label} was not a no-op: {result.as_dict()}")
    if StockMove.objects.count() != moves or Product.objects.count() != args.products:
        problems.append("a no-op wrote rows")
    print(f"{imported.created:,} products, {imported.stock_moves:,} opening stock moves")
    if import_seconds >= BUDGET_S:
        problems.append(f"the import took {import_seconds:.1f} s, budget < {BUDGET_S:.0f} s")
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
