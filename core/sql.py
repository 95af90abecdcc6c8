"""Reads and writes for the checkout's hot path, without the ORM's statement compiler.

Compiling a statement costs the ORM more CPU than PostgreSQL spends running it, and a checkout runs seventeen
(BENCHMARKS.md, Checkout). On the sale path:

* new rows are inserted with one cached statement per table (`insert_rows`). On PostgreSQL the rows travel as one
  JSON document, each value typed by its field (`_insert`); elsewhere as `INSERT … VALUES … RETURNING id` with each
  value through its field's `get_db_prep_save`. Either way each field's `pre_save` runs (auto_now, auto_now_add),
  and what lands in a column is what `Model.save()` would have written (core/tests/test_sql.py). What this
  skips, by design: model signals (no model written through here has receivers) and `save()` overrides
  (append-only models only refuse updates; these are inserts).
* statements that do not need each other's answers go in one round trip (`run_batch`, `insert_batch`).
* a few reads are hand-written joins on PostgreSQL (`columns` + `instance`), turned into model instances as the ORM
  would (`Model.from_db`, JSON decoded); each app's `queries.py` keeps the ORM query beside them for SQLite, where
  raw values need the ORM's converters.

Works on PostgreSQL and on SQLite (≥ 3.35, RETURNING), the two databases this product runs on; the SQLite side is
exercised by posproject/tests/test_sqlite_sales.py and posproject/tests/test_queries.py.
"""

from __future__ import annotations

import functools
import json

from django.db import DEFAULT_DB_ALIAS, connection, connections, models


@functools.cache
def _statement(model: type[models.Model], rows: int) -> tuple[str, list[models.Field]]:
    """`INSERT … VALUES … RETURNING id` for `rows` rows of `model` (databases other than PostgreSQL)."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "  # noqa: S608 - names from the model, values are parameters
        f"RETURNING {quote(meta.pk.column)}"
    )
    return sql, fields


def insert_rows(objs: list[models.Model]) -> list[models.Model]:
    """Insert unsaved instances of one model in one statement and set their primary keys; return them.

    Must run inside the caller's transaction when it is part of a larger change (it is on every path that uses it).
    """
    if not objs:
        return objs
    sql, params = _insert(objs, {})
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        _saved(objs, [row[0] for row in cursor.fetchall()])
    return objs


def _insert(objs: list[models.Model], links: dict[str, models.Model]) -> tuple[str, list]:
    """The INSERT of `objs` and its parameters.

    On PostgreSQL the rows travel as one JSON document (`json_to_recordset`): one parameter instead of one per
    column and row, which is what the driver's client-side binding spends its time on; PostgreSQL turns each value
    into its column's type with that type's own input function. `links` (PostgreSQL batches only) maps a foreign
    key's name to an instance inserted earlier in the same batch, the last row of its table there: its id is
    `currval` of that table's sequence, read by PostgreSQL when the statement runs."""
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the `connection` proxy costs a lookup per attribute
    if db.vendor != "postgresql":
        sql, fields = _statement(type(objs[0]), len(objs))
        return sql, [f.get_db_prep_save(f.pre_save(obj, True), db) for obj in objs for f in fields]
    sql, fields = _json_statement(type(objs[0]), frozenset(links))
    rows = []
    for n, obj in enumerate(objs):
        row = {"_n": n}
        for f, as_text in fields:
            value = f.pre_save(obj, True)
            row[f.column] = as_text(value) if as_text is not None and value is not None else value
        rows.append(row)
    # A JSON column's value is encoded as Django encodes it (plain json: no Decimal inside, say).
    return sql, [json.dumps(rows, separators=(",", ":"))]


@functools.cache
def _json_statement(model: type[models.Model], links: frozenset[str]) -> tuple[str, list[tuple[models.Field, object]]]:
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    meta = model._meta
    every = [f for f in meta.concrete_fields if not f.primary_key]
    linked = {meta.get_field(name).attname: meta.get_field(name).related_model for name in links}
    fields = [f for f in every if f.attname not in linked]
    values = []
    for f in every:
        target = linked.get(f.attname)
        if target is None:
            values.append(f"x.{quote(f.column)}")
        else:
            values.append(f"currval(pg_get_serial_sequence('{target._meta.db_table}', '{target._meta.pk.column}'))")
    record = ", ".join(f"{quote(f.column)} {f.db_type(db)}" for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in every)}) "  # noqa: S608 - names from the models, values are a parameter
        f"SELECT {', '.join(values)} FROM json_to_recordset(%s::json) AS x({record}, _n integer) "
        f"ORDER BY x._n RETURNING {quote(meta.pk.column)}"
    )
    return sql, [(f, _AS_TEXT.get(f.get_internal_type())) for f in fields]


def _iso(value) -> str:
    return value.isoformat()


# Column types JSON has no literal for travel as text in the type's input format (a datetime with its offset).
_AS_TEXT = {
    "DecimalField": str,
    "UUIDField": str,
    "DateTimeField": _iso,
    "DateField": _iso,
    "TimeField": _iso,
}


def _saved(objs: list[models.Model], ids: list) -> None:
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS


def run_batch(statements: list[tuple[str, list]]) -> list[list[tuple]]:
    """Run statements in order and return the rows of each ([] for one that returns none).

    On PostgreSQL they go in one round trip: the simple query protocol runs a string of statements one after the
    other, inside the caller's transaction, each with its own snapshot (a statement sees what the ones before it
    waited for), and stops at the first error. That needs Django's default client-side parameter binding; with
    `server_side_binding` set, and on other databases, they run one by one. Every statement must be valid on the
    database it runs on."""
    db = connections[DEFAULT_DB_ALIAS]
    together = db.vendor == "postgresql" and not db.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    results = []
    with db.cursor() as cursor:
        if not together:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall() if cursor.description else [])
            return results
        cursor.execute(";\n".join(sql for sql, _ in statements), [p for _, params in statements for p in params])
        while True:
            results.append(cursor.fetchall() if cursor.description else [])
            if not cursor.nextset():
                break
    return results


def insert_batch(*groups, before: list[tuple[str, list]] = ()) -> None:
    """Insert several groups of new rows, each a list of instances of one model or `(instances, links)` (see
    `_insert`), in order, and set their primary keys (and the linked foreign keys). `before`: statements to run
    first. On PostgreSQL all in one round trip; elsewhere one statement at a time, the links resolved in between."""
    groups = [(group, {}) if isinstance(group, list) else group for group in groups]
    groups = [(objs, links) for objs, links in groups if objs]
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        if before:
            run_batch(list(before))
        for objs, links in groups:
            for obj in objs:
                for name, target in links.items():
                    setattr(obj, name, target)
            insert_rows(objs)
        return
    results = run_batch([*before, *(_insert(objs, links) for objs, links in groups)])[len(before) :]
    for (objs, links), rows in zip(groups, results, strict=True):
        _saved(objs, [row[0] for row in rows])
        for obj in objs:
            for name, target in links.items():
                setattr(obj, name, target)


@functools.cache
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
    return model.from_db(DEFAULT_DB_ALIAS, names, values), end
