"""Reads that may come from a PostgreSQL streaming replica (`DATABASE_REPLICA_URL`), and everything else from the
primary.

Only views marked `@reads_from_replica` (reports, product search, the kitchen display's board) read from the
replica, only for GET and HEAD, only outside a transaction, and only while the replica is usable: reachable, and
either caught up with what it received or no more than `REPLICA_MAX_LAG_SECONDS` behind (checked at most every
`REPLICA_CHECK_SECONDS` per process). Otherwise they read from the primary, without an error. Writes, migrations,
sessions and every unmarked view always use the primary.

Read-your-writes: a browser that has just written (any successful POST, PUT, PATCH or DELETE) reads from the
primary for `REPLICA_PIN_SECONDS` (a cookie says until when), so a manager who changed a price sees it in the next
search even if the replica is a moment behind.

The router and the middleware are installed by settings only when `DATABASE_REPLICA_URL` is set.
"""

from __future__ import annotations

import contextlib
import logging
import time
from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.db import DatabaseError, connections

REPLICA = "replica"
PIN_COOKIE = "tillhouse_primary_until"
SAFE_METHODS = ("GET", "HEAD")

logger = logging.getLogger(__name__)
_replica_wanted: ContextVar[bool] = ContextVar("replica_wanted", default=False)
_state = {"checked_at": float("-inf"), "usable": False}


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _pinned(request) -> bool:
    try:
        return float(request.COOKIES.get(PIN_COOKIE, "0")) > time.time()
    except ValueError:
        return False


def reads_from_replica(view):
    """Mark a read-only view whose GET reads may come from the replica (see the module's docstring)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not replica_configured() or request.method not in SAFE_METHODS or _pinned(request):
            return view(request, *args, **kwargs)
        token = _replica_wanted.set(True)
        try:
            return view(request, *args, **kwargs)
        finally:
            _replica_wanted.reset(token)

    return wrapper


def replica_usable() -> bool:
    """Whether the replica answers and is not too far behind; asked of the replica at most every
    REPLICA_CHECK_SECONDS in this process."""
    now = time.monotonic()
    if now - _state["checked_at"] < settings.REPLICA_CHECK_SECONDS:
        return bool(_state["usable"])
    usable = False
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), "
                "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
            )
            in_recovery, caught_up, behind = cursor.fetchone()
        usable = (
            not in_recovery or bool(caught_up) or (behind is not None and behind <= settings.REPLICA_MAX_LAG_SECONDS)
        )
        if not usable:
            logger.warning("replica is %s s behind: reading from the primary", behind)
    except DatabaseError:
        logger.warning("replica unreachable: reading from the primary", exc_info=True)
        with contextlib.suppress(DatabaseError):
            connections[REPLICA].close()
    _state.update(checked_at=now, usable=usable)
    return usable


class ReplicaRouter:
    """Django's database router: the replica for marked reads while it is usable, the primary for the rest."""

    def db_for_read(self, model, **hints):
        if not _replica_wanted.get() or connections["default"].in_atomic_block:
            return None
        return REPLICA if replica_usable() else None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same rows on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReadYourWritesMiddleware:
    """After a successful write, this browser reads from the primary for REPLICA_PIN_SECONDS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and response.status_code < 400:
            seconds = settings.REPLICA_PIN_SECONDS
            response.set_cookie(
                PIN_COOKIE,
                f"{time.time() + seconds:.3f}",
                max_age=seconds,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
