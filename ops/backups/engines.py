"""Database engines for backups: what to run to dump, list, restore and count a database.

PostgreSQL goes through `pg_dump -Fc` / `pg_restore`, with the password in the child's environment (PGPASSWORD),
never on its command line; the row counts in the manifest are taken in the very snapshot pg_dump dumps
(`pg_export_snapshot()` + `pg_dump --snapshot`), so a restore can be checked table by table, and so are the
highest receipt and Z number of each register (a later restore continues above them). SQLite goes through the
online backup API, which copies a consistent image of a live database.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql

from core.errors import DomainError

CHUNK = 1024 * 1024
MAINTENANCE_DB = "postgres"


def issued_numbers_in(rows_or_none: Callable[[str], list[tuple] | None]) -> dict[int, dict[str, int]]:
    """{register id: {"receipt": highest receipt number, "z": highest Z number}} ever issued in one database.

    `rows_or_none` runs a query and gives None when its table is missing: each source is read on its own, so a
    damaged database (a table dropped) still gives what it has: the registers' counters, the receipts (which
    every receipt print job points at) and the Z reports.
    """
    issued: dict[int, dict[str, int]] = {}

    def raise_to(register_id, kind, number):
        if number:
            numbers = issued.setdefault(int(register_id), {"receipt": 0, "z": 0})
            numbers[kind] = max(numbers[kind], int(number))

    for rid, receipt, z in rows_or_none("SELECT id, last_receipt_number, last_z_number FROM billing_register") or []:
        raise_to(rid, "receipt", receipt)
        raise_to(rid, "z", z)
    for rid, number in rows_or_none("SELECT register_id, max(number) FROM billing_receipt GROUP BY 1") or []:
        raise_to(rid, "receipt", number)
    for rid, number in rows_or_none("SELECT register_id, max(number) FROM billing_zreport GROUP BY 1") or []:
        raise_to(rid, "z", number)
    return issued


def _pg_rows_or_none(conn: psycopg.Connection) -> Callable[[str], list[tuple] | None]:
    def rows_or_none(query: str) -> list[tuple] | None:
        try:
            with conn.transaction():  # a savepoint inside the snapshot's transaction
                return conn.execute(query).fetchall()
        except psycopg.Error:
            return None

    return rows_or_none


def _sqlite_rows_or_none(conn: sqlite3.Connection) -> Callable[[str], list[tuple] | None]:
    def rows_or_none(query: str) -> list[tuple] | None:
        try:
            return conn.execute(query).fetchall()
        except sqlite3.Error:
            return None

    return rows_or_none


def manifest_numbers(issued: dict[int, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The issued numbers as the manifest holds them (JSON keys are strings)."""
    return {str(rid): dict(numbers) for rid, numbers in sorted(issued.items())}


class BackupError(DomainError):
    """A backup, verification or restore step failed; the message says which and why (never a password)."""

    def __init__(self, message: str, code: str = "backup_failed"):
        super().__init__(message, code=code, status=500)


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a database lives. `name` is a database name (PostgreSQL) or a file path (SQLite)."""

    engine: str
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls, alias: str = "default") -> DatabaseTarget:
        db = settings.DATABASES[alias]
        engine = "postgresql" if "postgres" in db["ENGINE"] else "sqlite"
        # The live connection's NAME: under pytest that is the test database, not the configured one.
        name = connections[alias].settings_dict["NAME"]
        return cls(
            engine=engine,
            name=str(name),
            host=str(db.get("HOST") or ""),
            port=str(db.get("PORT") or ""),
            user=str(db.get("USER") or ""),
            password=str(db.get("PASSWORD") or ""),
        )

    def with_name(self, name: str) -> DatabaseTarget:
        return replace(self, name=name)

    def url(self) -> str:
        """A DATABASE_URL for a child process's environment (it may hold the password: never log it)."""
        if self.engine == "sqlite":
            return f"sqlite:///{Path(self.name).resolve()}"
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        host = self.host or "localhost"
        port = f":{self.port}" if self.port else ""
        return f"postgres://{auth}@{host}{port}/{quote(self.name, safe='')}"

    def __repr__(self):  # never show the password
        return f"DatabaseTarget(engine={self.engine!r}, name={self.name!r}, host={self.host!r}, user={self.user!r})"


def scrub(text: str, target: DatabaseTarget) -> str:
    """Remove the password from text meant for a record, a log line or an alert."""
    if target.password:
        text = text.replace(target.password, "********")
    return text.strip()


def failure_reason(exc: BaseException) -> str:
    """The part of a driver's error an operator needs, on one line: `password authentication failed for user
    "shop"` rather than the whole multi-line connection report."""
    text = str(exc).strip()
    if "FATAL:" in text:
        text = text.rsplit("FATAL:", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0] if lines else exc.__class__.__name__
    return reason.rstrip(".")


def major_version(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    if not match:
        raise BackupError(f"Cannot read a version number from {version_text!r}.", code="version_unknown")
    return int(match.group(1))


def check_versions(client: str, server: str) -> None:
    """pg_dump and pg_restore must be the server's major version: an older client cannot dump a newer server,
    and a newer one writes archives that the server's own tools cannot read back."""
    if major_version(client) != major_version(server):
        raise BackupError(
            f"pg_dump is PostgreSQL {major_version(client)} but the server is {major_version(server)}: "
            "install the matching client (or set BACKUP_PG_BIN_DIR).",
            code="version_mismatch",
        )


class _StderrCollector(threading.Thread):
    """Reads a child's stderr so it can never fill its pipe and stall the dump; keeps the tail for the error."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.tail = b""

    def run(self):
        for line in iter(self.stream.readline, b""):
            self.tail = (self.tail + line)[-4000:]

    def text(self) -> str:
        self.join(timeout=5)
        return self.tail.decode(errors="replace").strip()


def _wait(proc: subprocess.Popen, collector: _StderrCollector, what: str, target: DatabaseTarget) -> None:
    code = proc.wait()
    if code != 0:
        detail = scrub(collector.text(), target) or f"exit status {code}"
        raise BackupError(f"{what} failed: {detail}")


class PostgresEngine:
    name = "postgresql"
    extension = ".dump"

    def __init__(self, target: DatabaseTarget):
        self.target = target

    # -- plumbing -------------------------------------------------------------------------------------------
    def env(self, dbname: str | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGDATABASE=dbname or self.target.name, PGCONNECT_TIMEOUT="10", PGAPPNAME="tillhouse-backup")
        if self.target.host:
            env["PGHOST"] = self.target.host
        if self.target.port:
            env["PGPORT"] = self.target.port
        if self.target.user:
            env["PGUSER"] = self.target.user
        if self.target.password:
            env["PGPASSWORD"] = self.target.password
        return env

    def binary(self, program: str) -> str:
        bin_dir = settings.BACKUP_PG_BIN_DIR
        found = (
            str(Path(bin_dir) / program)
            if bin_dir and (Path(bin_dir) / program).exists()
            else (None if bin_dir else shutil.which(program))
        )
        if not found:
            where = bin_dir or "PATH"
            raise BackupError(f"{program} was not found in {where}: install postgresql-client.", code="tool_missing")
        return found

    def connect(self, dbname: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
        try:
            return psycopg.connect(
                dbname=dbname or self.target.name,
                host=self.target.host or None,
                port=self.target.port or None,
                user=self.target.user or None,
                password=self.target.password or None,
                connect_timeout=10,
                autocommit=autocommit,
                application_name="tillhouse-backup",
            )
        except psycopg.Error as exc:
            raise BackupError(
                f"Cannot connect to database {dbname or self.target.name!r}: "
                f"{scrub(failure_reason(exc), self.target)}.",
                code="database_unreachable",
            ) from None

    # -- facts ----------------------------------------------------------------------------------------------
    def client_version(self) -> str:
        out = subprocess.run([self.binary("pg_dump"), "--version"], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    def server_version(self) -> str:
        with self.connect() as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def preflight(self) -> tuple[str, str]:
        server = self.server_version()
        client = self.client_version()
        check_versions(client, server)
        self.binary("pg_restore")
        return client, server

    @staticmethod
    def _tables(conn) -> list[tuple[str, str]]:
        return conn.execute(
            """
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
            ORDER BY 1, 2
            """
        ).fetchall()

    @classmethod
    def _row_counts(cls, conn) -> dict[str, int]:
        counts = {}
        for schema, table in cls._tables(conn):
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            key = table if schema == "public" else f"{schema}.{table}"
            counts[key] = conn.execute(query).fetchone()[0]
        return counts

    @staticmethod
    def _migrations(conn) -> dict[str, list[str]]:
        if conn.execute("SELECT to_regclass('django_migrations')").fetchone()[0] is None:
            return {}
        state: dict[str, list[str]] = {}
        for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name"):
            state.setdefault(app, []).append(name)
        return state

    def row_counts(self, dbname: str | None = None) -> dict[str, int]:
        with self.connect(dbname) as conn:
            return self._row_counts(conn)

    def migration_state(self, dbname: str | None = None) -> dict[str, list[str]]:
        with self.connect(dbname) as conn:
            return self._migrations(conn)

    def money_sums(self, dbname: str | None = None) -> dict[str, str]:
        """Sum of every numeric column of every table (a check that amounts came back to the cent)."""
        with self.connect(dbname) as conn:
            return self._money_sums(conn)

    @staticmethod
    def _money_sums(conn) -> dict[str, str]:
        sums = {}
        columns = conn.execute(
            """
            SELECT table_schema, table_name, column_name FROM information_schema.columns
            WHERE data_type = 'numeric' AND table_schema NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1, 2, 3
            """
        ).fetchall()
        for schema, table, column in columns:
            query = sql.SQL("SELECT coalesce(sum({}), 0) FROM {}.{}").format(
                sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table)
            )
            sums[f"{table}.{column}"] = str(conn.execute(query).fetchone()[0])
        return sums

    def columns(self, dbname: str | None = None) -> dict[str, set[str]]:
        """{table: its column names} for the public schema: what a restored copy has."""
        found: dict[str, set[str]] = {}
        with self.connect(dbname) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            )
            for table, column in rows:
                found.setdefault(table, set()).add(column)
        return found

    def query(self, dbname: str, statement: str) -> list[tuple]:
        with self.connect(dbname) as conn:
            return conn.execute(statement).fetchall()

    def exists(self, dbname: str) -> bool:
        with self.connect(MAINTENANCE_DB, autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone() is not None

    def is_empty(self, dbname: str | None = None) -> bool:
        dbname = dbname or self.target.name
        if not self.exists(dbname):
            return True
        with self.connect(dbname) as conn:
            return not self._tables(conn)

    # -- dump -----------------------------------------------------------------------------------------------
    def dump(self, write: Callable[[Iterator[bytes]], None], *, filters: list[list[str]] = ()) -> dict:
        """Run pg_dump -Fc (through `filters`, e.g. an encryptor) and hand its output stream to `write`.

        Returns the facts for the manifest: server version, row counts, migration state, money sums and the
        numbers issued per register, all in the dumped snapshot.
        """
        conn = self.connect()
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            server_version = conn.execute("SHOW server_version").fetchone()[0]
            facts: dict = {"server_version": server_version}

            def count_in_snapshot():
                try:
                    facts["row_counts"] = self._row_counts(conn)
                    facts["migration_state"] = self._migrations(conn)
                    facts["money_sums"] = self._money_sums(conn)
                    facts["issued_numbers"] = manifest_numbers(issued_numbers_in(_pg_rows_or_none(conn)))
                except Exception as exc:  # reported after the dump, with the dump's own errors
                    facts["count_error"] = exc

            argv = [self.binary("pg_dump"), "--format=custom", "--no-password", f"--snapshot={snapshot}"]
            with _pipeline(argv, filters, self.env(), self.target, "pg_dump") as stream:
                counter = threading.Thread(target=count_in_snapshot, daemon=True)
                counter.start()
                try:
                    write(stream)
                finally:
                    # The counter reads through `conn`: never close it under a running query (a failed write
                    # used to close it mid-count, and libpq could crash the process).
                    counter.join()
            if "count_error" in facts:
                raise BackupError(f"Counting rows failed: {scrub(str(facts.pop('count_error')), self.target)}")
            conn.rollback()
            return facts
        finally:
            conn.close()

    # -- archive checks and restore -------------------------------------------------------------------------
    def list_archive(self, stream: Iterator[bytes]) -> list[str]:
        """`pg_restore --list`: the archive's table of contents (read_all() reads every data block too)."""
        argv = [self.binary("pg_restore"), "--list"]
        toc = _feed(argv, stream, self.env(), self.target, "pg_restore --list", capture=True)
        entries = [line for line in toc.decode(errors="replace").splitlines() if line and not line.startswith(";")]
        if not entries:
            raise BackupError("The archive's table of contents is empty.", code="archive_invalid")
        return entries

    def read_all(self, stream: Iterator[bytes]) -> None:
        """Read and decompress every block (`pg_restore -f /dev/null`): catches a truncated or damaged archive."""
        argv = [self.binary("pg_restore"), "--file=/dev/null"]
        _feed(argv, stream, self.env(), self.target, "Reading the archive")

    def create_database(self, dbname: str) -> None:
        with self.connect(MAINTENANCE_DB, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname)))

    def drop_database(self, dbname: str) -> None:
        if dbname == MAINTENANCE_DB:
            raise BackupError("Refusing to drop the maintenance database.")
        with self.connect(MAINTENANCE_DB, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    def rename_database(self, old: str, new: str) -> None:
        with self.connect(MAINTENANCE_DB, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [old],
            )
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))

    def restore_into(self, dbname: str, stream: Iterator[bytes]) -> None:
        """Restore the archive into an existing, empty database."""
        argv = [self.binary("pg_restore"), "--no-password", "--exit-on-error", "--no-owner", f"--dbname={dbname}"]
        _feed(argv, stream, self.env(dbname), self.target, "pg_restore")


class SqliteEngine:
    name = "sqlite"
    extension = ".sqlite3"

    def __init__(self, target: DatabaseTarget):
        self.target = target

    def client_version(self) -> str:
        return f"sqlite3 {sqlite3.sqlite_version}"

    def server_version(self) -> str:
        return sqlite3.sqlite_version

    def preflight(self) -> tuple[str, str]:
        if not Path(self.target.name).exists():
            raise BackupError(f"The SQLite database {self.target.name} does not exist.")
        return self.client_version(), self.server_version()

    @staticmethod
    def _row_counts(conn) -> dict[str, int]:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608

    @staticmethod
    def _migrations(conn) -> dict[str, list[str]]:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'")
        if not exists.fetchone():
            return {}
        state: dict[str, list[str]] = {}
        for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name"):
            state.setdefault(app, []).append(name)
        return state

    @staticmethod
    def _money_sums(conn) -> dict[str, str]:
        """Sum of every decimal column, added up as Decimal (SQLite's own sum() would go through floats)."""
        sums = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            for _, column, kind, *_ in conn.execute(f'PRAGMA table_info("{table}")').fetchall():
                if not kind.lower().startswith(("decimal", "numeric")):
                    continue
                total = Decimal(0)
                for (value,) in conn.execute(f'SELECT CAST("{column}" AS TEXT) FROM "{table}"'):  # noqa: S608
                    if value is not None:
                        total += Decimal(value)
                sums[f"{table}.{column}"] = str(total)
        return sums

    def money_sums(self, dbname: str | None = None) -> dict[str, str]:
        with _sqlite(dbname or self.target.name) as conn:
            return self._money_sums(conn)

    def columns(self, dbname: str | None = None) -> dict[str, set[str]]:
        with _sqlite(dbname or self.target.name) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: {row[1] for row in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}

    def row_counts(self, dbname: str | None = None) -> dict[str, int]:
        with _sqlite(dbname or self.target.name) as conn:
            return self._row_counts(conn)

    def query(self, dbname: str, statement: str) -> list[tuple]:
        with _sqlite(dbname) as conn:
            return conn.execute(statement).fetchall()

    def migration_state(self, dbname: str | None = None) -> dict[str, list[str]]:
        with _sqlite(dbname or self.target.name) as conn:
            return self._migrations(conn)

    def is_empty(self, dbname: str | None = None) -> bool:
        path = Path(dbname or self.target.name)
        if not path.exists() or path.stat().st_size == 0:
            return True
        with _sqlite(str(path)) as conn:
            return not self._row_counts(conn)

    def dump(self, write: Callable[[Iterator[bytes]], None], *, filters: list[list[str]] = ()) -> dict:
        with tempfile.TemporaryDirectory(prefix="tillhouse-backup-") as tmp:
            copy = Path(tmp) / "copy.sqlite3"
            with _sqlite(self.target.name) as src, _sqlite(str(copy)) as dst:
                src.backup(dst, pages=4096)
                facts = {
                    "server_version": sqlite3.sqlite_version,
                    "row_counts": self._row_counts(dst),
                    "migration_state": self._migrations(dst),
                    "money_sums": self._money_sums(dst),
                    "issued_numbers": manifest_numbers(issued_numbers_in(_sqlite_rows_or_none(dst))),
                }
            with _pipeline(["cat", str(copy)], filters, dict(os.environ), self.target, "SQLite copy") as stream:
                write(stream)
        return facts

    def list_archive(self, stream: Iterator[bytes], *, full: bool = False) -> list[str]:
        with _spooled_sqlite(stream) as path, _sqlite(path) as conn:
            result = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise BackupError(f"The SQLite archive is damaged: {result}", code="archive_invalid")
            return [f"TABLE {name}" for name in self._row_counts(conn)]

    def read_all(self, stream: Iterator[bytes]) -> None:
        self.list_archive(stream, full=True)

    def restore_file(self, stream: Iterator[bytes], dest: str) -> None:
        """Write the archive's database over `dest` through the backup API (safe with WAL and open readers)."""
        with _spooled_sqlite(stream) as path, _sqlite(path) as src:
            if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("The SQLite archive is damaged.", code="archive_invalid")
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            with _sqlite(dest) as dst:
                src.backup(dst)


@contextmanager
def _sqlite(path: str):
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _spooled_sqlite(stream: Iterator[bytes]):
    with tempfile.TemporaryDirectory(prefix="tillhouse-restore-") as tmp:
        path = Path(tmp) / "restore.sqlite3"
        with open(path, "wb") as out:
            for chunk in stream:
                out.write(chunk)
        yield str(path)


@contextmanager
def _pipeline(argv: list[str], filters, env: dict, target: DatabaseTarget, what: str):
    """Start `argv | filter | filter ...` and yield an iterator over the last process's stdout."""
    procs: list[tuple[subprocess.Popen, _StderrCollector, str]] = []
    try:
        first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except OSError as exc:
        raise BackupError(f"{what} could not start: {exc.strerror}", code="tool_missing") from exc
    procs.append((first, _StderrCollector(first.stderr), what))
    for f in filters:
        prev = procs[-1][0]
        proc = subprocess.Popen(f, stdin=prev.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        prev.stdout.close()  # the filter owns it now: if the filter dies, the producer gets SIGPIPE
        procs.append((proc, _StderrCollector(proc.stderr), Path(f[0]).name))
    for _, collector, _ in procs:
        collector.start()
    last = procs[-1][0]
    ok = False
    try:
        yield iter(lambda: last.stdout.read(CHUNK), b"")
        ok = True
    finally:
        if not ok:
            for proc, _, _ in procs:
                proc.kill()
        last.stdout.close()
        errors = []
        for proc, collector, name in procs:
            try:
                _wait(proc, collector, name, target)
            except BackupError as exc:
                errors.append(exc)
        if ok and errors:
            raise errors[0]


def _feed(argv, stream: Iterator[bytes], env, target, what, *, capture=False) -> bytes:
    """Write `stream` into argv's stdin; returns its stdout when capture=True."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise BackupError(f"{what} could not start: {exc.strerror}", code="tool_missing") from exc
    collector = _StderrCollector(proc.stderr)
    collector.start()
    out = bytearray()
    reader = None
    if capture:

        def read_out():
            for chunk in iter(lambda: proc.stdout.read(CHUNK), b""):
                out.extend(chunk)

        reader = threading.Thread(target=read_out, daemon=True)
        reader.start()
    broken = False
    try:
        for chunk in stream:
            try:
                proc.stdin.write(chunk)
            except BrokenPipeError:
                broken = True  # it stopped reading: --list reads only the table of contents, others failed
                break
        if broken:
            for _ in stream:  # still drain the source so its own checks (sha256, decryption) complete
                pass
    finally:
        with suppress(BrokenPipeError):
            proc.stdin.close()
    if reader:
        reader.join()
    _wait(proc, collector, what, target)
    return bytes(out)


def engine_for(target: DatabaseTarget) -> PostgresEngine | SqliteEngine:
    return PostgresEngine(target) if target.engine == "postgresql" else SqliteEngine(target)
