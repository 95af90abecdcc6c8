"""Billing's hand-written hot-path statements beside their ORM twins (DESIGN.md §1): one function per statement,
PostgreSQL and SQLite side by side; posproject/tests/test_queries.py runs each on both databases and compares."""

from django.db import connection

from billing.models import Register
from core.sql import columns, instance
from inventory.models import Location


def read_register(register_id: int) -> Register | None:
    """An active register with its location (not locked: the sale locks it last, for its receipt number). On
    PostgreSQL one hand-written join: this runs on every counter sale."""
    if connection.vendor != "postgresql":
        return Register.objects.select_related("location").filter(pk=register_id, active=True).first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns(Register, 'r')}, {columns(Location, 'l')} FROM billing_register r "  # noqa: S608 - column lists from the models
            "JOIN inventory_location l ON l.id = r.location_id WHERE r.id = %s AND r.active",
            [register_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    register, end = instance(Register, row)
    register.location = instance(Location, row, end)[0]
    return register


def take_from_card(code: str, amount, now) -> tuple[str, list]:
    """The guarded decrement of a gift card's balance, for core.sql.run_batch: it takes `amount` off the card with
    this code only if the card holds that much and has not expired, and returns (id, balance after), or no row.
    One statement, valid on both databases (SQLite 3.35+ has RETURNING; its NUMERIC column does the same
    arithmetic as the ORM's F() twin: `GiftCard.objects.filter(code=…, balance__gte=amount, …)
    .update(balance=F("balance") - amount)`)."""
    when = connection.ops.adapt_datetimefield_value(now)
    return (
        "UPDATE billing_giftcard SET balance = balance - %s "
        "WHERE code = %s AND balance >= %s AND expired_at IS NULL AND (expires_at IS NULL OR expires_at > %s) "
        "RETURNING id, balance",
        [amount, code, amount, when],
    )
