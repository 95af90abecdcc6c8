"""Name search walks one index in order: UPPER(name) in the "C" collation.

A byte-ordered key lets PostgreSQL answer "names starting with X, alphabetically, first 20" with a range scan that
stops after 20 rows, instead of fetching every match to sort it. It replaces the text_pattern_ops index from 0004,
which could find prefixes but not return them in order. SQLite: nothing to add (its default collation is binary).
"""

from django.db import migrations

POSTGRES_FORWARD = [
    'CREATE INDEX IF NOT EXISTS product_name_key_idx ON inventory_product ((UPPER("name"::text) COLLATE "C"))',
    "DROP INDEX IF EXISTS product_name_upper_prefix_idx",
    "ANALYZE inventory_product",
]
POSTGRES_BACKWARD = [
    'CREATE INDEX IF NOT EXISTS product_name_upper_prefix_idx ON inventory_product (UPPER("name"::text) text_pattern_ops)',
    "DROP INDEX IF EXISTS product_name_key_idx",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0004_product_search_indexes")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
