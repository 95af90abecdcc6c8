"""pgBackRest, driven and watched (DESIGN.md §7): the product writes its configuration from the settings, runs its
commands, reads the archiver's state and stops and starts the cluster for a restore. It reimplements none of it.

- `config_text()` / `write_config()`: the configuration file every `pgbackrest` call (and PostgreSQL's
  `archive_command`) reads: repo1 on the backup volume, repo2 in an S3-compatible bucket when configured, both
  encrypted (aes-256-cbc) when PGBACKREST_CIPHER_PASS is set, full backups kept for PGBACKREST_RETENTION_DAYS.
- `postgres_settings()`: what postgresql.conf needs for continuous archiving (archive_timeout bounds the loss).
- `run()`: one `pgbackrest --config=… --stanza=… <command>`, as PGBACKREST_RUN_AS when this process is root.
- `archive_status()`: the newest archived WAL segment, its age, failures (pg_stat_archiver), and the lag: how long
  committed work has been waiting outside the archive (the current RPO).
- `switch_if_work_waiting()`: beat's forced segment switch (`pg_switch_wal()`) when a transaction that wrote has
  started since the last one, so that committed work reaches the archive within PITR_SWITCH_SECONDS plus a push on
  any machine (archive_timeout relies on the checkpointer's timer, which does not fire everywhere); nothing while
  the shop is idle, so no empty segments are made.
- `stop_cluster()` / `start_cluster()` / `wait_for_recovery()`: pg_ctl on PGBACKREST_PG1_PATH, or configured commands.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from django.conf import settings
from psycopg import sql as pgsql

from ops.backups.engines import BackupError, DatabaseTarget

logger = logging.getLogger("tillhouse.backups")

WAL_SEGMENT_BYTES = 16 * 1024 * 1024


class PitrError(BackupError):
    def __init__(self, message: str, code: str = "pitr_failed"):
        super().__init__(message, code=code)


# -- configuration -------------------------------------------------------------------------------------------
def backups_here() -> bool:
    """Beat takes the pgBackRest backups from here: beside the data directory, or through SQL (PITR_PGBACKREST_VIA)."""
    return settings.PITR_ENABLED and (not settings.PITR_WATCH_ONLY or settings.PITR_PGBACKREST_VIA == "sql")


def config_path() -> Path:
    return Path(settings.PGBACKREST_CONFIG)


def _secrets() -> list[str]:
    return [s for s in (settings.PGBACKREST_CIPHER_PASS, settings.PGBACKREST_S3_KEY_SECRET) if s]


def scrub(text: str) -> str:
    for secret in _secrets():
        text = text.replace(secret, "********")
    return text.strip()


def _s3_endpoint() -> tuple[str, int | None]:
    endpoint = settings.PGBACKREST_S3_ENDPOINT
    parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    return parsed.hostname or endpoint, parsed.port


def config_text() -> str:
    """The pgBackRest configuration for this installation (it holds the cipher pass: write it 0600)."""
    days = settings.PGBACKREST_RETENTION_DAYS
    base = config_path().parent
    lines = [
        "# Written by Tillhouse from its settings (manage.py pitr setup); edit the settings, not this file.",
        "[global]",
        f"lock-path={base / 'lock'}",
        f"log-path={base / 'log'}",
        "log-level-console=warn",
        "log-level-stderr=off",
        "log-level-file=info",
        "start-fast=y",
        "compress-type=gz",
        "compress-level=3",
        "archive-check=y",
        f"repo1-path={settings.PGBACKREST_REPO_PATH}",
        "repo1-retention-full-type=time",
        f"repo1-retention-full={days}",
    ]
    repos = [1]
    if settings.PGBACKREST_S3_BUCKET:
        host, port = _s3_endpoint()
        repos.append(2)
        lines += [
            "repo2-type=s3",
            f"repo2-path={settings.PGBACKREST_S3_PATH}",
            f"repo2-s3-bucket={settings.PGBACKREST_S3_BUCKET}",
            f"repo2-s3-endpoint={host}",
            f"repo2-s3-region={settings.PGBACKREST_S3_REGION}",
            f"repo2-s3-key={settings.PGBACKREST_S3_KEY}",
            f"repo2-s3-key-secret={settings.PGBACKREST_S3_KEY_SECRET}",
            f"repo2-s3-uri-style={settings.PGBACKREST_S3_URI_STYLE}",
            "repo2-retention-full-type=time",
            f"repo2-retention-full={days}",
        ]
        if port:
            lines.append(f"repo2-storage-port={port}")
        if not settings.PGBACKREST_S3_VERIFY_TLS:
            lines.append("repo2-storage-verify-tls=n")
    if settings.PGBACKREST_CIPHER_PASS:
        for n in repos:
            lines += [f"repo{n}-cipher-type=aes-256-cbc", f"repo{n}-cipher-pass={settings.PGBACKREST_CIPHER_PASS}"]
    lines += ["", f"[{settings.PGBACKREST_STANZA}]", f"pg1-path={settings.PGBACKREST_PG1_PATH}"]
    lines.append(f"pg1-port={settings.PGBACKREST_PG1_PORT}")
    if settings.PGBACKREST_PG1_SOCKET_PATH:
        lines.append(f"pg1-socket-path={settings.PGBACKREST_PG1_SOCKET_PATH}")
    if settings.PGBACKREST_PG1_USER:
        lines.append(f"pg1-user={settings.PGBACKREST_PG1_USER}")
    return "\n".join(lines) + "\n"


def _owner() -> tuple[int, int] | None:
    """uid and gid of PGBACKREST_RUN_AS, when this process is root and must hand it the files."""
    if not settings.PGBACKREST_RUN_AS or os.geteuid() != 0:
        return None
    import pwd

    entry = pwd.getpwnam(settings.PGBACKREST_RUN_AS)
    return entry.pw_uid, entry.pw_gid


def write_config() -> Path:
    """Write the configuration (0600) and the directories pgBackRest writes to; idempotent."""
    path = config_path()
    owner = _owner()
    for directory in (path.parent, path.parent / "lock", path.parent / "log", Path(settings.PGBACKREST_REPO_PATH)):
        directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        if owner:
            os.chown(directory, *owner)
    text = config_text()
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        if owner:
            os.chown(tmp, *owner)
        tmp.replace(path)
    return path


def archive_command() -> str:
    return f"{settings.PGBACKREST_BIN} --config={config_path()} --stanza={settings.PGBACKREST_STANZA} archive-push %p"


def postgres_settings() -> dict[str, str]:
    """postgresql.conf for continuous archiving: a segment is closed and pushed at least every
    PITR_ARCHIVE_TIMEOUT seconds while there is work, so at most that much committed work is outside the archive."""
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": archive_command(),
        "archive_timeout": f"{settings.PITR_ARCHIVE_TIMEOUT}s",
        "max_wal_senders": "3",
    }


# -- running pgBackRest --------------------------------------------------------------------------------------
def child_env() -> dict[str, str]:
    """This process's environment without PGBACKREST_* variables: pgBackRest reads those as its own options
    (PGBACKREST_PG1_PATH would be pg1-path), and the server started by a restore passes them to archive-push."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PGBACKREST_")}


def _as_owner(argv: list[str]) -> list[str]:
    if _owner() is not None:
        return ["runuser", "-u", settings.PGBACKREST_RUN_AS, "--", *argv]
    return argv


def pgbackrest_argv(command: str, *options: str, params: tuple[str, ...] = ()) -> list[str]:
    """`params`: the command's own arguments (a segment, a path), after it."""
    return _as_owner(
        [
            settings.PGBACKREST_BIN,
            f"--config={config_path()}",
            f"--stanza={settings.PGBACKREST_STANZA}",
            *options,
            command,
            *params,
        ]
    )


def run(command: str, *options: str, timeout: float | None = None, params: tuple[str, ...] = ()) -> str:
    """Run one pgBackRest command; its stdout, or PitrError with its last error line (secrets masked). With
    PITR_PGBACKREST_VIA "sql" it runs in the database server instead (`run_in_server`)."""
    if settings.PITR_PGBACKREST_VIA == "sql":
        return run_in_server(command, *options, timeout=timeout, params=params)
    write_config()
    argv = pgbackrest_argv(command, *options, params=params)
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, cwd="/", env=child_env()
        )
    except FileNotFoundError:
        raise PitrError(f"{argv[0]} was not found: install pgbackrest (make backup-tools).", "tool_missing") from None
    except subprocess.TimeoutExpired:
        raise PitrError(f"pgbackrest {command} did not finish within {timeout:.0f} s.") from None
    if out.returncode != 0:
        text = scrub(out.stderr or out.stdout) or f"exit status {out.returncode}"
        raise PitrError(f"pgbackrest {command} failed: {_last_error(text)}")
    return out.stdout


def _last_error(text: str) -> str:
    """pgBackRest's last ERROR line; when it ends with a colon, the lines it introduces (the cause) follow it."""
    lines = text.splitlines()
    at = max((i for i, line in enumerate(lines) if "ERROR" in line), default=len(lines) - 1)
    error = lines[at].strip() if lines else ""
    if error.endswith(":"):
        error = " ".join([error, *(line.strip() for line in lines[at + 1 : at + 4] if line.strip())])
    return error


_EXIT_MARK = "tillhouse-pgbackrest-exit:"


def run_in_server(command: str, *options: str, timeout: float | None = None, params: tuple[str, ...] = ()) -> str:
    """One pgBackRest command run by the database server itself, as its OS user, through `COPY ... FROM PROGRAM`:
    where the data directory and pgBackRest are in another container (compose's db) and only SQL reaches them. The
    server's own configuration (PGBACKREST_SERVER_CONFIG) is used. Needs a superuser or a member of
    pg_execute_server_program. Returns the command's output (stdout and stderr), or PitrError."""
    argv = [
        settings.PGBACKREST_BIN,
        f"--config={settings.PGBACKREST_SERVER_CONFIG}",
        f"--stanza={settings.PGBACKREST_STANZA}",
        *options,
        command,
        *params,
    ]
    # the exit status on a line of its own (pgBackRest's JSON ends without a newline)
    program = f"{shlex.join(argv)} 2>&1; printf '\\n{_EXIT_MARK}%s\\n' $?"
    target = DatabaseTarget.from_settings()
    try:
        with _connect(target, "postgres") as conn:
            conn.execute(f"SET statement_timeout = {int((timeout or 0) * 1000)}")
            conn.execute("CREATE TEMP TABLE pgbackrest_output (n serial, line text)")
            # one column, read verbatim: no delimiter or quote character occurs in pgBackRest's output
            conn.execute(
                pgsql.SQL(
                    "COPY pgbackrest_output (line) FROM PROGRAM {} WITH (FORMAT csv, DELIMITER E'\\x01', "
                    "QUOTE E'\\x02')"
                ).format(pgsql.Literal(program))
            )
            lines = [row[0] or "" for row in conn.execute("SELECT line FROM pgbackrest_output ORDER BY n")]
    except psycopg.errors.InsufficientPrivilege:
        raise PitrError(
            f"The database user {target.user or '(default)'} may not run programs in the database server: grant it "
            f"pg_execute_server_program (GRANT pg_execute_server_program TO {target.user or '<user>'}), or run "
            "pgBackRest where the data directory is (PITR_PGBACKREST_VIA=local).",
            "tool_missing",
        ) from None
    except psycopg.errors.QueryCanceled:
        raise PitrError(f"pgbackrest {command} did not finish within {timeout:.0f} s.") from None
    except psycopg.Error as exc:
        raise PitrError(f"pgbackrest {command} could not be run in the database server: {scrub(str(exc))}") from None
    status = int(lines.pop()[len(_EXIT_MARK) :]) if lines and lines[-1].startswith(_EXIT_MARK) else -1
    if lines and not lines[-1]:
        lines.pop()
    text = "\n".join(lines)
    if status == 127:
        raise PitrError(f"{settings.PGBACKREST_BIN} was not found in the database server.", "tool_missing")
    if status != 0:
        out = scrub(text) or f"exit status {status}"
        errors = [line for line in out.splitlines() if "ERROR" in line] or out.splitlines()
        raise PitrError(f"pgbackrest {command} failed: {errors[-1].strip()}")
    return text + "\n"


def stanza_create() -> None:
    run("stanza-create", timeout=600)


def check() -> None:
    """pgBackRest's own end-to-end check: the configuration, and a WAL segment switched and found in every repo."""
    run("check", timeout=600)


def backup(kind: str) -> dict:
    """A full or differential backup (kind "full" | "diff") to every repository; returns its entry in `info`."""
    for repo in repositories():
        run("backup", f"--type={kind}", f"--repo={repo}", timeout=6 * 3600)
    backups = info().get("backup", [])
    return backups[-1] if backups else {}


def repositories() -> list[int]:
    return [1, 2] if settings.PGBACKREST_S3_BUCKET else [1]


def info() -> dict:
    """The stanza's entry of `pgbackrest info --output=json` ({} when there is none yet)."""
    out = run("info", "--output=json", timeout=120)
    data = json.loads(next((line for line in out.splitlines() if line.startswith("[")), "[]"))
    return data[0] if data else {}


def oldest_restorable(entry: dict) -> datetime | None:
    """The earliest instant a restore can reach: the end of the oldest backup still kept."""
    stops = [b["timestamp"]["stop"] for b in entry.get("backup", [])]
    return datetime.fromtimestamp(min(stops), tz=UTC) if stops else None


def restore_options(*, to: datetime | None, pg_path: str = "", archive_mode: str = "preserve") -> list[str]:
    """The options of `pgbackrest restore` for `to` (None: everything archived), here and in compose's db container."""
    argv = ["--delta", f"--archive-mode={archive_mode}"]
    if to is None:
        argv.append("--type=default")
    else:
        stamp = to.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        argv += ["--type=time", f"--target={stamp}", "--target-action=promote"]
    if pg_path:
        argv.append(f"--pg1-path={pg_path}")
    return argv


def restore(*, to: datetime | None, pg_path: str = "", archive_mode: str = "preserve") -> None:
    """`pgbackrest restore --delta` into the (stopped) cluster's data directory, or `pg_path`: as of `to`, then
    promoted; None: everything archived (`--type=default`). A scratch copy takes archive_mode "off": it must never
    push WAL into the repository."""
    run("restore", *restore_options(to=to, pg_path=pg_path, archive_mode=archive_mode), timeout=6 * 3600)


# -- what is archived --------------------------------------------------------------------------------------
@dataclass
class ArchiveStatus:
    archived_count: int
    last_archived_wal: str
    last_archived_at: datetime | None
    failed_count: int
    last_failed_wal: str
    last_failed_at: datetime | None
    pending_bytes: int  # WAL written since the end of the last archived segment
    lag_seconds: float  # how long committed work has been outside the archive (0: nothing waiting)
    archive_timeout: str = ""
    archive_mode: str = ""

    @property
    def failing(self) -> bool:
        """The last attempt failed (pg_stat_archiver keeps failures until a later success)."""
        return bool(self.last_failed_at) and (
            self.last_archived_at is None or self.last_failed_at > self.last_archived_at
        )

    def as_json(self) -> dict:
        return {
            "last_archived_wal": self.last_archived_wal,
            "last_archived_at": self.last_archived_at.isoformat() if self.last_archived_at else None,
            "lag_seconds": round(self.lag_seconds, 1),
            "failed_count": self.failed_count,
            "failing": self.failing,
            "last_failed_wal": self.last_failed_wal,
            "last_failed_at": self.last_failed_at.isoformat() if self.last_failed_at else None,
        }


def _segment_end_lsn(walfile: str) -> str:
    """The LSN just past a WAL segment file `TTTTTTTTXXXXXXXXYYYYYYYY` (16 MB segments)."""
    log, seg = int(walfile[8:16], 16), int(walfile[16:24], 16)
    end = (log * 0x100000000) + (seg + 1) * WAL_SEGMENT_BYTES
    return f"{end >> 32:X}/{end & 0xFFFFFFFF:X}"


_AUTO = object()


def archive_status(cursor, *, state=_AUTO) -> ArchiveStatus:
    """pg_stat_archiver read through `cursor` (a DB-API cursor on the cluster).

    The lag is how long committed work may have waited outside the archive: 0 when no transaction that wrote has
    started since the last forced switch (or the last check that found everything archived) — the few bytes the
    server writes on its own while idle (running-transactions records, checkpoints) are no work. Otherwise the time
    since the newest moment everything committed was known to be archived: the last archived segment, or the
    switch task's last forced switch or clean check (`state`, read from the cache when not given). Without that
    state: the age of the last archived segment while any WAL has been written beyond it."""
    cursor.execute(
        "SELECT archived_count, coalesce(last_archived_wal, ''), last_archived_time, failed_count, "
        "coalesce(last_failed_wal, ''), last_failed_time, now(), pg_is_in_recovery(), "
        "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END, "
        "current_setting('archive_timeout'), current_setting('archive_mode') FROM pg_stat_archiver"
    )
    count, wal, archived_at, failed, failed_wal, failed_at, now, recovering, current, timeout, mode = cursor.fetchone()
    pending = 0
    segment = wal[:24]  # a segment, or one with .backup / .partial after it; a timeline's .history is shorter
    if current and len(segment) == 24 and all(c in "0123456789ABCDEF" for c in segment):
        cursor.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", [current, _segment_end_lsn(segment)])
        pending = max(0, int(cursor.fetchone()[0]))
    elif current and not wal:
        pending = 1  # nothing archived yet
    since = archived_at or None
    lag = 0.0
    if pending > 0 and not recovering:
        if state is _AUTO:
            state = load_switch_state()
        known = _state_for(cursor, state) if state else None
        if known is not None:
            work, safe_at = _work_waiting(cursor, known, wal)
            since = max(filter(None, (archived_at, safe_at)), default=None)
            if not work:
                pending = 0
        if pending > 0:
            lag = (now - since).total_seconds() if since else float("inf")
    return ArchiveStatus(count, wal, archived_at, failed, failed_wal, failed_at, pending, lag, timeout, mode)


# -- the forced segment switch -----------------------------------------------------------------------------
# PostgreSQL's archive_timeout is checked by the checkpointer when it wakes on its timer; where that timer does not
# fire (seen on PostgreSQL 15, on the host and in containers alike) a segment fills before it is archived, minutes
# or hours of sales. Beat runs `switch_if_work_waiting()` every PITR_SWITCH_SECONDS instead: it closes the current
# segment with pg_switch_wal() when a transaction that wrote has started since the last switch (its XID is at or
# above the snapshot's xmax then, or it was running then and has committed since), and does nothing while the shop
# is idle. Its state lives in the cache, not in the database (a write there would itself be new work).
SWITCHES_KEY = "pitr:wal-switches"


def _state_key(target: DatabaseTarget | None = None) -> str:
    target = target or DatabaseTarget.from_settings()
    return f"pitr:wal-switch:{target.host or 'local'}:{target.port or 5432}"


def load_switch_state(target: DatabaseTarget | None = None) -> dict | None:
    """The switch task's last observation of this cluster, or None (none yet, or the cache does not answer)."""
    from django.core.cache import cache

    try:
        return cache.get(_state_key(target))
    except Exception:  # the cache is down: the lag falls back to the archived segment's age
        logger.warning("the WAL switch state could not be read from the cache", exc_info=True)
        return None


def _save_switch_state(target: DatabaseTarget, state: dict) -> None:
    from django.core.cache import cache

    cache.set(_state_key(target), state, timeout=7 * 86400)


def forced_switches() -> tuple[int, float]:
    """(forced switches counted since the cache was last emptied, unix time of the newest one or 0)."""
    from django.core.cache import cache

    try:
        values = cache.get_many([SWITCHES_KEY, SWITCHES_KEY + ":last"])
    except Exception:
        return 0, 0.0
    return int(values.get(SWITCHES_KEY) or 0), float(values.get(SWITCHES_KEY + ":last") or 0)


def _count_switch() -> None:
    from django.core.cache import cache

    cache.add(SWITCHES_KEY, 0, timeout=None)
    cache.incr(SWITCHES_KEY)
    cache.set(SWITCHES_KEY + ":last", time.time(), timeout=None)
    cache.delete(SWITCHES_KEY + ":error")


def _note_switch_error(text: str) -> None:
    from django.core.cache import cache

    cache.set(SWITCHES_KEY + ":error", text, timeout=3600)


def switch_error() -> str:
    """Why the last forced switch was refused (within the hour), or ""."""
    from django.core.cache import cache

    try:
        return cache.get(SWITCHES_KEY + ":error") or ""
    except Exception:
        return ""


def _cluster_identity(cursor) -> tuple[str, str, int, list[int]]:
    """(system identifier, current timeline as hex, the snapshot's xmax, XIDs running in it)."""
    cursor.execute(
        "SELECT (SELECT system_identifier::text FROM pg_control_system()), "
        "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8), pg_snapshot_xmax(s)::text, "
        "array(SELECT x::text FROM pg_snapshot_xip(s) x) FROM pg_current_snapshot() s"
    )
    system, timeline, xmax, running = cursor.fetchone()
    return system, timeline, int(xmax), [int(x) for x in running]


def _state_for(cursor, state: dict) -> dict | None:
    """`state` when it describes this cluster as it is now, else None: another system, another timeline (a restore
    promoted one) or XIDs gone backwards (restored to an earlier instant) make it meaningless."""
    try:
        system, timeline, xmax, _ = _cluster_identity(cursor)
    except Exception:  # in recovery, or no pg_current_snapshot(): not comparable
        return None
    if state.get("system") != system or state.get("timeline") != timeline or int(state.get("xmax", 0)) > xmax:
        return None
    return {**state, "xmax_now": xmax}


def _forced_archived(state: dict, last_archived: str) -> bool:
    """Has the state's forced segment been archived? pg_stat_archiver keeps only the newest file pushed: a backup
    label (`….backup`, named after the backup's first segment) or a timeline history file can come after later
    segments, so only a plain segment name is compared; another name counts as caught up (failures show apart)."""
    forced = state.get("segment") or ""
    if not forced:
        return True
    if not last_archived:
        return False
    return len(last_archived) != 24 or last_archived >= forced


def _work_waiting(cursor, state: dict, last_archived: str) -> tuple[bool, datetime | None]:
    """(has a transaction that wrote started since the state's snapshot, or one running then committed since;
    the newest moment everything committed was known archived)."""
    work = state["xmax_now"] > int(state["xmax"])
    if not work and state.get("running"):
        cursor.execute(
            "SELECT count(*) FROM unnest(%s::text[]) x WHERE pg_xact_status(x::xid8) = 'committed'",
            [[str(x) for x in state["running"]]],
        )
        work = cursor.fetchone()[0] > 0
    archived = _forced_archived(state, last_archived)
    safe = state.get("checked_at") if archived else state.get("safe_before")
    return work or not archived, datetime.fromisoformat(safe) if safe else None


def switch_if_work_waiting(target: DatabaseTarget | None = None) -> str:
    """Close the current WAL segment when committed work would otherwise wait in it (beat, every
    PITR_SWITCH_SECONDS). Returns what it did: `switched`, `idle` (no work since the last switch), `archived`
    (the work is archived already), `waiting` (the previous forced segment is not archived yet: no pile-up),
    `failing` (pushes fail: switching would only fill pg_wal), `not archiving` (in recovery, or archive_mode off)."""
    target = target or DatabaseTarget.from_settings()
    with _connect(target, "postgres") as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_setting('archive_mode')")
        recovering, mode = cursor.fetchone()
        if recovering or mode == "off":
            return "not archiving"
        status = archive_status(cursor, state=None)
        system, timeline, xmax, running = _cluster_identity(cursor)
        now = datetime.now(tz=UTC)
        previous = load_switch_state(target)
        known = _state_for(cursor, previous) if previous else None
        if known is not None:
            if not _forced_archived(known, status.last_archived_wal):
                return "waiting"
            work, _ = _work_waiting(cursor, known, status.last_archived_wal)
        else:
            work = status.pending_bytes > 0
        fresh = {"system": system, "timeline": timeline, "xmax": xmax, "running": running}
        if not work:  # everything committed is archived as of now
            if known is not None:
                known.pop("xmax_now", None)
                _save_switch_state(target, {**known, "checked_at": now.isoformat()})
            else:  # a first look at an archive that holds everything: later work is what counts
                _save_switch_state(target, {**fresh, "segment": "", "checked_at": now.isoformat()})
            return "idle"
        if status.pending_bytes == 0:
            _save_switch_state(
                target, {**fresh, "segment": (known or {}).get("segment", ""), "checked_at": now.isoformat()}
            )
            return "archived"
        if status.failing:
            return "failing"
        safe_before = (known or {}).get("checked_at") or (
            status.last_archived_at.isoformat() if status.last_archived_at else None
        )
        try:
            cursor.execute("SELECT pg_walfile_name(pg_switch_wal())")
        except psycopg.errors.InsufficientPrivilege:
            _note_switch_error(f"{target.user or 'this user'} may not run pg_switch_wal()")
            raise PitrError(
                f"The database user {target.user or '(default)'} may not run pg_switch_wal(): as a superuser, run "
                f"GRANT EXECUTE ON FUNCTION pg_switch_wal() TO {target.user or '<user>'} (docs/RUNBOOK.md).",
                "switch_refused",
            ) from None
        switched = cursor.fetchone()[0]
        _save_switch_state(
            target, {**fresh, "segment": switched, "checked_at": now.isoformat(), "safe_before": safe_before}
        )
    _count_switch()
    logger.info("WAL segment %s switched so that committed work reaches the archive", switched)
    return "switched"


def archive_status_of(target: DatabaseTarget) -> ArchiveStatus:
    with _connect(target, "postgres") as conn, conn.cursor() as cursor:
        return archive_status(cursor)


def switch_and_wait_archived(target: DatabaseTarget, *, deadline: float = 120.0) -> str:
    """Close the current WAL segment and wait until the archiver has pushed it: everything committed so far is
    then in the archive. Returns the segment's name."""
    with _connect(target, "postgres") as conn:
        lsn = conn.execute("SELECT pg_switch_wal()").fetchone()[0]
        walfile = conn.execute("SELECT pg_walfile_name(%s)", [lsn]).fetchone()[0]
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            last = conn.execute("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").fetchone()[0]
            if len(last) == 24 and last >= walfile:
                return walfile
            time.sleep(0.2)
    raise PitrError(f"WAL segment {walfile} was not archived within {deadline:.0f} s: is archiving failing?")


def _connect(target: DatabaseTarget, dbname: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(
        dbname=dbname,
        host=target.host or None,
        port=target.port or None,
        user=target.user or None,
        password=target.password or None,
        connect_timeout=5,
        autocommit=True,
        application_name="tillhouse-pitr",
        **kwargs,
    )


def cluster_answers(target: DatabaseTarget) -> bool:
    try:
        with _connect(target, "postgres") as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


# -- stopping and starting the cluster -----------------------------------------------------------------------
def _pg_ctl(*args: str, pg_path: str = "") -> list[str]:
    return _as_owner(
        [str(Path(settings.PITR_PG_BIN_DIR) / "pg_ctl"), "-D", pg_path or settings.PGBACKREST_PG1_PATH, *args]
    )


def _shell(command: str, what: str, timeout: float) -> None:
    env = child_env()
    # The operator's own configured command (PITR_STOP_COMMAND / PITR_START_COMMAND), a shell line by design.
    out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout, check=False, env=env)  # noqa: S602
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines() or [f"exit status {out.returncode}"]
        raise PitrError(f"{what} failed: {detail[-1]}")


def _check(argv: list[str], what: str, timeout: float) -> None:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd="/", env=child_env())
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines() or [f"exit status {out.returncode}"]
        raise PitrError(f"{what} failed: {detail[-1]}")


def server_log(pg_path: str = "") -> Path:
    return config_path().parent / "log" / f"postgresql-{Path(pg_path or settings.PGBACKREST_PG1_PATH).name}.log"


def stop_cluster() -> None:
    """Stop the cluster (fast: sessions are ended, a clean shutdown checkpoint is written)."""
    if settings.PITR_STOP_COMMAND:
        _shell(settings.PITR_STOP_COMMAND, "Stopping PostgreSQL", 600)
        return
    pid_file = Path(settings.PGBACKREST_PG1_PATH) / "postmaster.pid"
    if pid_file.exists():
        _check(_pg_ctl("stop", "-m", "fast", "-w", "-t", "300"), "Stopping PostgreSQL", 330)


def start_cluster(*, pg_path: str = "", options: str = "") -> None:
    if settings.PITR_START_COMMAND and not pg_path:
        _shell(settings.PITR_START_COMMAND, "Starting PostgreSQL", 600)
        return
    argv = _pg_ctl("start", "-w", "-t", "600", "-l", str(server_log(pg_path)), pg_path=pg_path)
    if options:
        argv += ["-o", options]
    try:
        _check(argv, "Starting PostgreSQL", 630)
    except PitrError as exc:
        raise PitrError(f"{exc.message} — {_log_tail(pg_path)}") from None


def stop_scratch(pg_path: str) -> None:
    if (Path(pg_path) / "postmaster.pid").exists():
        subprocess.run(_pg_ctl("stop", "-m", "immediate", "-w", pg_path=pg_path), capture_output=True, check=False)


def _log_tail(pg_path: str = "") -> str:
    try:
        lines = [line for line in server_log(pg_path).read_text().splitlines() if "FATAL" in line or "ERROR" in line]
    except OSError:
        return "no server log"
    return lines[-1].strip() if lines else "see the server log"


def append_setting(name: str, value: str, *, pg_path: str = "") -> None:
    """Add a line to the restored cluster's postgresql.auto.conf before its first start (as its owner)."""
    path = Path(pg_path or settings.PGBACKREST_PG1_PATH) / "postgresql.auto.conf"
    line = f"{name} = '{value}'  # set by the Tillhouse restore until it has checked the cluster\n"
    _check(
        _as_owner(["sh", "-c", f"printf %s {shlex.quote(line)} >> {shlex.quote(str(path))}"]),
        "postgresql.auto.conf",
        30,
    )


def wait_for_recovery(
    target: DatabaseTarget, *, timeout: float | None = None, pg_path: str = "", local: bool = True
) -> None:
    """Wait until the started cluster has replayed the archive and been promoted (no longer in recovery). `local`:
    its data directory is on this machine, so a server that stopped is seen at once (not in compose's app
    containers: there only the timeout ends the wait)."""
    timeout = timeout or settings.PITR_RECOVERY_TIMEOUT
    end = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < end:
        try:
            with _connect(target, "postgres", options="-c default_transaction_read_only=off") as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return
        except psycopg.OperationalError as exc:
            last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            pid_file = Path(pg_path or settings.PGBACKREST_PG1_PATH) / "postmaster.pid"
            if local and not settings.PITR_START_COMMAND and not pid_file.exists():
                raise PitrError(f"PostgreSQL stopped during recovery: {_log_tail(pg_path)}") from None
        time.sleep(0.5)
    raise PitrError(f"Recovery did not finish within {timeout:.0f} s ({last_error or 'still replaying'}).")


# -- the archive a restore needs ------------------------------------------------------------------------------
# Before a restore stops the cluster, the segments from the chosen backup's start up to the target are looked up in
# the repository (`pgbackrest repo-ls`) and fetched (`pgbackrest archive-get`, which decrypts and decompresses
# them) into a scratch directory, each compared with the SHA-1 pgBackRest names it by; a time target's walk ends
# at the first segment holding a commit after the instant (`pg_waldump`). A gap or a damaged segment is refused
# while the old cluster still runs: PostgreSQL's recovery would stop at it after the data directory was rewritten.
_SEGMENT_FILE = re.compile(r"(?:^|/)([0-9A-F]{24})-([0-9a-f]{40})(?:\.[a-z0-9]+)?$")
_COMMIT = re.compile(r"desc: COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC")
SEGMENTS_PER_LOG = 0x100000000 // WAL_SEGMENT_BYTES


class ArchiveIncomplete(PitrError):
    def __init__(self, message: str, segment: str):
        super().__init__(message, code="archive_incomplete")
        self.segment = segment


def _position(name: str) -> int:
    return int(name[8:16], 16) * SEGMENTS_PER_LOG + int(name[16:24], 16)


def _segment_name(timeline: int, position: int) -> str:
    return f"{timeline:08X}{position // SEGMENTS_PER_LOG:08X}{position % SEGMENTS_PER_LOG:08X}"


def backup_for(entry: dict, to: datetime | None) -> dict | None:
    """The backup pgBackRest restores from for `to`: the newest one that ended before it (None: the newest)."""
    backups = entry.get("backup", [])
    if to is not None:
        backups = [b for b in backups if b["timestamp"]["stop"] < to.timestamp()]
    return backups[-1] if backups else None


def archived_segments(entry: dict, backup: dict) -> dict[int, list[tuple[str, str]]]:
    """{position: [(segment, sha1) of the highest timeline there]} in every repository, for the backup's archive
    (`pgbackrest repo-ls`); a position with two files is returned with both."""
    db_id = (backup.get("database") or {}).get("id")
    archive_id = next((a["id"] for a in entry.get("archive", []) if (a.get("database") or {}).get("id") == db_id), None)
    if archive_id is None:
        raise PitrError(f"pgBackRest lists no archive for backup {backup.get('label')}.")
    files: dict[tuple[int, int], set[tuple[str, str]]] = {}
    for repo in repositories():
        out = run(
            "repo-ls",
            f"--repo={repo}",
            "--recurse",
            "--output=json",
            params=(f"archive/{settings.PGBACKREST_STANZA}/{archive_id}",),
            timeout=300,
        )
        listing = json.loads(out[out.index("{") :] if "{" in out else "{}")
        for path, item in listing.items():
            match = _SEGMENT_FILE.search(path)
            if match and item.get("type") == "file":
                name, sha1 = match.groups()
                files.setdefault((_position(name), int(name[:8], 16)), set()).add((name, sha1))
    by_position: dict[int, list[tuple[str, str]]] = {}
    for (position, _timeline), found in sorted(files.items()):
        by_position[position] = sorted(found)  # a higher timeline, later in the sort, replaces a lower one
    return by_position


def _fetch(segment: str, sha1: str, workdir: Path) -> Path:
    """The segment from the repository into `workdir` (decrypted, decompressed), checked against its SHA-1."""
    path = workdir / segment
    path.unlink(missing_ok=True)
    try:
        run("archive-get", "--archive-missing-retry=n", params=(segment, str(path)), timeout=600)
    except PitrError as exc:
        detail = exc.message.split("ERROR: ", 1)[-1]
        raise ArchiveIncomplete(
            f"WAL segment {segment} is corrupt in the repository (pgbackrest archive-get could not read it back: "
            f"{detail})",
            segment,
        ) from None
    if not path.exists():
        raise ArchiveIncomplete(f"WAL segment {segment} is missing from the repository", segment)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324 - pgBackRest's own checksum of the segment
    if digest != sha1:
        raise ArchiveIncomplete(
            f"WAL segment {segment} is corrupt in the repository (its SHA-1 is {digest}, pgBackRest stored {sha1})",
            segment,
        )
    return path


def last_commit(path: Path) -> datetime | None:
    """The newest commit time in one WAL segment (`pg_waldump`; it stops with an error at the segment's end)."""
    argv = _as_owner([str(Path(settings.PITR_PG_BIN_DIR) / "pg_waldump"), str(path)])
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, cwd="/", env={**child_env(), "TZ": "UTC"}
    )
    times = [datetime.fromisoformat(m).replace(tzinfo=UTC) for m in _COMMIT.findall(out.stdout)]
    return max(times) if times else None


def check_archive(entry: dict, *, to: datetime | None, newest: str = "") -> dict:
    """Every WAL segment from the backup a restore to `to` uses up to the target is in the repository once and
    intact: for `latest`, up to `newest` (the segment just archived) or the newest listed; for an instant, up to
    the first segment holding a commit after it. Raises ArchiveIncomplete naming the first bad segment and the
    time the archive reaches; returns {"backup", "from", "to", "segments"} checked."""
    backup = backup_for(entry, to)
    if backup is None:
        raise PitrError("pgBackRest has no backup that ended before the target.")
    start = backup["archive"]["start"]
    by_position = archived_segments(entry, backup)
    last = _position(newest) if newest else max(by_position, default=_position(start))
    workdir = config_path().parent / f"wal-check-{os.getpid()}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, mode=0o700)
    owner = _owner()
    if owner:
        os.chown(workdir, *owner)
    previous: Path | None = None
    checked = 0
    try:
        for position in range(_position(start), last + 1):
            found = by_position.get(position) or []
            top = [f for f in found if f[0][:8] == found[-1][0][:8]] if found else []
            try:
                if not top:
                    name = _segment_name(int((previous.name if previous else start)[:8], 16), position)
                    raise ArchiveIncomplete(f"WAL segment {name} is missing from the repository", name)
                if len(top) > 1:
                    raise ArchiveIncomplete(
                        f"WAL segment {top[0][0]} is in the repository twice, with different contents", top[0][0]
                    )
                path = _fetch(*top[0], workdir)
            except ArchiveIncomplete as exc:
                raise ArchiveIncomplete(f"{exc.message}: {_reach(previous, backup)}", exc.segment) from None
            checked += 1
            if previous is not None:
                previous.unlink(missing_ok=True)
            previous = path
            if to is not None:
                commit = last_commit(path)
                if commit is not None and commit > to:
                    break
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"backup": backup.get("label"), "from": start, "to": previous.name if previous else "", "segments": checked}


def _reach(previous: Path | None, backup: dict) -> str:
    """How far the archive reaches before a bad segment, and how that is known."""
    if previous is None:
        return f"no instant can be restored from backup {backup.get('label')}, whose own WAL starts there"
    commit = last_commit(previous)
    if commit is not None:
        return (
            f"the archive reaches {commit:%Y-%m-%d %H:%M:%S} UTC (the last commit in segment {previous.name}, "
            "read with pg_waldump)"
        )
    stop = datetime.fromtimestamp(backup["timestamp"]["stop"], tz=UTC)
    return f"the archive reaches {stop:%Y-%m-%d %H:%M:%S} UTC at most (the end of backup {backup.get('label')})"
