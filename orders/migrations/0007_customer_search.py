"""Customer search walks one index range per kind of query, and three permissions only managers hold.

PostgreSQL: the byte-ordered ("C" collation) keys of orders.queries (UPPER(name), phone, e-mail) let "keys starting
with X, in order, first 20" stop after 20 rows among 100,000 customers; a pg_trgm index on UPPER(name) answers names
containing the query (what `name__icontains` emits). The unique card code has its own index already.
SQLite: nothing to add (it compares text byte by byte and its tables are small).
"""

from django.db import migrations

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    'CREATE INDEX IF NOT EXISTS customer_name_key_idx ON orders_customer ((UPPER("name"::text) COLLATE "C"))',
    'CREATE INDEX IF NOT EXISTS customer_phone_key_idx ON orders_customer (("phone"::text COLLATE "C"))',
    'CREATE INDEX IF NOT EXISTS customer_email_key_idx ON orders_customer (("email"::text COLLATE "C"))',
    'CREATE INDEX IF NOT EXISTS customer_name_trgm_idx ON orders_customer USING gin (UPPER("name"::text) gin_trgm_ops)',
    "ANALYZE orders_customer",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS customer_name_trgm_idx",
    "DROP INDEX IF EXISTS customer_email_key_idx",
    "DROP INDEX IF EXISTS customer_phone_key_idx",
    "DROP INDEX IF EXISTS customer_name_key_idx",
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
    dependencies = [("orders", "0006_customers"), ("inventory", "0004_product_search_indexes")]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": ["name", "id"],
                "permissions": [
                    ("merge_customer", "Can merge two customers"),
                    ("export_customer", "Can export a customer's data"),
                    ("erase_customer", "Can erase a customer's personal data"),
                ],
            },
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
