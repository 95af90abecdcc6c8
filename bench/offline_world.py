"""The store both offline benchmarks run against (bench/catalogue_snapshot.py, bench/offline_sync.py).

Creates (drops first) a benchmark database, migrates it and builds a store with N products (10 categories, a barcode
each, two tax rates, a modifier group on every tenth product and on one category), a register with an open cash
session, a cashier and a paired terminal; returns a Django test client that is that terminal with the cashier
signed in (the whole middleware stack runs on every request, as behind gunicorn)."""

import os
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "posproject.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "DEBUG": "False",
            "SECRET_KEY": "bench-only-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "LOG_LEVEL": "WARNING",
            "SECURE_SSL_REDIRECT": "False",  # as behind the TLS-terminating proxy
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@dataclass
class World:
    client: object
    terminal: object
    cashier: object
    products: list


def build(database_url: str, *, products: int, stock: str = "1000000") -> World:
    recreate_database(database_url)
    setup_django(database_url)
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from billing import sessions
    from billing.models import Register
    from inventory.models import Category, Location, Product, StockLevel, StockMove, TaxRate
    from orders.models import ModifierGroup, ModifierOption
    from staff.models import StaffProfile, Terminal
    from staff.terminals import DEVICE_COOKIE, device_cookie_value

    call_command("migrate", verbosity=0, interactive=False)
    store = Location.objects.create(code="main", name="Main Street")
    rates = [TaxRate.objects.create(name="Standard", percent=20), TaxRate.objects.create(name="Reduced", percent=5)]
    categories = [Category.objects.create(name=f"Aisle {n}") for n in range(10)]
    Product.objects.bulk_create(
        [
            Product(
                sku=f"BENCH{n:07d}",
                barcode=str(2000000000000 + n),
                name=f"Product {n}",
                category=categories[n % 10],
                price=Decimal(50 + n % 4000) / 100,
                cost=Decimal("0.40"),
                tax_rate=rates[n % 2],
                stock_policy=Product.StockPolicy.ALLOW,
            )
            for n in range(products)
        ],
        batch_size=2000,
    )
    items = list(Product.objects.order_by("id"))
    StockLevel.objects.bulk_create(
        [StockLevel(product=p, location=store, on_hand=Decimal(stock)) for p in items], batch_size=2000
    )
    StockMove.objects.bulk_create(
        [
            StockMove(
                product=p, location=store, delta=Decimal(stock), reason=StockMove.Reason.PURCHASE, unit_cost=p.cost
            )
            for p in items
        ],
        batch_size=2000,
    )
    extras = ModifierGroup.objects.create(name="Extras", min_choices=0, max_choices=3)
    for n, name in enumerate(("Oat milk", "Extra shot", "Syrup")):
        ModifierOption.objects.create(group=extras, name=name, price_delta=Decimal("0.50") * (n + 1))
    extras.products.add(*items[::10])
    extras.categories.add(categories[0])
    cashier = User.objects.create_user("bench-cashier", password="bench-pass-123")
    cashier.groups.add(Group.objects.get(name="Cashier"))
    StaffProfile.objects.create(user=cashier).locations.add(store)
    register = Register.objects.create(location=store, name="Till 1")
    sessions.open_session(register_id=register.pk, user=cashier, opening_float=Decimal("100"))
    terminal = Terminal.objects.create(
        name="Front", location=store, register=register, paired_at=timezone.now(), generation=1
    )
    client = Client()
    client.force_login(cashier)
    client.cookies[DEVICE_COOKIE] = device_cookie_value(terminal)
    return World(client=client, terminal=terminal, cashier=cashier, products=items)
