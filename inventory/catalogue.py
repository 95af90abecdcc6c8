"""The catalogue as a spreadsheet: products in and out of a CSV file, matched by SKU.

Columns (a header row names them, in any order, case and spaces ignored): sku, barcode, name, category, price,
cost, tax_rate, kind, stock_policy, and one `stock:<location code>` column per location that gets an opening stock.

`check_catalogue` reads a whole file and reports every bad row (line, field, reason) without writing anything;
`import_catalogue` checks it the same way and, only when it is clean, applies it in one transaction: new products
are created, changed ones updated, unchanged ones left alone (so importing the same file twice changes nothing).
Opening stock goes into the stock ledger once per product and location, as a move under OPENING_REFERENCE; the
same figure again books nothing, a different one is refused (stock is corrected by an adjustment or a count, never
by re-importing). `export_catalogue` writes the same columns with the opening stock booked, so an export imports
as a no-op.

Blank cells: barcode and category blank mean none; cost blank keeps the product's cost (0 for a new one); kind
blank is goods, stock policy blank is block; a blank stock cell books nothing.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.csv_export import FORMULA_STARTS, csv_cell
from core.errors import DomainError
from core.inputs import MAX_AMOUNT
from core.money import QTY_PLACES, has_more_places_than_currency, quantize
from inventory import queries
from inventory.models import Category, Location, Product, StockLevel, StockMove, TaxRate
from inventory.services import StockChange, apply_stock_changes
from staff.audit import audit

COLUMNS = ("sku", "barcode", "name", "category", "price", "cost", "tax_rate", "kind", "stock_policy")
REQUIRED_COLUMNS = ("sku", "name", "price", "tax_rate")
STOCK_PREFIX = "stock:"
OPENING_REFERENCE = "opening-stock"
OPENING_NOTE = "Opening stock"
MAX_ROWS = 200_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_OPENING_STOCK = Decimal("1000000000")
# Rows applied per batch of writes (one transaction still holds them all).
BATCH = 5000

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "reason": self.reason}


@dataclass
class Row:
    line: int
    sku: str
    barcode: str | None
    name: str
    category: str
    price: Decimal
    cost: Decimal | None
    tax_rate_id: int
    kind: str
    stock_policy: str
    stock: dict[int, Decimal] = field(default_factory=dict)


@dataclass
class CatalogueResult:
    """What a check found or an import did. `errors` empty means the file is clean."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    categories_created: int = 0
    stock_moves: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False

    @property
    def clean(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "categories_created": self.categories_created,
            "stock_moves": self.stock_moves,
            "errors": [error.as_dict() for error in self.errors],
            "applied": self.applied,
        }


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


# --- Reading ---------------------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 (with or without the byte-order mark spreadsheets write), else a
    DomainError naming the file."""
    if len(data) > MAX_FILE_BYTES:
        raise DomainError(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it.",
            code="too_large",
            fields={"file": ["File too large."]},
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(
            "The file is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”.",
            code="invalid",
            fields={"file": ["Not UTF-8 text."]},
        ) from None


def _header_key(name: str) -> str:
    name = name.strip().lower()
    if name.startswith(STOCK_PREFIX):
        return STOCK_PREFIX + name[len(STOCK_PREFIX) :].strip()
    return "_".join(name.replace("-", " ").split())


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma-separated, or semicolons as spreadsheets in many locales write (read from the header line)."""
    first = text.split("\n", 1)[0]
    return csv.excel if first.count(",") >= first.count(";") else _Semicolon


class _Semicolon(csv.excel):
    delimiter = ";"


def _unguard(text: str) -> str:
    """A cell as typed: strips the apostrophe our exports put before a cell a spreadsheet would read as a formula
    (or before a value that starts with an apostrophe itself)."""
    if text.startswith("'") and text[1:2] and (text[1] in FORMULA_STARTS or text[1] == "'"):
        return text[1:]
    return text


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, its cells) for each record after the header, blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    line = reader.line_num
    for record in reader:
        start = line + 1
        line = reader.line_num
        if record and any(cell.strip() for cell in record):
            yield start, record


# --- Checking ---------------------------------------------------------------------------------------------------


KINDS = tuple(Product.Kind.choices)
POLICIES = tuple(Product.StockPolicy.choices)


def _choice(value: str, choices) -> str | None:
    wanted = value.strip().lower()
    if not wanted:
        return None
    for code, label in choices:
        if wanted in (code, label.lower(), code.replace("_", " ")):
            return code
    return ""


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


AMBIGUOUS = Category(name="(several)")


class _Checker:
    """Reads what a file refers to once (locations, tax rates, categories, products, opening stock), then checks
    the rows one by one."""

    def __init__(self):
        self.locations = {loc.code.lower(): loc for loc in Location.objects.all()}
        rates = list(TaxRate.objects.all())
        self.tax_rates = {rate.name.strip().lower(): rate for rate in rates}
        self.tax_rates_exact = {rate.name: rate for rate in rates}
        categories: dict[str, list[Category]] = defaultdict(list)
        for category in Category.objects.all():
            categories[category.name.strip().lower()].append(category)
        self.categories = categories
        self.products = {
            row["sku"]: row
            for row in Product.objects.values(
                "id",
                "sku",
                "barcode",
                "name",
                "category_id",
                "price",
                "cost",
                "tax_rate_id",
                "kind",
                "stock_policy",
                "quantity_places",
            )
        }
        self.barcodes = {p["barcode"]: sku for sku, p in self.products.items() if p["barcode"]}
        self.opening = opening_stock()

    def category(self, name: str) -> Category | None:
        """The category a row names: the one with exactly that name, else the one whose name differs only in case;
        None when there is none (the import creates it). AMBIGUOUS when several fit."""
        matches = self.categories.get(name.lower(), [])
        exact = [category for category in matches if category.name == name]
        if len(exact) == 1:
            return exact[0]
        if not exact and len(matches) == 1:
            return matches[0]
        return AMBIGUOUS if matches else None

    def tax_rate(self, name: str) -> TaxRate | None:
        return self.tax_rates_exact.get(name) or self.tax_rates.get(name.lower())

    def header(self, cells: list[str], errors: list[RowError]) -> tuple[dict[str, int], dict[int, Location]]:
        columns: dict[str, int] = {}
        stock_columns: dict[int, Location] = {}
        for index, cell in enumerate(cells):
            key = _header_key(cell)
            if key in columns:
                errors.append(RowError(1, cell.strip(), "This column appears twice."))
            elif key.startswith(STOCK_PREFIX):
                location = self.locations.get(key[len(STOCK_PREFIX) :])
                if location is None:
                    errors.append(RowError(1, cell.strip(), "No location has this code."))
                else:
                    stock_columns[index] = location
                    columns[key] = index
            elif key in COLUMNS:
                columns[key] = index
            elif key:
                known = ", ".join(COLUMNS)
                errors.append(RowError(1, cell.strip(), f"Unknown column (known: {known}, stock:<location code>)."))
        for name in REQUIRED_COLUMNS:
            if name not in columns:
                errors.append(RowError(1, name, "This column is missing."))
        return columns, stock_columns

    def row(
        self, line: int, cells: list[str], columns: dict[str, int], stock_columns: dict[int, Location], width: int
    ) -> tuple[Row | None, list[RowError]]:
        errors: list[RowError] = []

        def bad(name: str, reason: str) -> None:
            errors.append(RowError(line, name, reason))

        if len(cells) > width:
            bad("line", f"Has {len(cells)} cells; the header has {width}.")
            return None, errors

        def cell(name: str) -> str:
            index = columns.get(name)
            if index is None or index >= len(cells):
                return ""
            return _unguard(cells[index].strip())

        def text(name: str, max_length: int, *, required: bool = False) -> str:
            value = cell(name)
            if "\x00" in value:
                bad(name, "Contains a NUL character.")
            elif len(value) > max_length:
                bad(name, f"At most {max_length} characters.")
            elif required and not value:
                bad(name, "Required.")
            return value

        def money(name: str, *, required: bool) -> Decimal | None:
            raw = cell(name)
            if not raw:
                if required:
                    bad(name, "Required.")
                return None
            value = _decimal(raw)
            if value is None:
                bad(name, f"“{raw[:20]}” is not a number.")
            elif value < 0:
                bad(name, "Cannot be negative.")
            elif value > MAX_AMOUNT:
                bad(name, f"Cannot be more than {MAX_AMOUNT:,}.")
            elif has_more_places_than_currency(value):
                bad(name, f"At most {settings.POS_CURRENCY_DECIMALS} decimal places.")
            else:
                return quantize(value)
            return None

        sku = text("sku", 64, required=True)
        barcode = text("barcode", 64) or None
        name = text("name", 200, required=True)
        category = text("category", 80)
        price = money("price", required=True)
        cost = money("cost", required=False)

        tax_rate_id = 0
        tax_name = cell("tax_rate")
        if not tax_name:
            bad("tax_rate", "Required.")
        elif (rate := self.tax_rate(tax_name)) is None:
            known = ", ".join(sorted(r.name for r in self.tax_rates.values())) or "none yet"
            bad("tax_rate", f"No tax rate named “{tax_name[:40]}” (known: {known}).")
        else:
            tax_rate_id = rate.pk

        kind = _choice(cell("kind"), KINDS)
        if kind == "":
            bad("kind", "Not a kind: " + ", ".join(code for code, _ in KINDS) + ".")
        policy = _choice(cell("stock_policy"), POLICIES)
        if policy == "":
            bad("stock_policy", "Not a policy: block, warn or allow.")

        if category and self.category(category) is AMBIGUOUS:
            bad("category", "Several categories have this name; rename one in the admin first.")

        existing = self.products.get(sku)
        if barcode and self.barcodes.get(barcode, sku) != sku:
            bad("barcode", f"Already the barcode of {self.barcodes[barcode]}.")

        stock: dict[int, Decimal] = {}
        places = existing["quantity_places"] if existing else 0
        for index, location in stock_columns.items():
            column = STOCK_PREFIX + location.code
            raw = cells[index].strip() if index < len(cells) else ""
            if not raw:
                continue
            quantity = _decimal(raw)
            if quantity is None:
                bad(column, f"“{raw[:20]}” is not a number.")
                continue
            if quantity < 0:
                bad(column, "Opening stock cannot be negative.")
                continue
            if quantity > MAX_OPENING_STOCK:
                bad(column, f"Cannot be more than {MAX_OPENING_STOCK:,}.")
                continue
            if quantity != quantity.quantize(Decimal(1).scaleb(-places)):
                bad(column, "Whole pieces only." if places == 0 else f"At most {places} decimal places.")
                continue
            booked = self.opening.get((existing["id"], location.pk)) if existing else None
            if booked is not None:
                if booked != quantity:
                    bad(
                        column,
                        f"Opening stock was booked as {booked.normalize():f} already; "
                        "correct stock with an adjustment or a stock count.",
                    )
                continue
            if quantity and (kind or Product.Kind.GOODS) == Product.Kind.SERVICE:
                bad(column, "A service holds no stock.")
                continue
            if quantity:
                stock[location.pk] = quantity.quantize(Decimal(1).scaleb(-QTY_PLACES))

        if errors:
            return None, errors
        assert price is not None
        return (
            Row(
                line=line,
                sku=sku,
                barcode=barcode,
                name=name,
                category=category,
                price=price,
                cost=cost,
                tax_rate_id=tax_rate_id,
                kind=kind or Product.Kind.GOODS,
                stock_policy=policy or Product.StockPolicy.BLOCK,
                stock=stock,
            ),
            errors,
        )


@dataclass
class _Plan:
    rows: list[Row]
    result: CatalogueResult
    checker: _Checker


def _plan(text: str, progress: Progress) -> _Plan:
    checker = _Checker()
    result = CatalogueResult()
    errors = result.errors
    records = _records(text)
    header = next(records, None)
    if header is None:
        errors.append(RowError(1, "file", "The file is empty: it needs a header row and one row per product."))
        return _Plan([], result, checker)
    columns, stock_columns = checker.header(header[1], errors)
    if errors:
        return _Plan([], result, checker)
    width = len(header[1])
    rows: list[Row] = []
    first_line_of_sku: dict[str, int] = {}
    first_line_of_barcode: dict[str, int] = {}
    total_estimate = max(text.count("\n"), 1)
    for count, (line, cells) in enumerate(records, start=1):
        if count > MAX_ROWS:
            errors.append(RowError(line, "file", f"More than {MAX_ROWS:,} products: split the file."))
            break
        row, row_errors = checker.row(line, cells, columns, stock_columns, width)
        if row is not None:
            if (first := first_line_of_sku.setdefault(row.sku, line)) != line:
                row_errors.append(RowError(line, "sku", f"The same SKU is on line {first}."))
            if row.barcode and (first := first_line_of_barcode.setdefault(row.barcode, line)) != line:
                row_errors.append(RowError(line, "barcode", f"The same barcode is on line {first}."))
        errors.extend(row_errors)
        if row is not None and not row_errors:
            rows.append(row)
        if count % BATCH == 0:
            progress("checking", count, total_estimate)
    result.rows = len(rows) + len({e.line for e in errors if e.line > 1})
    if not result.rows and not errors:
        errors.append(RowError(1, "file", "The file has a header but no products."))
    return _Plan(rows, result, checker)


def _changes(row: Row, existing: Mapping[str, Any], category_id: int | None) -> dict:
    wanted = {
        "barcode": row.barcode,
        "name": row.name,
        "category_id": category_id,
        "price": row.price,
        "tax_rate_id": row.tax_rate_id,
        "kind": row.kind,
        "stock_policy": row.stock_policy,
    }
    if row.cost is not None:
        wanted["cost"] = row.cost
    return {name: value for name, value in wanted.items() if existing[name] != value}


def _count(plan: _Plan) -> None:
    """Fill in how many products the plan creates, updates and leaves alone, and its stock moves."""
    result, checker = plan.result, plan.checker
    new_categories = set()
    for row in plan.rows:
        existing = checker.products.get(row.sku)
        category = checker.category(row.category) if row.category else None
        if row.category and category is None:
            new_categories.add(row.category.lower())
        if existing is None:
            result.created += 1
        else:
            category_id = category.pk if category else (-1 if row.category else None)
            if _changes(row, existing, category_id):
                result.updated += 1
            else:
                result.unchanged += 1
        result.stock_moves += len(row.stock)
    result.categories_created = len(new_categories)


def check_catalogue(text: str, *, progress: Progress = _no_progress) -> CatalogueResult:
    """Every bad row of the file (line, field, reason), and what importing it would do. Writes nothing."""
    plan = _plan(text, progress)
    if plan.result.clean:
        _count(plan)
    return plan.result


@transaction.atomic
def import_catalogue(text: str, *, user=None, progress: Progress = _no_progress) -> CatalogueResult:
    """Check the file and, if every row is clean, apply it in one transaction: categories it names are created,
    products matched by SKU created or updated (unchanged ones not touched), opening stock booked once in the ledger.
    With any bad row nothing is written and the result lists them all. Raises OutOfStock/DomainError only for what a
    check cannot see (a stock level overflowing)."""
    plan = _plan(text, progress)
    result = plan.result
    if not result.clean:
        return result
    checker = plan.checker
    total = len(plan.rows)

    category_ids: dict[str, int] = {}  # by the name as the file writes it
    wanted_names: dict[str, str] = {}
    for row in plan.rows:
        if row.category and row.category not in category_ids:
            known = checker.category(row.category)
            if known is None:
                wanted_names.setdefault(row.category.lower(), row.category)
            else:
                category_ids[row.category] = known.pk
    created = {
        category.name.lower(): category.pk
        for category in Category.objects.bulk_create([Category(name=name) for name in wanted_names.values()])
    }
    for row in plan.rows:
        if row.category and row.category not in category_ids:
            category_ids[row.category] = created[row.category.lower()]
    result.categories_created = len(created)

    now = timezone.now()
    last_id = Product.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    new: list[dict] = []
    changed: dict[tuple[str, ...], list[Product]] = defaultdict(list)
    losing_barcode: list[int] = []
    for row in plan.rows:
        category_id = category_ids[row.category] if row.category else None
        existing = checker.products.get(row.sku)
        if existing is None:
            new.append(
                {
                    "sku": row.sku,
                    "barcode": row.barcode,
                    "name": row.name,
                    "category_id": category_id,
                    "price": row.price,
                    "cost": row.cost or Decimal(0),
                    "tax_rate_id": row.tax_rate_id,
                    "kind": row.kind,
                    "stock_policy": row.stock_policy,
                    "tracked": row.kind != Product.Kind.SERVICE,
                }
            )
            continue
        changes = _changes(row, existing, category_id)
        if not changes:
            result.unchanged += 1
            continue
        if "barcode" in changes and existing["barcode"]:
            losing_barcode.append(existing["id"])
        changed[tuple(sorted(changes))].append(Product(id=existing["id"], updated_at=now, **changes))
        result.updated += 1

    for start in range(0, len(new), BATCH):
        queries.copy_rows(Product, new[start : start + BATCH])
        progress("importing", start + len(new[start : start + BATCH]), total)
    result.created = len(new)

    if losing_barcode:  # a barcode may move from one product to another within the file: free them all first
        Product.objects.filter(pk__in=losing_barcode).update(barcode=None)
    for names, products in changed.items():
        Product.objects.bulk_update(products, [*names, "updated_at"], batch_size=1000)

    ids = dict(Product.objects.filter(pk__gt=last_id).values_list("sku", "id")) if new else {}
    result.stock_moves = _book_new_products_stock(plan.rows, ids, user=user, progress=progress)
    existing_changes = [
        StockChange(checker.products[row.sku]["id"], location_id, quantity)
        for row in plan.rows
        if row.sku in checker.products
        for location_id, quantity in row.stock.items()
    ]
    for start in range(0, len(existing_changes), BATCH):
        apply_stock_changes(
            existing_changes[start : start + BATCH],
            reason=StockMove.Reason.ADJUSTMENT,
            reference=OPENING_REFERENCE,
            note=OPENING_NOTE,
            user=user,
            field="stock",
        )
    result.stock_moves += len(existing_changes)
    result.applied = True
    if result.created or result.updated or result.stock_moves or result.categories_created:
        audit(
            "catalogue_import",
            actor=user,
            object_type="catalogue",
            data={key: value for key, value in result.as_dict().items() if key not in ("errors", "applied")},
        )
    return result


def _book_new_products_stock(rows: list[Row], ids: dict[str, int], *, user, progress: Progress) -> int:
    """The opening stock of products this import created: each product × location has no stock level and no move
    yet, so both are written as they are (the level equal to its one move, DESIGN.md §3.2) without locking."""
    levels: list[dict] = []
    moves: list[dict] = []
    for row in rows:
        product_id = ids.get(row.sku)
        if product_id is None:
            continue
        for location_id, quantity in row.stock.items():
            levels.append(
                {
                    "product_id": product_id,
                    "location_id": location_id,
                    "on_hand": quantity,
                    "allow_negative": row.stock_policy != Product.StockPolicy.BLOCK,
                }
            )
            moves.append(
                {
                    "product_id": product_id,
                    "location_id": location_id,
                    "delta": quantity,
                    "reason": StockMove.Reason.ADJUSTMENT,
                    "reference": OPENING_REFERENCE,
                    "note": OPENING_NOTE,
                    "unit_cost": row.cost or Decimal(0),
                    "user_id": user.pk if user is not None else None,
                }
            )
    for start in range(0, len(levels), BATCH):
        queries.copy_rows(StockLevel, levels[start : start + BATCH])
        queries.copy_rows(StockMove, moves[start : start + BATCH])
        progress("stock", start + len(levels[start : start + BATCH]), len(levels))
    return len(moves)


# --- Writing ----------------------------------------------------------------------------------------------------


def opening_stock(product_ids: Iterable[int] | None = None) -> dict[tuple[int, int], Decimal]:
    """The opening stock booked per (product id, location id): the sum of its OPENING_REFERENCE moves."""
    moves = StockMove.objects.filter(reference=OPENING_REFERENCE)
    if product_ids is not None:
        moves = moves.filter(product_id__in=list(product_ids))
    rows = moves.values("product_id", "location_id").annotate(total=Sum("delta"))
    return {(row["product_id"], row["location_id"]): row["total"] for row in rows}


def _guard(value: str) -> str:
    """csv_cell's guard, and one more apostrophe before a value that starts with one ("'=x" typed as a name), so
    that _unguard gives back exactly what was stored."""
    if value.startswith("'"):
        return "'" + value
    return csv_cell(value)


def export_header(locations: list[Location]) -> list[str]:
    return [*COLUMNS, *(STOCK_PREFIX + location.code for location in locations)]


def export_rows(locations: list[Location]) -> Iterator[list[str]]:
    """The catalogue as import_catalogue reads it, one product a row by SKU, each cell guarded by csv_cell."""
    opening = opening_stock()
    products = Product.objects.select_related("category", "tax_rate").order_by("sku")
    for product in products.iterator(chunk_size=5000):
        stock = []
        for location in locations:
            booked = opening.get((product.pk, location.pk))
            stock.append("" if booked is None else f"{booked.normalize():f}")
        cells = [
            product.sku,
            product.barcode or "",
            product.name,
            product.category.name if product.category else "",
            f"{quantize(product.price):f}",
            f"{quantize(product.cost):f}",
            product.tax_rate.name,
            product.kind,
            product.stock_policy,
            *stock,
        ]
        yield [_guard(value) for value in cells]


def export_catalogue(out) -> int:
    """Write the catalogue as CSV to the text stream `out`; returns the number of products written."""
    locations = list(Location.objects.order_by("code"))
    writer = csv.writer(out)
    writer.writerow(export_header(locations))
    count = 0
    for row in export_rows(locations):
        writer.writerow(row)
        count += 1
    return count
