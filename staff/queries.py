"""Staff's hand-written hot-path statements beside their ORM twins (DESIGN.md §1): one function per statement,
PostgreSQL and SQLite side by side; posproject/tests/test_queries.py runs each on both databases and compares."""

import functools

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
    client, end = instance(ApiClient, row)
    user, end = instance(get_user_model(), row, end)
    client.user = user
    user._tillhouse_roles = set(row[end])  # type: ignore[attr-defined]  # read by staff.roles.has_role
    client.location_ids = frozenset(row[end + 1])  # type: ignore[attr-defined]  # read by staff.access.check_location
    return client


_ACCESS_SQL = (
    "SELECT g.name, ct.app_label, p.codename FROM auth_user_groups ug "
    "JOIN auth_group g ON g.id = ug.group_id "
    "LEFT JOIN auth_group_permissions gp ON gp.group_id = g.id "
    "LEFT JOIN auth_permission p ON p.id = gp.permission_id "
    "LEFT JOIN django_content_type ct ON ct.id = p.content_type_id "
    "WHERE ug.user_id = %s "
    "UNION ALL "
    "SELECT NULL, ct.app_label, p.codename FROM auth_user_user_permissions up "
    "JOIN auth_permission p ON p.id = up.permission_id "
    "JOIN django_content_type ct ON ct.id = p.content_type_id "
    "WHERE up.user_id = %s"
)


def read_access(user) -> None:
    """Read a signed-in person's roles and permissions in one statement, for the rest of this request: what
    staff.roles.has_role and Django's ModelBackend (user.has_perm) would otherwise read in three (the group names,
    the user's own permissions, the groups' permissions). Runs on every POS request. Nothing is kept beyond the
    request's user object, so a role or permission taken away applies from the next request.

    The same standard SQL on PostgreSQL and SQLite. Superusers and inactive users are left to Django (they need no
    permission rows: has_perm answers them without any)."""
    if not user.is_authenticated or user.is_superuser or not user.is_active or hasattr(user, "_perm_cache"):
        return
    with connection.cursor() as cursor:
        cursor.execute(_ACCESS_SQL, [user.pk, user.pk])
        rows = cursor.fetchall()
    roles, own, of_groups = set(), set(), set()
    for group, app_label, codename in rows:
        if group is not None:
            roles.add(group)
            if codename is not None:
                of_groups.add(f"{app_label}.{codename}")
        else:
            own.add(f"{app_label}.{codename}")
    # The attributes django.contrib.auth.backends.ModelBackend caches its answers in, and has_role's.
    user._tillhouse_roles = roles
    user._user_perm_cache = own
    user._group_perm_cache = of_groups
    user._perm_cache = own | of_groups
