"""Demo data for `make run`: a restaurant and a shop, their catalogue, tables, tills and one user per role."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from billing.models import Printer, Register, StationPrinter
from inventory.models import Category, Location, Product, RecipeLine, StockMove, TaxRate
from inventory.services import StockChange, apply_stock_changes
from orders.models import ModifierGroup, ModifierOption, Table
from staff.models import StaffProfile, Terminal
from staff.pins import set_pin

DEMO_PASSWORD = "tillhouse-demo"  # noqa: S105 - printed on purpose, demo only
# The POS quick-switch PINs of the demo users (demo only).
DEMO_PINS = {"manager": "918273", "cashier": "402718", "waiter": "530691", "kitchen": "648205"}
DEMO_USERS = [
    ("manager", "Manager", "Maria"),
    ("cashier", "Cashier", "Carl"),
    ("waiter", "Waiter", "Wendy"),
    ("kitchen", "Kitchen", "Kim"),
]


def ean13(stem: str) -> str:
    digits = [int(c) for c in stem]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return stem + str(check)


class Command(BaseCommand):
    help = "Load demo data (once) and print the demo logins."

    def handle(self, *args, **options):
        if not Location.objects.filter(code="harbour").exists():
            self.load()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        if not Terminal.objects.exists():  # also for a demo database loaded before terminals existed
            self.add_terminals()
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<8} {username:<8} POS PIN {DEMO_PINS[username]}")

    @transaction.atomic
    def add_terminals(self):
        """The demo devices (staff.Terminal), not paired yet: the demo manager, signed in on a new browser, pairs it
        as one of them on the pairing screen (README: "Pair this browser")."""
        harbour, corner = Location.objects.get(code="harbour"), Location.objects.get(code="corner")
        for location, name, till, stations in (
            (harbour, "Till 1", "Till 1", []),
            (harbour, "Till 2", "Till 2", []),
            (harbour, "Waiter tablet", None, []),
            (harbour, "Kitchen", None, ["kitchen"]),
            (harbour, "Bar", None, ["bar"]),
            (corner, "Till 1", "Till 1", []),
        ):
            register = Register.objects.filter(location=location, name=till).first() if till else None
            Terminal.objects.create(location=location, name=name, register=register, kitchen_stations=stations)

    @transaction.atomic
    def load(self):
        standard = TaxRate.objects.get_or_create(name="Standard", defaults={"percent": Decimal("20")})[0]
        reduced = TaxRate.objects.get_or_create(name="Reduced", defaults={"percent": Decimal("10")})[0]
        TaxRate.objects.get_or_create(name="Zero", defaults={"percent": Decimal("0")})

        harbour = Location.objects.create(
            code="harbour",
            name="Harbour Kitchen",
            legal_name="Harbour Kitchen Ltd",
            address="1 Quay Street",
            tax_id="GB 123 4567 89",
            service_charge_percent=Decimal("10"),
            receipt_footer="Thank you, see you soon!",
        )
        corner = Location.objects.create(
            code="corner",
            name="Corner Shop",
            legal_name="Corner Shop Trading Ltd",
            address="22 High Street",
            tax_id="GB 987 6543 21",
            cash_rounding=Decimal("0.05"),
            receipt_footer="Keep your receipt for returns.",
        )
        Location.objects.create(code="central", name="Central Warehouse", kind=Location.Kind.WAREHOUSE)

        cats = {
            "Burgers": Category.objects.create(name="Burgers", location=harbour, station="kitchen", sort_order=1),
            "Mains": Category.objects.create(name="Mains", location=harbour, station="kitchen", sort_order=2),
            "Desserts": Category.objects.create(name="Desserts", location=harbour, station="kitchen", sort_order=3),
            "Drinks": Category.objects.create(name="Drinks", location=harbour, station="bar", sort_order=4),
            "Ingredients": Category.objects.create(name="Ingredients", sort_order=9),
            "Groceries": Category.objects.create(name="Groceries", location=corner, sort_order=1),
            "Snacks": Category.objects.create(name="Snacks", location=corner, sort_order=2),
            "Household": Category.objects.create(name="Household", location=corner, sort_order=3),
        }
        n = 0

        def product(name, category, price, cost, tax=standard, kind=Product.Kind.GOODS, **extra):
            nonlocal n
            n += 1
            return Product.objects.create(
                sku=f"DEMO{n:04d}",
                barcode=ean13(f"400000{n:06d}"),
                name=name,
                category=cats[category],
                price=Decimal(price),
                cost=Decimal(cost),
                tax_rate=tax,
                kind=kind,
                **extra,
            )

        bun = product("Brioche bun", "Ingredients", "0", "0.30", kind=Product.Kind.INGREDIENT, reorder_point=20)
        patty = product("Beef patty", "Ingredients", "0", "1.20", kind=Product.Kind.INGREDIENT, reorder_point=20)
        cheese = product(
            "Cheddar slice",
            "Ingredients",
            "0",
            "0.15",
            kind=Product.Kind.INGREDIENT,
            reorder_point=20,
            stock_policy=Product.StockPolicy.WARN,
        )
        menu = Product.Kind.MENU_ITEM
        burger = product("Classic burger", "Burgers", "12.50", "0", reduced, menu)
        cheeseburger = product("Cheeseburger", "Burgers", "13.50", "0", reduced, menu)
        for item, parts in ((burger, [bun, patty]), (cheeseburger, [bun, patty, cheese])):
            for part in parts:
                RecipeLine.objects.create(menu_item=item, ingredient=part, quantity=Decimal("1"))
        doneness = ModifierGroup.objects.create(name="Doneness", min_choices=1, max_choices=1, sort_order=1)
        extras = ModifierGroup.objects.create(name="Extras", min_choices=0, max_choices=3, sort_order=2)
        for group in (doneness, extras):
            group.categories.add(cats["Burgers"])
        for i, name in enumerate(("Rare", "Medium rare", "Medium", "Well done")):
            ModifierOption.objects.create(group=doneness, name=name, sort_order=i)
        ModifierOption.objects.create(
            group=extras, name="Extra cheddar", price_delta=Decimal("1.00"), ingredient=cheese, ingredient_quantity=1
        )
        ModifierOption.objects.create(group=extras, name="Fried egg", price_delta=Decimal("1.50"), sort_order=1)
        ModifierOption.objects.create(group=extras, name="Jalapeños", price_delta=Decimal("0.80"), sort_order=2)
        ModifierOption.objects.create(
            group=extras, name="Sweet potato fries", price_delta=Decimal("2.50"), sort_order=3
        )
        for name, price in (
            ("Fish & chips", "14.90"),
            ("Caesar salad", "10.50"),
            ("Veggie risotto", "13.00"),
        ):
            product(name, "Mains", price, "0", reduced, menu, tracked=False)
        for name, price in (("Chocolate brownie", "6.50"), ("Lemon tart", "6.90")):
            product(name, "Desserts", price, "0", reduced, menu, tracked=False)
        drinks = [
            product(name, "Drinks", price, cost, stock_policy=Product.StockPolicy.WARN, reorder_point=12)
            for name, price, cost in (
                ("Sparkling water", "3.20", "0.60"),
                ("Cola", "3.50", "0.70"),
                ("Pale ale", "5.80", "1.60"),
                ("House red (glass)", "6.50", "1.90"),
                ("Espresso", "2.40", "0.25"),
                ("Café crème", "3.40", "0.40"),
            )
        ]
        groceries = [
            product(name, "Groceries", price, cost, reduced, reorder_point=10)
            for name, price, cost in (
                ("Whole milk 1 l", "1.19", "0.70"),
                ("Sourdough loaf", "3.95", "1.80"),
                ("Free-range eggs ×6", "2.89", "1.70"),
                ("Olive oil 500 ml", "7.49", "4.10"),
                ("Crème fraîche", "1.79", "0.90"),
                ("Bananas (kg)", "1.99", "1.10"),
            )
        ]
        snacks = [
            product(name, "Snacks", price, cost, reorder_point=10)
            for name, price, cost in (
                ("Salted crisps", "1.49", "0.55"),
                ("Dark chocolate 70%", "2.29", "1.05"),
                ("Trail mix", "3.99", "1.90"),
                ("Ginger biscuits", "1.89", "0.80"),
            )
        ]
        household = [
            product(name, "Household", price, cost, reorder_point=5)
            for name, price, cost in (
                ("Dish soap", "2.49", "1.10"),
                ("Paper towels ×2", "3.29", "1.70"),
                ("AA batteries ×4", "5.99", "2.80"),
            )
        ]

        changes = [StockChange(p.pk, harbour.pk, Decimal("40")) for p in (bun, patty, cheese, *drinks)]
        changes += [StockChange(p.pk, corner.pk, Decimal("25")) for p in (*groceries, *snacks, *household)]
        apply_stock_changes(changes, reason=StockMove.Reason.PURCHASE, reference="demo-opening-stock")

        for number in range(1, 13):
            Table.objects.create(
                location=harbour,
                name=str(number),
                section="Terrace" if number > 8 else "Main room",
                seats=2 if number % 3 == 0 else 4,
                sort_order=number,
            )
        # Demo printers write ESC/POS bytes to files in var/printers/ (each job replaces the file's contents), so
        # a demo sale really goes through the print outbox without a printer on the desk.
        printer_dir = settings.BASE_DIR / "var" / "printers"
        printer_dir.mkdir(parents=True, exist_ok=True)

        def file_printer(name, filename, width, columns, drawer):
            return Printer.objects.create(
                name=name,
                connection=Printer.Connection.FILE,
                device_path=str(printer_dir / filename),
                paper_width_mm=width,
                columns=columns,
                has_cash_drawer=drawer,
            )

        Register.objects.create(
            location=harbour, name="Till 1", printer=file_printer("Harbour till", "harbour-till-1.bin", 80, 48, True)
        )
        Register.objects.create(
            location=harbour,
            name="Till 2",
            printer=file_printer("Harbour bar till", "harbour-till-2.bin", 58, 32, True),
        )
        Register.objects.create(
            location=corner, name="Till 1", printer=file_printer("Corner till", "corner-till-1.bin", 58, 32, True)
        )
        kitchen_printer = file_printer("Harbour kitchen", "harbour-kitchen.bin", 80, 48, False)
        bar_printer = file_printer("Harbour bar", "harbour-bar.bin", 58, 32, False)
        StationPrinter.objects.create(location=harbour, station="kitchen", printer=kitchen_printer)
        StationPrinter.objects.create(location=harbour, station="bar", printer=bar_printer)

        for username, role, first_name in DEMO_USERS:
            user = User.objects.create_user(
                username, password=DEMO_PASSWORD, first_name=first_name, is_staff=role == "Manager"
            )
            user.groups.add(Group.objects.get(name=role))
            profile = StaffProfile.objects.create(user=user)
            profile.locations.add(harbour, corner)
            # POS quick-switch PIN (see staff.pins), printed with the logins above.
            set_pin(user=user, pin=DEMO_PINS[username])
