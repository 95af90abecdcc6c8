"""Billing's hand-written hot-path statements beside their ORM twins (DESIGN.md §1): one function per statement,
PostgreSQL and SQLite side by side; posproject/tests/test_queries.py runs each on both databases and compares."""

from typing import cast

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
    loaded, end = instance(Register, row)
    register = cast(Register, loaded)
    register.location = cast(Location, instance(Location, row, end)[0])
    return register
