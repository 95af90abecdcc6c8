"""First-day setup: a store with everything a first sale needs, made in one go, and the checklist that says whether
a sale can be made there.

`set_up_store` creates the store (inventory.Location with its legal identity and money settings), its tax rates,
registers with their receipt printers, tables by section and staff with roles and PINs, in one transaction: every
input is checked first and all problems are raised together in one DomainError whose `fields` are keyed like the
setup page's inputs ("store-code", "tax-0-percent", "register-1-host", "staff-2-pin", "tables"), so nothing is
half-created and each message lands beside its field. It lives in billing, the highest floor it writes to.

`checklist` says what is still missing before a sale (store identity, a tax rate, a register, its printer and a
test page printed on it, a product to sell, staff with a PIN); `print_test_page` sends that test page through the
print outbox.

Paired terminals: each register made here gets a terminal of the same name (staff.Terminal, with that till), which a
manager pairs to the till's browser on the day (the pairing screen, or "Pair a device"); the checklist says which
are not paired yet.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from billing import printing
from billing.models import Printer, PrintJob, Register
from billing.printer_targets import TargetRefused, check_printer
from core.errors import Conflict, DomainError, NotFound
from inventory.models import Location, Product, TaxRate
from orders.models import Table
from staff.audit import audit
from staff.models import StaffProfile, Terminal
from staff.pins import pin_problem, set_pin
from staff.roles import ROLES

MAX_TABLES = 500
MAX_CASH_ROUNDING = Decimal("1000")
TEST_PAGE = "test_page"


@dataclass
class StoreInput:
    code: str
    name: str
    legal_name: str = ""
    address: str = ""
    tax_id: str = ""
    prices_include_tax: bool = True
    cash_rounding: Decimal = Decimal(0)
    service_charge_percent: Decimal = Decimal(0)
    service_charge_base: str = Location.ServiceChargeBase.BEFORE_TAX


@dataclass
class TaxRateInput:
    name: str
    percent: Decimal


@dataclass
class RegisterInput:
    name: str
    connection: str = ""  # "network", "file", or "" for no printer yet
    host: str = ""
    port: int = 9100
    device_path: str = ""
    paper_width_mm: int = 80


@dataclass
class StaffInput:
    username: str
    first_name: str
    role: str
    pin: str
    password: str = ""


@dataclass
class SetUpStore:
    location: Location
    tax_rates: list[TaxRate] = field(default_factory=list)
    registers: list[Register] = field(default_factory=list)
    terminals: list[Terminal] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    staff: list = field(default_factory=list)


class _Problems:
    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.fields.setdefault(key, []).append(message)

    def raise_any(self) -> None:
        if self.fields:
            count = sum(len(messages) for messages in self.fields.values())
            raise DomainError(
                f"{count} problem{'s' if count > 1 else ''} to correct; nothing was created.",
                code="invalid",
                fields=self.fields,
            )


_RANGE = re.compile(r"^(?P<prefix>\D*)(?P<first>\d+)\s*-\s*(?P=prefix)?(?P<last>\d+)$")


def parse_tables(text: str) -> list[tuple[str, str]]:
    """(section, table name) pairs from lines like "Main room: 1-12" or "Terrace: T1-T6, Bar 1". A line without a
    section goes to "Main". Raises DomainError (field "tables") naming the line at fault."""
    tables: list[tuple[str, str]] = []
    seen: set[str] = set()

    def refuse(message: str):
        raise DomainError(message, code="invalid", fields={"tables": [message]})

    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        section, _, names = line.rpartition(":")
        section = section.strip() or "Main"
        if len(section) > 40:
            refuse(f"Line {number}: a section name has at most 40 characters.")
        for item in names.split(","):
            item = item.strip()
            if not item:
                continue
            match = _RANGE.match(item)
            if match:
                first, last = int(match["first"]), int(match["last"])
                if last < first:
                    refuse(f"Line {number}: “{item}” counts backwards.")
                if last - first >= MAX_TABLES:
                    refuse(f"Line {number}: at most {MAX_TABLES} tables.")
                found = [f"{match['prefix']}{n}" for n in range(first, last + 1)]
            else:
                found = [item]
            for name in found:
                if len(name) > 20:
                    refuse(f"Line {number}: a table name has at most 20 characters (“{name[:30]}”).")
                if name in seen:
                    refuse(f"Line {number}: table {name} is named twice.")
                seen.add(name)
                tables.append((section, name))
            if len(tables) > MAX_TABLES:
                refuse(f"At most {MAX_TABLES} tables.")
    return tables


def _printer_name(store: StoreInput, register: RegisterInput) -> str:
    return f"{store.name} · {register.name}"[:80]


def store_code_problem(code: str) -> str | None:
    if Location.objects.filter(code__iexact=code).exists():
        return "A location with this code exists already."
    return None


def tax_rate_problem(name: str, percent: Decimal) -> str | None:
    """Why a tax rate row cannot be saved (the name belongs to a rate with another percent), or None."""
    known = TaxRate.objects.filter(name__iexact=name).first()
    if known is not None and known.percent != percent:
        return f"{known} exists already with another rate; choose another name."
    return None


def printer_problems(register: RegisterInput) -> dict[str, str]:
    """Where a register's printer may not point ({field: message}; billing.printer_targets)."""
    printer = Printer(
        connection=register.connection, host=register.host, port=register.port, device_path=register.device_path
    )
    try:
        check_printer(printer)
    except TargetRefused as refused:
        return {refused.field: refused.message}
    return {}


def staff_problems(person: StaffInput) -> dict[str, list[str]]:
    """What is wrong with one member of staff to create ({field: messages}): a taken username, an unknown role, a
    PIN too easy to guess, a password the validators refuse."""
    User = get_user_model()
    problems: dict[str, list[str]] = {}
    if User.objects.filter(username__iexact=person.username).exists():
        problems["username"] = ["This username is taken."]
    if person.role not in ROLES:
        problems["role"] = ["Not a role."]
    if problem := pin_problem(person.pin):
        problems["pin"] = [problem]
    if person.password:
        try:
            validate_password(person.password, User(username=person.username, first_name=person.first_name))
        except ValidationError as error:
            problems["password"] = list(error.messages)
    return problems


def _check(
    store: StoreInput,
    tax_rates: list[TaxRateInput],
    registers: list[RegisterInput],
    tables: str,
    staff: list[StaffInput],
) -> tuple[_Problems, list[tuple[str, str]], dict[str, TaxRate]]:
    problems = _Problems()
    if problem := store_code_problem(store.code):
        problems.add("store-code", problem)
    if store.cash_rounding < 0 or store.cash_rounding > MAX_CASH_ROUNDING:
        problems.add("store-cash_rounding", f"Between 0 and {MAX_CASH_ROUNDING}.")
    if not 0 <= store.service_charge_percent <= 100:
        problems.add("store-service_charge_percent", "Between 0 and 100.")

    existing_rates = {rate.name.lower(): rate for rate in TaxRate.objects.all()}
    names_seen: set[str] = set()
    for index, rate in enumerate(tax_rates):
        key = rate.name.lower()
        if key in names_seen:
            problems.add(f"tax-{index}-name", "Named twice.")
        names_seen.add(key)
        if not 0 <= rate.percent <= 100:
            problems.add(f"tax-{index}-percent", "Between 0 and 100.")
        if problem := tax_rate_problem(rate.name, rate.percent):
            problems.add(f"tax-{index}-name", problem)
    if not tax_rates and not existing_rates:
        problems.add("tax-0-name", "A store needs at least one tax rate.")

    if not registers:
        problems.add("register-0-name", "A store needs at least one register (till).")
    register_names: set[str] = set()
    printer_names: set[str] = set()
    for index, register in enumerate(registers):
        if register.name.lower() in register_names:
            problems.add(f"register-{index}-name", "Named twice.")
        register_names.add(register.name.lower())
        if not register.connection:
            continue
        printer_name = _printer_name(store, register)
        if printer_name.lower() in printer_names or Printer.objects.filter(name__iexact=printer_name).exists():
            problems.add(f"register-{index}-name", f"A printer named “{printer_name}” exists already.")
        printer_names.add(printer_name.lower())
        for name, message in printer_problems(register).items():
            problems.add(f"register-{index}-{name}", message)

    try:
        table_names = parse_tables(tables)
    except DomainError as error:
        problems.add("tables", error.message)
        table_names = []

    usernames: set[str] = set()
    for index, person in enumerate(staff):
        key = person.username.lower()
        if key in usernames:
            problems.add(f"staff-{index}-username", "Named twice.")
        usernames.add(key)
        for name, messages in staff_problems(person).items():
            for message in messages:
                problems.add(f"staff-{index}-{name}", message)
    return problems, table_names, existing_rates


@transaction.atomic
def set_up_store(
    *,
    store: StoreInput,
    tax_rates: list[TaxRateInput],
    registers: list[RegisterInput],
    tables: str = "",
    staff: list[StaffInput],
    user,
) -> SetUpStore:
    """Create a store and what it needs to sell, or nothing: raises DomainError with every problem found (keys as
    described in the module docstring). Tax rates are shared by all stores: one with the name of an existing rate
    and the same percent is that rate. Staff get the store on their profile, their role's group, a PIN, and a
    password if one is given (else they sign in by PIN at a terminal a colleague signed in). Audited. Raises
    Conflict when another manager takes one of its names between the check and the write."""
    problems, table_names, existing_rates = _check(store, tax_rates, registers, tables, staff)
    problems.raise_any()
    try:
        with transaction.atomic():
            return _create(store, tax_rates, registers, table_names, staff, existing_rates, user=user)
    except IntegrityError:  # another manager took a code, a name or a username between the check and now
        raise Conflict(
            "Someone else created a store, tax rate, printer or user with one of these names just now; nothing was "
            "created. Send the page again to see which."
        ) from None


def _create(
    store: StoreInput,
    tax_rates: list[TaxRateInput],
    registers: list[RegisterInput],
    table_names: list[tuple[str, str]],
    staff: list[StaffInput],
    existing_rates: dict[str, TaxRate],
    *,
    user,
) -> SetUpStore:
    location = Location.objects.create(
        code=store.code,
        name=store.name,
        kind=Location.Kind.STORE,
        legal_name=store.legal_name,
        address=store.address,
        tax_id=store.tax_id,
        prices_include_tax=store.prices_include_tax,
        cash_rounding=store.cash_rounding,
        service_charge_percent=store.service_charge_percent,
        service_charge_base=store.service_charge_base,
    )
    made = SetUpStore(location=location)
    for rate in tax_rates:
        known = existing_rates.get(rate.name.lower())
        made.tax_rates.append(known or TaxRate.objects.create(name=rate.name, percent=rate.percent))
    for register in registers:
        printer = None
        if register.connection:
            printer = Printer.objects.create(
                name=_printer_name(store, register),
                connection=register.connection,
                host=register.host if register.connection == Printer.Connection.NETWORK else "",
                port=register.port,
                device_path=register.device_path if register.connection == Printer.Connection.FILE else "",
                paper_width_mm=register.paper_width_mm,
                columns=32 if register.paper_width_mm == 58 else 48,
            )
        till = Register.objects.create(location=location, name=register.name, printer=printer)
        made.registers.append(till)
        # The device that will sell on this till: a terminal of the same name, paired to a browser on the day.
        made.terminals.append(Terminal.objects.create(name=register.name, location=location, register=till))
    made.tables = Table.objects.bulk_create(
        [
            Table(location=location, section=section, name=name, sort_order=order)
            for order, (section, name) in enumerate(table_names)
        ]
    )
    User = get_user_model()
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLES)}
    for person in staff:
        member = User(username=person.username, first_name=person.first_name, is_staff=person.role == "Manager")
        if person.password:
            member.set_password(person.password)
        else:
            member.set_unusable_password()
        member.save()
        member.groups.add(groups[person.role])
        profile, _ = StaffProfile.objects.get_or_create(user=member)
        profile.locations.add(location)
        set_pin(user=member, pin=person.pin, actor=user)
        made.staff.append(member)
    audit(
        "store_set_up",
        actor=user,
        location=location,
        obj=location,
        tax_rates=[rate.name for rate in made.tax_rates],
        registers=[register.name for register in made.registers],
        terminals=[terminal.name for terminal in made.terminals],
        tables=len(made.tables),
        staff=[member.username for member in made.staff],
    )
    return made


# --- Can a sale be made? ---------------------------------------------------------------------------------------


@dataclass
class Check:
    key: str
    label: str
    ok: bool
    detail: str = ""


def last_test_page(printer_id: int) -> PrintJob | None:
    return (
        PrintJob.objects.filter(printer_id=printer_id, kind=PrintJob.Kind.REPORT, payload__purpose=TEST_PAGE)
        .order_by("-created_at", "-id")
        .first()
    )


def checklist(location: Location) -> list[Check]:
    """What a first sale at `location` needs, each item done or not, with what is missing."""
    missing_identity = [
        label
        for label, value in (
            ("legal name", location.legal_name),
            ("address", location.address),
            ("tax ID", location.tax_id),
        )
        if not value.strip()
    ]
    registers = list(location.registers.filter(active=True).select_related("printer").order_by("name"))
    without_printer = [r.name for r in registers if r.printer is None or not r.printer.active]
    untested = []
    for register in registers:
        if register.printer_id is None:
            continue
        job = last_test_page(register.printer_id)
        if job is None or job.status != PrintJob.Status.PRINTED:
            untested.append(f"{register.name} ({job.get_status_display().lower() if job else 'not printed yet'})")
    paired = set(
        Terminal.objects.filter(
            location=location, register__in=registers, paired_at__isnull=False, revoked_at__isnull=True
        ).values_list("register_id", flat=True)
    )
    unpaired = [r.name for r in registers if r.pk not in paired]
    products = Product.objects.filter(active=True).filter(
        Q(category__isnull=True) | Q(category__location__isnull=True) | Q(category__location=location)
    )
    with_pin = StaffProfile.objects.filter(locations=location, user__is_active=True).exclude(pin_hash="")
    sellers = with_pin.filter(Q(user__groups__name__in=("Cashier", "Manager")) | Q(user__is_superuser=True)).distinct()
    return [
        Check(
            "store",
            "Store with its legal name, address and tax ID",
            not missing_identity,
            "Missing: " + ", ".join(missing_identity) + "." if missing_identity else location.legal_name,
        ),
        Check("tax_rate", "A tax rate", TaxRate.objects.exists()),
        Check(
            "register",
            "A register (till)",
            bool(registers),
            ", ".join(r.name for r in registers) if registers else "No register.",
        ),
        Check(
            "printer",
            "A receipt printer for every register",
            bool(registers) and not without_printer,
            f"No printer: {', '.join(without_printer)}." if without_printer else "",
        ),
        Check(
            "test_print",
            "A test page printed on each receipt printer",
            bool(registers) and not without_printer and not untested,
            f"Not yet: {', '.join(untested)}." if untested else "",
        ),
        Check(
            "terminal",
            "A paired terminal (device) for every register",
            bool(registers) and not unpaired,
            f"Not paired yet: {', '.join(unpaired)} (pair it from the device, or Pair a device)." if unpaired else "",
        ),
        Check(
            "product",
            "A product to sell",
            products.exists(),
            f"{products.count()} product(s)." if products.exists() else "Import a catalogue file or add one.",
        ),
        Check(
            "staff",
            "A cashier or manager with a PIN",
            sellers.exists(),
            ", ".join(sorted(profile.user.username for profile in sellers.select_related("user")[:10])),
        ),
    ]


def ready_to_sell(location: Location) -> bool:
    return all(check.ok for check in checklist(location))


@transaction.atomic
def print_test_page(*, register_id: int, user) -> PrintJob:
    """Queue a test page on a register's printer through the print outbox. Raises NotFound for an unknown register
    and DomainError when it has no printer."""
    register = Register.objects.select_related("printer", "location").filter(pk=register_id).first()
    if register is None:
        raise NotFound("No such register.")
    if register.printer is None:
        raise DomainError(f"{register.name} has no printer.", code="no_printer", fields={"register": ["No printer."]})
    return printing.queue_test_page(register.printer, user=user, location=register.location, purpose=TEST_PAGE)
