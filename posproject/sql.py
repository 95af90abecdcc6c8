"""Reads and inserts for the checkout's hot path, without the ORM's statement compiler.

Compiling a statement costs the ORM more CPU than PostgreSQL spends running it (BENCHMARKS.md, Checkout), and a
checkout runs about twenty. On the sale path:

* rows are written with one cached `INSERT … VALUES … RETURNING id` per table and row count (`insert_rows`). The
  values still go through each field's own `pre_save` (auto_now, auto_now_add) and `get_db_prep_save` (decimals,
  JSON, uuids), so what lands in a column is what `Model.save()` would have written. Works on PostgreSQL and on
  SQLite (≥ 3.35, RETURNING), the two databases this product runs on. What this skips, by design: model signals
  (no model written through here has receivers) and `save()` overrides (append-only models only refuse updates;
  these are inserts).
* a few reads are hand-written joins on PostgreSQL (`columns` + `instance`), turned into model instances as the ORM
  would (`Model.from_db`, JSON decoded); callers keep the ORM query for SQLite, where raw values need the ORM's
  converters.
"""

from __future__ import annotations

from django.db import connection, models

_STATEMENTS: dict[tuple[type[models.Model], int, str], tuple[str, list[models.Field]]] = {}


def _statement(model: type[models.Model], rows: int) -> tuple[str, list[models.Field]]:
    key = (model, rows, connection.vendor)
    cached = _STATEMENTS.get(key)
    if cached is None:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "  # noqa: S608 - names from the model, values are parameters
            f"RETURNING {quote(meta.pk.column)}"
        )
        cached = _STATEMENTS[key] = (sql, fields)
    return cached


def insert_rows(objs: list[models.Model]) -> list[models.Model]:
    """Insert unsaved instances of one model in one statement and set their primary keys; return them.

    Must run inside the caller's transaction when it is part of a larger change (it is on every path that uses it).
    """
    if not objs:
        return objs
    model = type(objs[0])
    sql, fields = _statement(model, len(objs))
    params = []
    for obj in objs:
        for f in fields:
            params.append(f.get_db_prep_save(f.pre_save(obj, True), connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    alias = connection.alias
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias
    return objs


def columns(model: type[models.Model], alias: str) -> str:
    """The SELECT list of every concrete column of `model` under table alias `alias`, in field order."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


_LOADERS: dict[type[models.Model], tuple[list[str], list]] = {}


def instance(model: type[models.Model], row, start: int = 0) -> tuple[models.Model, int]:
    """Build an instance of `model` from `row[start:]` (a PostgreSQL row laid out by `columns`); return it and
    the index of the next column."""
    loader = _LOADERS.get(model)
    if loader is None:
        fields = model._meta.concrete_fields
        converters = [f.from_db_value if hasattr(f, "from_db_value") else None for f in fields]
        loader = _LOADERS[model] = ([f.attname for f in fields], converters)
    names, converters = loader
    end = start + len(names)
    values = list(row[start:end])
    for i, convert in enumerate(converters):
        if convert is not None:
            values[i] = convert(values[i], None, connection)
    return model.from_db(connection.alias, names, values), end
