"""Maintenance mode (DESIGN.md §7): while a restore runs, every write answers 503 `maintenance`; reads go on.

Two layers, because a flag alone cannot close the race between a request that looked at it and the safety dump:

- The **flag**, for clean answers: the web middleware refuses unsafe methods, and the Celery task base class puts
  tasks back in the queue. On PostgreSQL it is a row in a small table of the server's `postgres` maintenance
  database, keyed by the application database's name: every web process and worker on every machine reaches that
  server, it survives the swap of the application database (which a row in that database would not), and it does
  not depend on Redis. With SQLite (one machine) it is a file beside the database. Processes re-read it at most
  every MAINTENANCE_CHECK_SECONDS.
- The **barrier**, for the guarantee: the database itself is made read-only for new sessions
  (`ALTER DATABASE … SET default_transaction_read_only = on`) and every other session is disconnected, so from
  then on no process — whether it saw the flag or not — can commit a write. A write that runs into the barrier is
  also answered 503 `maintenance`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from celery import Task
from django.conf import settings
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from core import writes
from core.errors import DomainError

logger = logging.getLogger("tillhouse.maintenance")

MAINTENANCE_DB = "postgres"
TABLE = "tillhouse_maintenance"
READ_ONLY_SQLSTATE = writes.READ_ONLY_SQLSTATE
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class MaintenanceMode(DomainError):
    def __init__(self, message: str = "", *, retry_after: int | None = None):
        self.retry_after = retry_after or settings.MAINTENANCE_RETRY_AFTER
        super().__init__(
            message or "Tillhouse is in maintenance (a restore is running); nothing was changed. Try again shortly.",
            code="maintenance",
            status=503,
        )


@dataclass(frozen=True)
class State:
    reason: str
    since: datetime | None


# -- where the flag lives -------------------------------------------------------------------------------------
def _database() -> dict:
    return connections["default"].settings_dict


def _is_postgres(db: dict | None = None) -> bool:
    return "postgres" in (db or _database())["ENGINE"]


def _flag_file(name: str) -> Path:
    return Path(f"{name}.maintenance")


def _connect(db: dict) -> psycopg.Connection:
    return psycopg.connect(
        dbname=MAINTENANCE_DB,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        connect_timeout=(db.get("OPTIONS") or {}).get("connect_timeout", 3),
        autocommit=True,
        application_name="tillhouse-maintenance",
    )


def set_flag(database: str, reason: str, *, db: dict | None = None) -> None:
    """Put `database` (a PostgreSQL database name or an SQLite path) in maintenance for every process."""
    db = db or _database()
    if _is_postgres(db):
        with _connect(db) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS tillhouse_maintenance "
                "(database text PRIMARY KEY, reason text NOT NULL, since timestamptz NOT NULL DEFAULT now())"
            )
            conn.execute(
                "INSERT INTO tillhouse_maintenance (database, reason) VALUES (%s, %s) "
                "ON CONFLICT (database) DO UPDATE SET reason = EXCLUDED.reason, since = now()",
                [database, reason[:500]],
            )
    else:
        _flag_file(database).write_text(json.dumps({"reason": reason, "since": timezone.now().isoformat()}))
    reset_cache()
    logger.warning("maintenance on for %s: %s", database, reason)


def clear_flag(database: str, *, db: dict | None = None) -> None:
    db = db or _database()
    if _is_postgres(db):
        with _connect(db) as conn:
            if conn.execute("SELECT to_regclass(%s)", [TABLE]).fetchone()[0]:
                conn.execute("DELETE FROM tillhouse_maintenance WHERE database = %s", [database])
    else:
        _flag_file(database).unlink(missing_ok=True)
    reset_cache()
    logger.warning("maintenance off for %s", database)


def read_flag(database: str, *, db: dict | None = None) -> State | None:
    """The flag as stored now (no cache). Unreadable storage counts as no flag: the barrier still holds."""
    db = db or _database()
    try:
        if _is_postgres(db):
            with _connect(db) as conn:
                if not conn.execute("SELECT to_regclass(%s)", [TABLE]).fetchone()[0]:
                    return None
                query = "SELECT reason, since FROM tillhouse_maintenance WHERE database = %s"
                row = conn.execute(query, [database]).fetchone()
                return State(row[0], row[1]) if row else None
        path = _flag_file(database)
        if not path.exists():
            return None
        data = json.loads(path.read_text() or "{}")
        return State(data.get("reason", ""), datetime.fromisoformat(data["since"]) if data.get("since") else None)
    except (psycopg.Error, OSError, ValueError):
        logger.warning("maintenance flag of %s unreadable", database, exc_info=True)
        return None


_cache: dict = {"at": None, "state": None, "database": None}


def reset_cache() -> None:
    _cache.update(at=None, state=None, database=None)


def current() -> State | None:
    """This process's view of the flag for its own database, re-read at most every MAINTENANCE_CHECK_SECONDS (an
    unreadable flag too: with the database server down, a write pays the connect timeout once per interval)."""
    database = str(_database()["NAME"])
    now = time.monotonic()
    fresh = _cache["at"] is not None and now - _cache["at"] < settings.MAINTENANCE_CHECK_SECONDS
    if not fresh or _cache["database"] != database:
        _cache.update(at=now, state=read_flag(database), database=database)
    return _cache["state"]


def active() -> bool:
    return current() is not None


is_read_only_error = writes.is_read_only_error  # a write that ran into the barrier


# -- the edges ------------------------------------------------------------------------------------------------
def refusal(request, error: MaintenanceMode | None = None) -> HttpResponse:
    error = error or MaintenanceMode()
    wants_json = request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")
    if wants_json:
        response = JsonResponse(error.as_dict(), status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Maintenance</title><p>{error.message}</p>", status=503, content_type="text/html"
        )
    response["Retry-After"] = str(error.retry_after)
    return response


class MaintenanceMiddleware:
    """Refuse every write (screens, API, admin) during maintenance; reads go on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in SAFE_METHODS and active():
            return refusal(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, MaintenanceMode):
            return refusal(request, exception)
        if is_read_only_error(exception):
            return refusal(request)
        return None


def check_for_task() -> None:
    """Raise MaintenanceMode when a worker should not write now (the task base class retries it later)."""
    if active():
        raise MaintenanceMode()


class MaintenanceAwareTask(Task):
    """Every task waits out maintenance (a restore): it goes back to the queue for Retry-After seconds instead of
    running into the read-only database. Tasks run eagerly (the embedded mode) run at once: the request that
    queued them was already let through."""

    def __call__(self, *args, **kwargs):
        if not self.request.is_eager:
            try:
                check_for_task()
            except MaintenanceMode as exc:
                raise self.retry(countdown=exc.retry_after, max_retries=self.request.retries + 1) from None
        return super().__call__(*args, **kwargs)
