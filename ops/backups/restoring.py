"""The parts of a restore that keep sales and numbers safe (DESIGN.md §7).

- `writes_stopped()`: maintenance for the whole restore — the flag every process reads, and on PostgreSQL the
  barrier (the database read-only for new sessions, every other session disconnected) so that the safety dump,
  taken inside, holds every sale that was ever answered 201.
- `issued_numbers()` / `continue_counters()`: the highest receipt and Z number each register ever issued, read from
  the database being replaced after writes stopped (the very state the safety copy holds; print jobs point at
  those receipts), and each counter of the restored database moved above it, audited, for the next Z to show.
- `numbers_in_manifest()` / `highest()`: every manifest records the numbers issued when its backup was taken, so
  a restore onto an empty or dropped database still continues above every backup in the catalogue.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connections
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb

from billing.sessions import NUMBERS_CONTINUED_ACTION
from ops import maintenance
from ops.backups.engines import BackupError, DatabaseTarget, PostgresEngine, issued_numbers_in, scrub

logger = logging.getLogger("tillhouse.backups")

JUMP_ACTION = NUMBERS_CONTINUED_ACTION
# New sessions of a database in maintenance are read-only; the restore's own sessions turn that off.
WRITABLE = "-c default_transaction_read_only=off"
DISCONNECT_WAIT_SECONDS = 30.0


def _flag_db(target: DatabaseTarget) -> dict:
    engine = "django.db.backends.postgresql" if target.engine == "postgresql" else "django.db.backends.sqlite3"
    return {"ENGINE": engine, "HOST": target.host, "PORT": target.port, "USER": target.user,
            "PASSWORD": target.password}  # fmt: skip


def _own_pids(target: DatabaseTarget) -> list[int]:
    """The backend pid of this process's Django connection, when it is to `target` (it must stay writable)."""
    own = connections["default"]
    if own.vendor != "postgresql" or own.settings_dict["NAME"] != target.name:
        return []
    own.ensure_connection()
    with own.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = off")
        cursor.execute("SELECT pg_backend_pid()")
        return [cursor.fetchone()[0]]


def set_read_only(engine: PostgresEngine, dbname: str, read_only: bool) -> None:
    with engine.connect(maintenance.MAINTENANCE_DB, autocommit=True) as conn:
        statement = "ALTER DATABASE {} SET default_transaction_read_only = on" if read_only else (
            "ALTER DATABASE {} RESET default_transaction_read_only"
        )  # fmt: skip
        conn.execute(sql.SQL(statement).format(sql.Identifier(dbname)))


def disconnect_others(engine: PostgresEngine, dbname: str, keep: list[int]) -> int:
    """End every session on `dbname` but `keep` and wait until they are gone (their transactions rolled back)."""
    with engine.connect(maintenance.MAINTENANCE_DB, autocommit=True) as conn:
        # The function in the select list: it runs only on the rows the WHERE clause kept.
        ended = conn.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND NOT (pid = ANY(%s))",
            [dbname, keep],
        ).fetchall()
        pids = [row[0] for row in ended]
        deadline = time.monotonic() + DISCONNECT_WAIT_SECONDS
        while pids and time.monotonic() < deadline:
            left = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]).fetchone()[0]
            if not left:
                break
            time.sleep(0.05)
        else:
            if pids:
                raise BackupError(f"Sessions on {dbname} did not end within {DISCONNECT_WAIT_SECONDS:.0f} s.")
    return len(pids)


@contextmanager
def writes_stopped(target: DatabaseTarget, reason: str):
    """Maintenance for the duration of the block, left on success and on failure alike.

    Sets the flag (every web process and worker refuses writes within MAINTENANCE_CHECK_SECONDS), then on
    PostgreSQL makes the database read-only for new sessions and disconnects every other session, waiting until
    they are gone: from then on nothing can commit to it but this process.
    """
    flag_db = _flag_db(target)
    try:
        maintenance.set_flag(target.name, reason, db=flag_db)
    except (psycopg.Error, OSError) as exc:
        raise BackupError(f"Could not enter maintenance mode: {scrub(str(exc), target)}") from None
    engine = PostgresEngine(target) if target.engine == "postgresql" else None
    try:
        if engine is not None and engine.exists(target.name):
            keep = _own_pids(target)
            set_read_only(engine, target.name, True)
            ended = disconnect_others(engine, target.name, keep)
            logger.warning("restore: %s is read-only, %d sessions disconnected", target.name, ended)
        elif engine is None:
            # SQLite has no read-only switch for other processes: give every process time to see the flag.
            time.sleep(settings.MAINTENANCE_CHECK_SECONDS + 1)
        yield
    finally:
        try:
            if engine is not None and engine.exists(target.name):
                set_read_only(engine, target.name, False)
        finally:
            maintenance.clear_flag(target.name, db=flag_db)


def leave_maintenance(target: DatabaseTarget) -> None:
    """By hand, after a restore process died: the database writable again and the flag cleared."""
    if target.engine == "postgresql":
        engine = PostgresEngine(target)
        if engine.exists(target.name):
            set_read_only(engine, target.name, False)
    maintenance.clear_flag(target.name, db=_flag_db(target))


# -- numbers that must never repeat ---------------------------------------------------------------------------
@contextmanager
def _db(target: DatabaseTarget, dbname: str | None = None, *, writable: bool = False):
    if target.engine == "postgresql":
        try:
            conn = psycopg.connect(
                dbname=dbname or target.name,
                host=target.host or None,
                port=target.port or None,
                user=target.user or None,
                password=target.password or None,
                connect_timeout=10,
                options=WRITABLE if writable else None,
                application_name="tillhouse-restore",
            )
        except psycopg.Error as exc:
            reason = scrub(str(exc), target)
            raise BackupError(f"Cannot connect to database {dbname or target.name!r}: {reason}") from None
        with conn:
            yield _Sql(conn, "%s")
    else:
        with closing(sqlite3.connect(dbname or target.name)) as conn, conn:
            yield _Sql(conn, "?")


@dataclass
class _Sql:
    conn: object
    mark: str

    def rows(self, query: str, params=()) -> list[tuple]:
        cursor = self.conn.cursor()
        cursor.execute(query.replace("%s", self.mark), list(params))
        return cursor.fetchall()

    def rows_or_none(self, query: str) -> list[tuple] | None:
        """A query on a table that a damaged database may have lost: None instead of an error."""
        try:
            if isinstance(self.conn, psycopg.Connection):
                with self.conn.transaction():
                    return self.rows(query)
            return self.rows(query)
        except (psycopg.Error, sqlite3.Error):
            return None


def issued_numbers(target: DatabaseTarget, dbname: str | None = None) -> dict[int, dict[str, int]]:
    """{register id: {"receipt": highest receipt number, "z": highest Z number}} ever issued in `dbname`.

    Each source is read on its own, so a damaged database (a table dropped) still gives what it has: the
    registers' counters, the receipts (which every receipt print job points at) and the Z reports.
    """
    with _db(target, dbname) as db:
        return issued_numbers_in(db.rows_or_none)


def numbers_in_manifest(manifest: dict) -> dict[int, dict[str, int]]:
    """The highest numbers a backup's manifest records as issued when it was taken (none in older manifests)."""
    issued: dict[int, dict[str, int]] = {}
    for rid, numbers in (manifest.get("issued_numbers") or {}).items():
        issued[int(rid)] = {kind: int((numbers or {}).get(kind) or 0) for kind in ("receipt", "z")}
    return issued


def highest(*sources: dict[int, dict[str, int]]) -> dict[int, dict[str, int]]:
    """Per register and kind, the highest number over all `sources`."""
    issued: dict[int, dict[str, int]] = {}
    for source in sources:
        for rid, numbers in source.items():
            best = issued.setdefault(rid, {"receipt": 0, "z": 0})
            for kind in ("receipt", "z"):
                best[kind] = max(best[kind], numbers.get(kind, 0))
    return issued


@dataclass
class Jump:
    register_id: int
    kind: str  # receipt | z
    first: int
    last: int
    note: str = ""  # the sentence recorded and printed on the next Z

    def sentence(self, restored_at: str) -> str:
        what = "receipts" if self.kind == "receipt" else "Z reports"
        span = f"{self.first}" if self.first == self.last else f"{self.first}–{self.last}"
        return f"{what} {span} were issued before the restore of {restored_at}"


def continue_counters(
    target: DatabaseTarget, issued: dict[int, dict[str, int]], *, backup: str, actor_id: int | None = None
) -> list[Jump]:
    """Move each register's receipt and Z counter of the restored database above the highest number ever issued
    and record each jump as an audit event (the next Z prints it). Runs while the database is still read-only for
    everyone else."""
    restored_at = timezone.now()
    stamp = f"{restored_at:%Y-%m-%d %H:%M} UTC"
    jumps: list[Jump] = []
    if not issued:
        return jumps
    with _db(target, writable=True) as db:
        here = issued_numbers(target)
        registers = {rid: loc for rid, loc in db.rows("SELECT id, location_id FROM billing_register")}
        for rid, numbers in sorted(issued.items()):
            if rid not in registers:
                continue  # a till created after the backup: gone with it, its sales are in the safety copy
            now = here.get(rid, {"receipt": 0, "z": 0})
            found = [Jump(rid, k, now[k] + 1, numbers[k]) for k in ("receipt", "z") if numbers[k] > now[k]]
            if not found:
                continue
            db.rows(
                "UPDATE billing_register SET last_receipt_number = %s, last_z_number = %s WHERE id = %s RETURNING id",
                [max(numbers["receipt"], now["receipt"]), max(numbers["z"], now["z"]), rid],
            )
            for jump in found:
                sentence = jump.note = jump.sentence(stamp)
                db.rows(
                    "INSERT INTO inventory_auditevent (action, actor_id, location_id, object_type, object_id, reason, "
                    "data, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    [JUMP_ACTION, actor_id, registers[rid], "billing.register", str(rid), sentence[:200],
                     _json(target, {"kind": jump.kind, "first": jump.first, "last": jump.last, "backup": backup,
                            "restored_at": restored_at.isoformat(), "note": sentence}),
                     restored_at if target.engine == "postgresql" else restored_at.isoformat(" ")],
                )  # fmt: skip
                logger.warning("restore: register %s %s", rid, sentence)
            jumps.extend(found)
    return jumps


def _json(target: DatabaseTarget, data: dict):
    if target.engine == "postgresql":
        return Jsonb(data)
    return json.dumps(data)
