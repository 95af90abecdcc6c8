"""Staff's hand-written hot-path statements beside their ORM twins (DESIGN.md §1): one function per statement,
PostgreSQL and SQLite side by side; posproject/tests/test_queries.py runs each on both databases and compares."""

import functools
from typing import cast

from django.contrib.auth import get_user_model
from django.db import connection

from core.sql import columns, instance
from staff.models import ApiClient


@functools.cache
def _client_sql() -> str:
    return (
        f"SELECT {columns(ApiClient, 'c')}, {columns(get_user_model(), 'u')}, "  # noqa: S608 - column lists from the models
        "ARRAY(SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id "
        "WHERE ug.user_id = u.id), "
        "ARRAY(SELECT cl.location_id FROM inventory_apiclient_locations cl WHERE cl.apiclient_id = c.id) "
        "FROM inventory_apiclient c JOIN auth_user u ON u.id = c.user_id WHERE c.prefix = %s"
    )


def read_client(prefix: str) -> ApiClient | None:
    """The API client with `prefix` and its user.

    On PostgreSQL one statement (this runs on every API request), which also carries the user's roles and the
    client's locations, so that staff.roles.has_role and staff.access.check_location answer this request without
    further queries; on SQLite they read those when asked."""
    if connection.vendor != "postgresql":
        return ApiClient.objects.select_related("user").filter(prefix=prefix).first()
    with connection.cursor() as cursor:
        cursor.execute(_client_sql(), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    loaded, end = instance(ApiClient, row)
    client = cast(ApiClient, loaded)
    user, end = instance(get_user_model(), row, end)
    client.user = user
    user._tillhouse_roles = set(row[end])  # type: ignore[attr-defined]  # read by staff.roles.has_role
    client.location_ids = frozenset(row[end + 1])  # type: ignore[attr-defined]  # read by staff.access.check_location
    return client
