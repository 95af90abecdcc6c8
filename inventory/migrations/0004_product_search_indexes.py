"""Indexes that keep product search fast with 100,000 products.

PostgreSQL: case-insensitive prefix search on name and sku (`UPPER(x) LIKE 'ABC%'`, which is what Django's
`istartswith` emits) uses btree indexes with text_pattern_ops; substring search on name uses a pg_trgm GIN index.
SQLite keeps the plain name index from 0001 (and the unique sku/barcode indexes); nothing to add there.
"""

from django.db import migrations

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    'CREATE INDEX IF NOT EXISTS product_name_upper_prefix_idx ON inventory_product (UPPER("name"::text) text_pattern_ops)',
    'CREATE INDEX IF NOT EXISTS product_sku_upper_prefix_idx ON inventory_product (UPPER("sku"::text) text_pattern_ops)',
    'CREATE INDEX IF NOT EXISTS product_name_trgm_idx ON inventory_product USING gin (UPPER("name"::text) gin_trgm_ops)',
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS product_name_trgm_idx",
    "DROP INDEX IF EXISTS product_sku_upper_prefix_idx",
    "DROP INDEX IF EXISTS product_name_upper_prefix_idx",
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
    dependencies = [("inventory", "0003_receipts_low_stock_alerts_one_open_count")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
