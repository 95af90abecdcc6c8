"""What a translated POS page costs over the English one: the order screen (20 lines) and the pay screen of the
same kind of order, rendered for a store in English, one in German and one in Indonesian.

In-process, with Django's test client against a PostgreSQL benchmark database (created and migrated if needed,
default `tillhouse_bench_i18n`) and the local-memory cache, production settings otherwise (DEBUG off, templates
cached). Three stores, each with its own paired till, signed-in cashier and an open order of 20 lines; the
requests go round-robin over the three languages so that the machine's drift falls on all of them alike. It prints
per language and page the median and p95 of the wall time, the median CPU time of the process per request (which
other processes' load does not inflate the way it inflates wall time), the ratio to English, and the load average;
it exits non-zero when a translated page's median CPU time is more than 10% over English's.

    .venv/bin/python bench/translated_render.py                 # 400 rounds
    .venv/bin/python bench/translated_render.py --rounds 1000
"""

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import product_search as catalogue  # noqa: E402 - the shared database helpers live next to this script

BUDGET = 1.10  # a translated page may cost at most 10% more than the English one
LANGUAGES = ("en", "de", "id")
LINES = 20


def store(language: str):
    """A store in `language` with a paired till, an open cash session, a signed-in cashier and a 20-line order."""
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.utils import timezone

    from billing import sessions
    from billing.models import Register
    from inventory.models import Category, Location, Product, TaxRate
    from orders.models import Order
    from orders.services import lines as order_lines
    from staff.models import StaffProfile, Terminal
    from staff.roles import CASHIER
    from staff.terminals import DEVICE_COOKIE, device_cookie_value

    location, _ = Location.objects.update_or_create(
        code=f"bench-{language}", defaults={"name": f"Bench {language}", "language": language}
    )
    user, _ = User.objects.get_or_create(username=f"bench-{language}")
    user.groups.add(Group.objects.get(name=CASHIER))
    profile, _ = StaffProfile.objects.get_or_create(user=user)
    profile.locations.add(location)
    register, _ = Register.objects.get_or_create(location=location, name="Till 1")
    if not register.sessions.filter(status="open").exists():
        sessions.open_session(register_id=register.pk, user=user, opening_float=Decimal("100"))
    terminal, _ = Terminal.objects.get_or_create(
        location=location,
        name="Till 1",
        defaults={"register": register, "paired_at": timezone.now(), "generation": 1},
    )
    tax, _ = TaxRate.objects.get_or_create(name="Standard", defaults={"percent": 20})
    category, _ = Category.objects.get_or_create(name=f"Bench {language}", location=location)
    order = Order.objects.filter(location=location, status="open").first()
    if order is None:
        order = Order.objects.create(location=location, staff=user, channel="retail")
        products = [
            Product.objects.get_or_create(
                sku=f"I18N-{language}-{n}",
                defaults={"name": f"Item {n}", "price": Decimal("1234.50") + n, "category": category, "tax_rate": tax},
            )[0]
            for n in range(LINES)
        ]
        order_lines.add_lines(
            order.pk, user=user, lines=[order_lines.NewLine(product_id=p.pk, quantity=Decimal("1")) for p in products]
        )
    client = Client()
    client.force_login(user)
    client.cookies[DEVICE_COOKIE] = device_cookie_value(terminal)
    return client, order


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_i18n")
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()

    env = {
        "DJANGO_SETTINGS_MODULE": "posproject.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": "",
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "False",
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
        "LOG_LEVEL": "WARNING",
    }
    catalogue.ensure_database(args.database_url)
    catalogue.setup_django(env)
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0, interactive=False)
    # Static files by name, without collectstatic's manifest (a served page names the same files either way).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()

    pages = {}
    for language in LANGUAGES:
        client, order = store(language)
        pages[language] = {
            "order": (client, f"/pos/orders/{order.uuid}/"),
            "pay": (client, f"/pos/orders/{order.uuid}/pay/"),
        }
    wall = {(lang, page): [] for lang in LANGUAGES for page in ("order", "pay")}
    cpu = {key: [] for key in wall}
    for warm in range(20):  # templates compiled, catalogues loaded, connections open: not counted
        for language in LANGUAGES:
            for page, (client, url) in pages[language].items():
                response = client.get(url, secure=True)
                assert response.status_code == 200, (language, page, response.status_code)
                if warm == 0:
                    assert response.headers["Content-Language"] == language, (language, page)
    for _ in range(args.rounds):
        for language in LANGUAGES:
            for page, (client, url) in pages[language].items():
                c0, w0 = time.process_time(), time.perf_counter()
                client.get(url, secure=True)
                wall[(language, page)].append((time.perf_counter() - w0) * 1000)
                cpu[(language, page)].append((time.process_time() - c0) * 1000)

    print(f"{args.rounds} rounds; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page':6} {'lang':4} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50 ms':>11} {'CPU vs en':>10}")
    failed = False
    for page in ("order", "pay"):
        base = statistics.median(cpu[("en", page)])
        for language in LANGUAGES:
            walls = wall[(language, page)]
            median_cpu = statistics.median(cpu[(language, page)])
            ratio = median_cpu / base
            failed |= language != "en" and ratio > BUDGET
            print(
                f"{page:6} {language:4} {statistics.median(walls):8.2f} {catalogue.percentile(walls, 95):8.2f} "
                f"{median_cpu:11.2f} {ratio - 1:+10.1%}"
            )
    print("budget: a translated page's median CPU ≤ English's + 10%:", "missed" if failed else "met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
