"""Inventory's hand-written hot-path statements beside their ORM twins (DESIGN.md §1): one function per statement,
PostgreSQL and SQLite side by side; posproject/tests/test_queries.py runs each on both databases and compares."""

from collections.abc import Collection, Iterable

from django.db import connection
from django.db.models import Func
from django.db.models.functions import Collate, Upper
from django.utils import timezone

from core.sql import insert_batch, insert_rows
from inventory.models import StockLevel, StockMove


def name_key() -> Func:
    """UPPER(name), byte-ordered: the expression of the product_name_key_idx index (migration 0005) on PostgreSQL;
    SQLite compares text byte by byte already."""
    if connection.vendor == "postgresql":
        return Collate(Upper("name"), "C")
    return Upper("name")


_LOCK_LEVELS = (
    "SELECT id, product_id, location_id, on_hand, allow_negative FROM inventory_stocklevel "
    "WHERE product_id = ANY(%s::bigint[]) AND location_id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE"
)


def lock_levels(
    keys: Iterable[tuple[int, int]], product_ids: Collection[int], location_ids: Collection[int]
) -> dict[tuple[int, int], StockLevel]:
    """Lock the stock rows of `keys` ((product, location) pairs) in primary-key order and return them by key,
    each with its id, product, location, on_hand and allow_negative.

    On PostgreSQL one prepared-text statement (the ORM's compile of this query cost more than running it)."""
    wanted = set(keys)
    rows: Iterable[StockLevel]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_LEVELS, [sorted(product_ids), sorted(location_ids)])
            rows = [
                StockLevel(id=pk, product_id=product_id, location_id=location_id, on_hand=on_hand, allow_negative=neg)
                for pk, product_id, location_id, on_hand, neg in cursor.fetchall()
            ]
        for row in rows:
            row._state.adding = False
            row._state.db = connection.alias
    else:
        rows = (
            StockLevel.objects.select_for_update()
            .filter(product_id__in=product_ids, location_id__in=location_ids)
            .order_by("id")
        )
    return {(row.product_id, row.location_id): row for row in rows if (row.product_id, row.location_id) in wanted}


def save_levels_and_moves(levels: list[StockLevel], moves: list[StockMove]) -> None:
    """Save the new on-hand figures of locked rows and insert their ledger moves (their ids set). On PostgreSQL one
    round trip: one UPDATE … FROM (VALUES …) (the ORM's bulk_update builds a CASE per column, which costs more to
    compile than the write itself) and the moves' INSERT. Either way the rows' updated_at is now."""
    now = timezone.now()
    for level in levels:
        level.updated_at = now  # auto_now, which bulk_update does not apply
    if connection.vendor != "postgresql":
        StockLevel.objects.bulk_update(levels, ["on_hand", "allow_negative", "updated_at"])
        insert_rows(moves)
        return
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::numeric, %s::boolean)"] * len(levels))
    params: list = [now]
    for level in levels:
        params += [level.pk, level.on_hand, level.allow_negative]
    update = (
        f"UPDATE {table} AS s SET on_hand = v.on_hand, allow_negative = v.allow_negative, updated_at = %s "  # noqa: S608 - table name from the model, values are parameters
        f"FROM (VALUES {values}) AS v(id, on_hand, allow_negative) WHERE s.id = v.id"
    )
    insert_batch(moves, before=[(update, params)])


def copy_rows(model, rows: list[dict]) -> None:
    """Insert many new rows of `model`, each given as {attname: value} (`category_id`, not `category`); fields left
    out take their default, auto_now(_add) fields the time now. Their ids are not read back (the catalogue import
    reads them by SKU).

    On PostgreSQL one COPY ... FROM STDIN of plain values (bulk_create builds a model instance and an INSERT
    parameter per field, about ten times the cost for 100,000 products); elsewhere bulk_create. Model save()
    methods and signals do not run (nothing of ours listens to these models' saves)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=1000)
        return
    now = timezone.now()
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    defaults = {
        field.attname: now if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) else None
        for field in fields
    }
    per_row = [field for field in fields if defaults[field.attname] is None and callable(field.default)]
    for field in fields:
        if defaults[field.attname] is None and field not in per_row:
            defaults[field.attname] = field.get_default()
    quote = connection.ops.quote_name
    statement = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    names = [field.attname for field in fields]
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            if per_row:
                row = {field.attname: field.get_default() for field in per_row} | row
            copy.write_row([row.get(name, defaults[name]) for name in names])
