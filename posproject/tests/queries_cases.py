"""The cases of test_queries.py: each builds the same rows, runs one function of an app's queries.py and returns
what its callers can see of the answer as plain JSON (ids as names, values with their Python type), so that the
answer on PostgreSQL (in the test) and on SQLite (this file run as a script on a fresh SQLite file) compare equal.

Run as a script it migrates the empty SQLite database it is given, runs every case in a transaction it rolls back,
and prints {"vendor": ..., "results": {case: answer}} as one JSON line."""

import json
from datetime import UTC, datetime
from decimal import Decimal

OLD = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)  # a time set on purpose, shown as is
EXPIRES = datetime(2099, 5, 6, 7, 8, 9, tzinfo=UTC)


def _value(value, names: dict) -> str:
    if isinstance(value, datetime):
        if value in (OLD, EXPIRES):
            return f"datetime:{value.isoformat()}"
        return f"datetime:{'aware' if value.tzinfo else 'naive'}"  # written by the database or auto_now
    try:
        if value in names:
            return names[value]
    except TypeError:
        pass
    return f"{type(value).__name__}:{value}"


def _fields(obj, names: dict) -> dict:
    """Every loaded concrete field of `obj`: ids as the names of their rows, other values with their type."""
    out = {}
    deferred = obj.get_deferred_fields()
    for f in obj._meta.concrete_fields:
        if f.attname in deferred:
            out[f.attname] = "deferred"
            continue
        value = getattr(obj, f.attname)
        if (f.primary_key or f.is_relation) and value is not None:
            model = f.related_model if f.is_relation else type(obj)
            out[f.attname] = names.get((model._meta.label, value), f"unnamed {model._meta.label}")
        else:
            out[f.attname] = _value(value, names)
    return out


def _found(obj, names: dict) -> dict | None:
    return None if obj is None else _fields(obj, names)


def _catalogue():
    from inventory.models import Location, Product, StockLevel, TaxRate

    tax = TaxRate.objects.create(name="Queries standard", percent=Decimal("20"))
    shop = Location.objects.create(code="shop", name="Shop", cash_rounding=Decimal("0.05"))
    north = Location.objects.create(code="north", name="North")
    tea = Product.objects.create(sku="TEA", name="Tea", price=Decimal("2.50"), tax_rate=tax, cost=Decimal("0.40"))
    cake = Product.objects.create(
        sku="CAKE",
        name="Cake",
        price=Decimal("3.20"),
        tax_rate=tax,
        cost=Decimal("1.10"),
        stock_policy=Product.StockPolicy.ALLOW,
    )
    jam = Product.objects.create(sku="JAM", name="Jam", price=Decimal("4.00"), tax_rate=tax)
    levels = [
        StockLevel.objects.create(product=tea, location=shop, on_hand=Decimal("5")),
        StockLevel.objects.create(product=cake, location=shop, on_hand=Decimal("-2.500"), allow_negative=True),
        StockLevel.objects.create(product=tea, location=north, on_hand=Decimal("7.125")),
        StockLevel.objects.create(product=jam, location=north, on_hand=Decimal("1")),
    ]
    StockLevel.objects.update(updated_at=OLD)
    rows = [shop, north, tax, tea, cake, jam, *levels]
    names = {
        (row._meta.label, row.pk): getattr(row, "code", None)
        or getattr(row, "sku", None)
        or getattr(row, "name", None)
        or f"level {n}"
        for n, row in enumerate(rows)
    }
    return shop, north, tea, cake, jam, names


def name_key() -> dict:
    from inventory import queries
    from inventory.models import Product
    from inventory.selectors import search_products

    tax = _catalogue()[2].tax_rate  # and the products Tea, Cake and Jam
    for name in ("apple pie", "Apple", "APRICOT jam", "a-b bar", "Avocado", "ab", "Zest"):
        Product.objects.create(sku=f"N-{name}", name=name, price=Decimal("1.00"), tax_rate=tax)
    keyed = Product.objects.annotate(key=queries.name_key())
    return {
        "order": list(keyed.order_by("key", "name").values_list("name", "key")),
        "from a to b": list(
            keyed.filter(key__gte="A", key__lt="B").order_by("key", "pk").values_list("name", flat=True)
        ),
        "search ap": [p.name for p in search_products("ap")],
    }


def lock_levels() -> dict:
    from django.db import transaction

    from inventory import queries

    shop, north, tea, cake, jam, names = _catalogue()
    with transaction.atomic():
        wanted = [(tea.pk, shop.pk), (cake.pk, shop.pk), (tea.pk, north.pk), (jam.pk, shop.pk)]  # no jam at the shop
        locked = queries.lock_levels(wanted, {tea.pk, cake.pk, jam.pk}, {shop.pk, north.pk})
        return {
            "keys": [[names[("inventory.Product", p)], names[("inventory.Location", loc)]] for p, loc in locked],
            "levels": [
                {
                    "pk": names[("inventory.StockLevel", level.pk)],
                    "product_id": names[("inventory.Product", level.product_id)],
                    "location_id": names[("inventory.Location", level.location_id)],
                    "on_hand": _value(level.on_hand, {}),
                    "allow_negative": _value(level.allow_negative, {}),
                    "adding": level._state.adding,
                    "db": level._state.db,
                }
                for level in locked.values()
            ],
        }


def save_levels_and_moves() -> dict:
    from django.contrib.auth.models import User
    from django.db import transaction

    from inventory import queries
    from inventory.models import StockLevel, StockMove

    shop, _north, tea, cake, _jam, names = _catalogue()
    clerk = User.objects.create_user("clerk")
    names[("auth.User", clerk.pk)] = "clerk"
    with transaction.atomic():
        levels = queries.lock_levels([(tea.pk, shop.pk), (cake.pk, shop.pk)], {tea.pk, cake.pk}, {shop.pk})
        tea_level, cake_level = levels[(tea.pk, shop.pk)], levels[(cake.pk, shop.pk)]
        tea_level.on_hand, cake_level.on_hand = Decimal("3.000"), Decimal("-4.250")
        tea_level.allow_negative = True
        moves = [
            StockMove(
                product=tea,
                location=shop,
                delta=Decimal("-2"),
                reason=StockMove.Reason.SALE,
                reference="R-1",
                user=clerk,
                unit_cost=Decimal("0.40"),
            ),
            StockMove(
                product=cake,
                location=shop,
                delta=Decimal("-1.750"),
                reason=StockMove.Reason.SALE,
                reference="R-1",
                note="a note",
                user=clerk,
                unit_cost=Decimal("1.10"),
            ),
        ]
        queries.save_levels_and_moves([tea_level, cake_level], moves)
        for n, move in enumerate(moves):
            names[("inventory.StockMove", move.pk)] = f"move {n}"
        return {
            "move_ids_are_their_rows": [StockMove.objects.get(pk=move.pk).reference == "R-1" for move in moves],
            "levels": [_fields(level, names) for level in StockLevel.objects.order_by("pk")],
            "moves": [_fields(move, names) for move in StockMove.objects.order_by("pk")],
        }


def copy_rows() -> dict:
    from django.contrib.auth.models import User

    from inventory import queries
    from inventory.models import Product, StockLevel, StockMove

    _shop, north, tea, _cake, _jam, names = _catalogue()
    clerk = User.objects.create_user("clerk")
    names[("auth.User", clerk.pk)] = "clerk"
    queries.copy_rows(
        Product,
        [
            {"sku": "NEW-1", "name": "Scone", "price": Decimal("2.10"), "tax_rate_id": tea.tax_rate_id},
            {
                "sku": "NEW-2",
                "name": "Muffin",
                "price": Decimal("2.30"),
                "cost": Decimal("0.7"),
                "barcode": "99",
                "tax_rate_id": tea.tax_rate_id,
                "kind": "menu_item",
                "tracked": False,
            },
        ],
    )
    scone, muffin = Product.objects.get(sku="NEW-1"), Product.objects.get(sku="NEW-2")
    names[("inventory.Product", scone.pk)], names[("inventory.Product", muffin.pk)] = "NEW-1", "NEW-2"
    queries.copy_rows(StockLevel, [{"product_id": scone.pk, "location_id": north.pk, "on_hand": Decimal("4")}])
    queries.copy_rows(
        StockMove,
        [
            {
                "product_id": scone.pk,
                "location_id": north.pk,
                "delta": Decimal("4"),
                "reason": "adjustment",
                "reference": "opening-stock",
                "user_id": clerk.pk,
            }
        ],
    )
    level = StockLevel.objects.get(product=scone)
    move = StockMove.objects.get(product=scone)
    names[("inventory.StockLevel", level.pk)], names[("inventory.StockMove", move.pk)] = "new level", "new move"
    return {
        "products": [_fields(Product.objects.get(pk=p.pk), names) for p in (scone, muffin)],
        "level": _fields(level, names),
        "move": _fields(move, names),
    }


def read_register() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing import queries
    from billing.models import Register

    shop, north, *_, names = _catalogue()
    till = Register.objects.create(location=shop, name="Till 1", last_receipt_number=41, grand_total=Decimal("12.30"))
    closed = Register.objects.create(location=north, name="Old till", active=False)
    names.update({("billing.Register", till.pk): "till", ("billing.Register", closed.pk): "closed till"})
    with CaptureQueriesContext(connection) as statements:
        register = queries.read_register(till.pk)
        location = register.location
    return {
        "register": _fields(register, names),
        "location": _fields(location, names),
        "statements": len(statements),
        "inactive": _found(queries.read_register(closed.pk), names),
        "unknown": _found(queries.read_register(closed.pk + 1000), names),
    }


def read_client() -> dict:
    from django.contrib.auth.models import User

    from core.errors import PermissionDenied
    from staff import queries, roles
    from staff.access import check_location
    from staff.api_clients import create_api_client, hash_token
    from staff.models import ApiClient

    shop, north, *_, names = _catalogue()
    boss = User.objects.create_user("boss")
    client, token = create_api_client(
        name="Online shop", scope=ApiClient.Scope.SELL, locations=[shop], created_by=boss, expires_at=EXPIRES
    )
    names.update(
        {
            ("auth.User", boss.pk): "boss",
            ("auth.User", client.user_id): "service user",
            ("staff.ApiClient", client.pk): "client",
            client.prefix: "its prefix",
            client.user.username: "its username",
            client.user.password: "its unusable password",
            hash_token(token): "its token's hash",
        }
    )
    found = queries.read_client(client.prefix)
    user = found.user
    user.acting_api_client = found
    where = {}
    for location in (shop, north):
        try:
            check_location(user, location.pk)
            where[location.code] = "allowed"
        except PermissionDenied:
            where[location.code] = "refused"
    return {
        "client": _fields(found, names),
        "user": _fields(user, names),
        "roles": {role: roles.has_role(user, role) for role in (roles.MANAGER, roles.CASHIER, roles.WAITER)},
        "locations": where,
        "unknown": _found(queries.read_client("0" * 12), names),
    }


def read_products() -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory.models import Category, Product, RecipeLine, TaxRate
    from orders import queries

    *_, tea, cake, jam, names = _catalogue()
    reduced = TaxRate.objects.create(name="Queries reduced", percent=Decimal("5.5"))
    drinks = Category.objects.create(name="Drinks", station="bar")
    Product.objects.filter(pk=tea.pk).update(category=drinks, barcode="4006381333931")
    soup = Product.objects.create(
        sku="SOUP", name="Soup", kind=Product.Kind.MENU_ITEM, price=Decimal("6.00"), tax_rate=reduced
    )
    carrot = Product.objects.create(
        sku="CARROT", name="Carrot", kind=Product.Kind.INGREDIENT, price=0, cost=Decimal("0.20"), tax_rate=reduced
    )
    RecipeLine.objects.create(menu_item=soup, ingredient=carrot, quantity=Decimal("2"))
    Product.objects.filter(pk=jam.pk).update(active=False)
    for row in (reduced, drinks, soup, carrot):
        names[(row._meta.label, row.pk)] = getattr(row, "sku", None) or row.name
    ids = {tea.pk, cake.pk, jam.pk, soup.pk, carrot.pk, carrot.pk + 1000}
    with CaptureQueriesContext(connection) as statements:
        products = queries.read_products(ids)
        tax_rates = {product.pk: product.tax_rate for product in products.values()}
    return {
        "statements": len(statements),
        "products": {
            names[("inventory.Product", pk)]: {
                **_fields(product, names),
                "tax_rate": _fields(tax_rates[pk], names),
                "recipe_known": _value(product.recipe_known, {}),
            }
            for pk, product in sorted(products.items())
        },
    }


def read_access() -> dict:
    """A cashier with a role and one permission of their own, a person with no role, an inactive one: what
    read_access primes must be what Django's ModelBackend reads by itself, in one statement."""
    from django.contrib.auth.models import Group, Permission, User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from staff import queries, roles

    cashier = User.objects.create_user("till-cashier")
    cashier.groups.add(Group.objects.get(name=roles.CASHIER))
    cashier.user_permissions.add(Permission.objects.get(codename="view_stockmove"))
    nobody = User.objects.create_user("no-role")
    gone = User.objects.create_user("gone", is_active=False)
    gone.groups.add(Group.objects.get(name=roles.MANAGER))
    answers = {}
    for user in (cashier, nobody, gone):
        fresh = User.objects.get(pk=user.pk)
        by_django = (fresh.get_all_permissions(), {r for r in roles.ROLES if roles.has_role(fresh, r)})
        primed = User.objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as statements:
            queries.read_access(primed)
            perms = primed.get_all_permissions()
            held = {r for r in roles.ROLES if roles.has_role(primed, r)}
            may_add_line = primed.has_perm("orders.add_orderline")
        answers[user.username] = {
            "statements": len(statements),
            "same_as_django": (perms, held) == by_django,
            "roles": sorted(held),
            "own_permission": "inventory.view_stockmove" in perms,
            "may_add_line": may_add_line,
            "permissions": len(perms),
        }
    return answers


def customer_keys() -> dict:
    from orders import queries
    from orders.models import Customer
    from orders.selectors import search_customers

    people = [
        ("apple Annie", "+447700900001", "annie@example.com"),
        ("Abe", "07700900002", "abe@example.org"),
        ("ÄNGSTRÖM Åsa", "07800900003", "asa@example.se"),
        ("a-b Bar", "+4407700900004", "bar@example.com"),
        ("Zed", "0770", ""),
    ]
    for name, phone, email in people:
        Customer.objects.create(name=name, phone=phone, email=email)
    keyed = Customer.objects.annotate(
        name_key=queries.customer_name_key(),
        phone_key=queries.customer_phone_key(),
        email_key=queries.customer_email_key(),
    )
    return {
        "by name": list(keyed.order_by("name_key", "pk").values_list("name", "name_key")),
        "by phone": list(keyed.order_by("phone_key", "pk").values_list("phone", flat=True)),
        "by email": list(keyed.order_by("email_key", "pk").values_list("email", flat=True)),
        **{
            f"search {query}": [c.name for c in search_customers(query)]
            for query in ("a", "AB", "Ä", "0770", "07700 900", "4477", "+44", "abe@", "BAR@EX", "zz")
        },
    }


def take_from_card() -> dict:
    from django.contrib.auth.models import User

    from billing import queries
    from billing.models import GiftCard
    from core.sql import run_batch

    shop = _catalogue()[0]
    user = User.objects.create(username="queries-cards")
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for code, balance, expires in (
        ("FULL", "30.00", None),
        ("LOW", "3.10", None),
        ("OLD", "30.00", datetime(2026, 2, 1, tzinfo=UTC)),
        ("LATER", "30.00", datetime(2026, 4, 1, tzinfo=UTC)),
    ):
        GiftCard.objects.create(
            code=code,
            issued_at=shop,
            initial_value=Decimal(balance),
            balance=Decimal(balance),
            expires_at=expires,
            created_by=user,
        )
    takes = [("FULL", "12.35"), ("FULL", "17.65"), ("LOW", "3.20"), ("LOW", "3.10"), ("OLD", "1.00")]
    takes += [("LATER", "0.10"), ("NONE", "1.00"), ("FULL", "0.01")]
    rows = run_batch([queries.take_from_card(code, Decimal(amount), now) for code, amount in takes])
    return {
        "took": [[_value(Decimal(str(row[0][1])).quantize(Decimal("0.01")), {}) if row else None] for row in rows],
        "balances": {card.code: _value(card.balance, {}) for card in GiftCard.objects.order_by("code")},
    }


CASES = {
    "inventory.queries.name_key": name_key,
    "inventory.queries.lock_levels": lock_levels,
    "inventory.queries.save_levels_and_moves": save_levels_and_moves,
    "inventory.queries.copy_rows": copy_rows,
    "billing.queries.read_register": read_register,
    "billing.queries.take_from_card": take_from_card,
    "staff.queries.read_client": read_client,
    "staff.queries.read_access": read_access,
    "orders.queries.read_products": read_products,
    "orders.queries.customer_keys": customer_keys,
}


def main() -> None:
    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0, interactive=False)
    results = {}
    for name, case in CASES.items():
        with transaction.atomic():
            results[name] = case()
            transaction.set_rollback(True)
    print(json.dumps({"vendor": connection.vendor, "results": results}))


if __name__ == "__main__":
    main()
