"""Bulk test data for the close-session and reports benchmarks: paid orders with lines, payments and receipts.

Rows are written with bulk_create in chunks (the services would take hours for a million lines); amounts follow
orders.pricing (tax per line, included in the shelf price), so the reports have real figures to add up. Rows
carry the sale's own time (the loader switches off the fields' fill-in-on-insert for its own process).
"""

import os
import random
import sys
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
CENT = Decimal("0.01")
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "posproject.settings",
    "REDIS_URL": "",
    "DEBUG": "False",
    "SECRET_KEY": "bench-only-" + "x" * 50,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "False",
    "LOG_LEVEL": "WARNING",
}


def ensure_database(url: str, *, fresh: bool = False) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str) -> None:
    os.environ.update(BENCH_ENV, DATABASE_URL=database_url)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def catalogue(rng: random.Random, *, products: int = 300):
    """Tax rates, categories and products with prices and costs."""
    from inventory.models import Category, Product, TaxRate

    rates = [
        TaxRate.objects.get_or_create(name=name, defaults={"percent": Decimal(p)})[0]
        for name, p in (("Bench reduced", "7"), ("Bench standard", "19"), ("Bench zero", "0"))
    ]
    categories = [Category.objects.get_or_create(name=f"Bench {name}")[0] for name in ("Drinks", "Food", "Retail")]
    existing = list(Product.objects.filter(sku__startswith="BENCH-"))
    if len(existing) >= products:
        return existing[:products]
    made = []
    for n in range(len(existing), products):
        price = Decimal(rng.randint(150, 3500)) / 100
        made.append(
            Product(
                sku=f"BENCH-{n:05d}",
                name=f"Bench product {n}",
                category=categories[n % 3],
                price=price,
                cost=(price * Decimal(rng.uniform(0.2, 0.6))).quantize(CENT),
                tax_rate=rates[n % 3],
                tracked=False,
            )
        )
    Product.objects.bulk_create(made)
    return list(Product.objects.filter(sku__startswith="BENCH-").select_related("tax_rate"))[:products]


def staff_users(count: int = 8):
    from django.contrib.auth.models import User

    return [User.objects.get_or_create(username=f"bench-staff-{n}")[0] for n in range(count)]


def paid_orders(
    *,
    location,
    session,
    products,
    staff,
    count: int,
    lines_per_order: int,
    paid_at,
    rng: random.Random,
    register=None,
    chunk: int = 4000,
    progress=None,
) -> None:
    """`count` paid orders at `location`, each with `lines_per_order` lines, one payment in `session` and, if
    `register` is given, a sale receipt numbered from the register's counter. `paid_at(i)` gives the i-th sale's
    time. About 1 order in 100 also has a voided line."""
    from django.db import transaction

    from billing.models import Payment, Receipt, Register
    from orders.models import Order, OrderLine

    stamped = [Order._meta.get_field("opened_at"), OrderLine._meta.get_field("created_at")]
    stamped += [Payment._meta.get_field("created_at"), Receipt._meta.get_field("issued_at")]
    for stamp in stamped:  # the rows carry the sale's own time, not the time of loading
        stamp.auto_now_add = False

    tenders = ["cash"] * 6 + ["card"] * 3 + ["voucher"]
    number = register.last_receipt_number if register else 0
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        with transaction.atomic():
            orders, order_lines, payments = [], [], []
            for i in range(start, start + size):
                when = paid_at(i)
                picked = [(rng.choice(products), Decimal(rng.randint(1, 3))) for _ in range(lines_per_order)]
                total = tax = Decimal(0)
                lines = []
                for product, qty in picked:
                    line_total = (product.price * qty).quantize(CENT)
                    percent = product.tax_rate.percent
                    line_tax = (line_total * percent / (100 + percent)).quantize(CENT, rounding=ROUND_HALF_UP)
                    total += line_total
                    tax += line_tax
                    lines.append((product, qty, line_total, line_tax, OrderLine.Status.ACTIVE))
                if i % 100 == 0:
                    product = rng.choice(products)
                    lines.append((product, Decimal(1), Decimal(0), Decimal(0), OrderLine.Status.VOIDED))
                who = staff[i % len(staff)]
                orders.append(
                    Order(
                        location=location,
                        staff=who,
                        status=Order.Status.PAID,
                        subtotal=total,
                        tax_total=tax,
                        total=total,
                        paid_total=total,
                        opened_at=when - timedelta(minutes=20),
                        paid_at=when,
                        closed_at=when,
                    )
                )
                order_lines.append((lines, who))
            Order.objects.bulk_create(orders, batch_size=2000)
            rows = []
            for order, (lines, who) in zip(orders, order_lines, strict=True):
                for product, qty, line_total, line_tax, status in lines:
                    rows.append(
                        OrderLine(
                            order=order,
                            product=product,
                            name=product.name,
                            unit_price=product.price,
                            tax_rate_name=product.tax_rate.name,
                            tax_rate_percent=product.tax_rate.percent,
                            unit_cost=product.cost,
                            quantity=qty,
                            line_total=line_total,
                            tax_amount=line_tax,
                            amount_due=line_total,
                            status=status,
                            void_reason="Rang up by mistake" if status == OrderLine.Status.VOIDED else "",
                            voided_by=who if status == OrderLine.Status.VOIDED else None,
                            added_by=who,
                            created_at=order.opened_at,
                        )
                    )
                tender = rng.choice(tenders)
                tendered = (order.total / 5).quantize(Decimal(1)) * 5 + 5 if tender == "cash" else order.total
                payments.append(
                    Payment(
                        order=order,
                        session=session,
                        tender=tender,
                        amount=order.total,
                        tendered=tendered,
                        change=tendered - order.total,
                        created_by=order.staff,
                        created_at=order.paid_at,
                    )
                )
            OrderLine.objects.bulk_create(rows, batch_size=5000)
            Payment.objects.bulk_create(payments, batch_size=5000)
            if register is not None:
                receipts = []
                for order in orders:
                    number += 1
                    receipts.append(
                        Receipt(register=register, number=number, order=order, session=session, issued_at=order.paid_at)
                    )
                Receipt.objects.bulk_create(receipts, batch_size=5000)
                Register.objects.filter(pk=register.pk).update(last_receipt_number=number)
        if progress:
            progress(start + size)


def _insert_select(model, exprs: dict, source: str, params: list) -> None:
    """INSERT INTO <model> SELECT …: `exprs` gives SQL for some columns (a string, or (sql, params)); every other
    column gets its field's default, so the statement follows the model as it grows."""
    from django.db import connection

    columns, values, column_params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in exprs:
            sql, expr_params = (
                exprs[field.column] if isinstance(exprs[field.column], tuple) else (exprs[field.column], [])
            )
            values.append(sql)
            column_params += expr_params
        elif field.null and not field.has_default():
            values.append("NULL")
        else:
            values.append("%s")
            column_params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, column_params + params)


def paid_orders_sql(*, sessions, products, staff, count: int, days: int, end, lines_per_order: int = 5):
    """`count` paid orders with `lines_per_order` lines each and one payment, shared in turn between the stores of
    `sessions` (one open cash session per store), generated by PostgreSQL itself (generate_series): a million lines
    load in minutes, not hours. Sales come in time order, as in a live shop, in opening hours (08:00–22:00) over the
    `days` days before `end`; 1 order in 100 also has a voided line."""
    from django.db import connection, transaction

    from billing.models import Payment
    from orders.models import Order, OrderLine

    staff_ids = [user.pk for user in staff]
    location_ids = [session.register.location_id for session in sessions]
    session_ids = [session.pk for session in sessions]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_products (rn int, id bigint, name text, price numeric, cost numeric, "
                       "rate_name text, rate_percent numeric) ON COMMIT DROP")  # fmt: skip
        cursor.executemany(
            "INSERT INTO bench_products VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(n, p.pk, p.name, p.price, p.cost, p.tax_rate.name, p.tax_rate.percent) for n, p in enumerate(products)],
        )
        cursor.execute("SELECT coalesce(max(id), 0) FROM orders_order")
        first_id = cursor.fetchone()[0]
        # The g-th sale of `count`, in time order: its day, then its moment within opening hours.
        paid_at = (
            f"(%s::timestamptz - make_interval(days => {days}) + make_interval(days => ((g - 1) * {days} / %s)::int) "
            f"+ make_interval(secs => 28800 + 50400.0 * (((g - 1) * {days}) %% %s) / %s))"
        )
        _insert_select(
            Order,
            {
                "uuid": "gen_random_uuid()",
                "location_id": ("(%s::bigint[])[1 + g %% %s]", [location_ids, len(location_ids)]),
                "status": "'paid'",
                "staff_id": ("(%s::bigint[])[1 + g %% %s]", [staff_ids, len(staff_ids)]),
                "opened_at": (f"{paid_at} - interval '20 minutes'", [end, count, count, count]),
                "paid_at": (paid_at, [end, count, count, count]),
                "closed_at": (paid_at, [end, count, count, count]),
            },
            "FROM generate_series(1::bigint, %s::bigint) g",
            [count],
        )
        qty = "(1 + (o.id + n) %% 3)"
        total = f"round(bp.price * {qty}, 2)"
        _insert_select(
            OrderLine,
            {
                "order_id": "o.id",
                "product_id": "bp.id",
                "name": "bp.name",
                "unit_price": "bp.price",
                "tax_rate_name": "bp.rate_name",
                "tax_rate_percent": "bp.rate_percent",
                "unit_cost": "bp.cost",
                "quantity": qty,
                "line_total": total,
                "amount_due": total,
                "tax_amount": f"round({total} * bp.rate_percent / (100 + bp.rate_percent), 2)",
                "added_by_id": "o.staff_id",
                "created_at": "o.opened_at",
            },
            "FROM orders_order o CROSS JOIN generate_series(1, %s) n "
            "JOIN bench_products bp ON bp.rn = (o.id * 31 + n * 17) %% %s "
            "WHERE o.id > %s",
            [lines_per_order, len(products), first_id],
        )
        _insert_select(
            OrderLine,
            {
                "order_id": "o.id",
                "product_id": "bp.id",
                "name": "bp.name",
                "unit_price": "bp.price",
                "tax_rate_name": "bp.rate_name",
                "tax_rate_percent": "bp.rate_percent",
                "unit_cost": "bp.cost",
                "quantity": "1",
                "status": "'voided'",
                "void_reason": "'Rang up by mistake'",
                "voided_by_id": "o.staff_id",
                "added_by_id": "o.staff_id",
                "created_at": "o.opened_at",
            },
            "FROM orders_order o JOIN bench_products bp ON bp.rn = o.id %% %s WHERE o.id > %s AND o.id %% 100 = 0",
            [len(products), first_id],
        )
        cursor.execute(
            "UPDATE orders_order o SET subtotal = t.total, total = t.total, paid_total = t.total, tax_total = t.tax "
            "FROM (SELECT order_id, sum(line_total) total, sum(tax_amount) tax FROM orders_orderline "
            "      WHERE order_id > %s AND status = 'active' GROUP BY order_id) t "
            "WHERE o.id = t.order_id",
            [first_id],
        )
        tender = "(CASE WHEN o.id %% 10 < 6 THEN 'cash' WHEN o.id %% 10 < 9 THEN 'card' ELSE 'voucher' END)"
        tendered = f"(CASE WHEN {tender} = 'cash' THEN ceil(o.total / 5) * 5 ELSE o.total END)"
        _insert_select(
            Payment,
            {
                "order_id": "o.id",
                "session_id": (
                    "(%s::bigint[])[array_position(%s::bigint[], o.location_id)]",
                    [session_ids, location_ids],
                ),
                "tender": tender,
                "amount": "o.total",
                "tendered": tendered,
                "change": f"{tendered} - o.total",
                "created_by_id": "o.staff_id",
                "created_at": "o.paid_at",
            },
            "FROM orders_order o WHERE o.id > %s",
            [first_id],
        )
