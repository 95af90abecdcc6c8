"""Point-in-time recovery as the product does it (DESIGN.md §7): pgBackRest backups on the beat schedule, a restore
of the cluster to any second (or to everything archived) with the same guarantees as a dump restore, and the
nightly drill that restores "an hour ago" into a scratch cluster and checks it receipt by receipt.

Every backup, restore and drill is a `PitrRun` row; a failure alerts.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg import sql

from core.errors import DomainError
from ops import maintenance
from ops.backups import catalogue, pitr, restoring, schedule, services
from ops.backups.engines import BackupError, DatabaseTarget, PostgresEngine
from ops.models import BackupRecord, PitrRun

logger = logging.getLogger("tillhouse.backups")

LATEST = "latest"


def _require_enabled() -> DatabaseTarget:
    if not settings.PITR_ENABLED:
        raise services.RestoreRefused(
            "Point-in-time recovery is not configured here (PITR_ENABLED is off): this installation has the "
            "nightly dumps only (docs/RUNBOOK.md)."
        )
    target = DatabaseTarget.from_settings()
    if target.engine != "postgresql":
        raise services.RestoreRefused("Point-in-time recovery needs PostgreSQL; the embedded SQLite has dumps only.")
    return target


@contextmanager
def pitr_lock():
    """One pgBackRest backup, restore or drill at a time on this machine (a lock file beside the configuration:
    unlike the advisory locks of the dump backups, it outlives the cluster being stopped)."""
    path = pitr.config_path().parent / ".pitr.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise services.BackupInProgress() from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def parse_target(text: str) -> datetime | None:
    """`latest` → None; "2026-12-07 14:03:00" (local time, TIME_ZONE) or an ISO time with its offset → aware."""
    text = text.strip()
    if text.lower() == LATEST:
        return None
    parsed = parse_datetime(text.replace("T", " ", 1))
    if parsed is None:
        raise services.RestoreRefused(f"{text!r} is neither 'latest' nor a time such as \"2026-12-07 14:03:00\".")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=schedule.local_zone())
    return parsed


# -- backups -------------------------------------------------------------------------------------------------
def setup() -> str:
    """Write the configuration and create the stanza (idempotent); returns the configuration's path."""
    path = pitr.write_config()
    pitr.stanza_create()
    return str(path)


def run_backup(kind: str, *, triggered_by=None) -> PitrRun:
    """A full or differential pgBackRest backup to every repository (retention applies itself afterwards)."""
    _require_enabled()
    run = PitrRun.objects.create(kind=kind, triggered_by=triggered_by)
    try:
        with pitr_lock():
            entry = pitr.backup(kind)
        run.label = entry.get("label", "")
        run.details = {
            "type": entry.get("type"),
            "bytes": (entry.get("info") or {}).get("size"),
            "repo_bytes": ((entry.get("info") or {}).get("repository") or {}).get("delta"),
            "wal_start": (entry.get("archive") or {}).get("start"),
            "wal_stop": (entry.get("archive") or {}).get("stop"),
        }
        run.status = PitrRun.Status.SUCCEEDED
    except DomainError as exc:
        run.status, run.error = PitrRun.Status.FAILED, exc.message
    run.finished_at = timezone.now()
    run.duration_seconds = (run.finished_at - run.started_at).total_seconds()
    run.save()
    if run.status == PitrRun.Status.FAILED:
        services._alert("pitr.backup_failed", f"pgBackRest {kind} backup failed: {run.error}", run_id=run.pk)
    return run


def backup_kind_due(now: datetime) -> str:
    """`full` on PITR_FULL_WEEKDAY (local) or when no full backup succeeded in the last 7 days; `diff` otherwise."""
    local = now.astimezone(schedule.local_zone())
    recent_full = PitrRun.objects.filter(
        kind=PitrRun.Kind.FULL, status=PitrRun.Status.SUCCEEDED, started_at__gte=now - timedelta(days=7)
    ).exists()
    return PitrRun.Kind.FULL if local.weekday() == settings.PITR_FULL_WEEKDAY or not recent_full else PitrRun.Kind.DIFF


def run_backup_if_due(*, now: datetime | None = None) -> PitrRun | None:
    now = now or timezone.now()
    last = PitrRun.objects.filter(kind__in=[PitrRun.Kind.FULL, PitrRun.Kind.DIFF]).order_by("-started_at").first()
    if not schedule.is_due(schedule.parse_local_time(settings.PITR_BACKUP_AT), last and last.started_at, now=now):
        return None
    return run_backup(backup_kind_due(now))


# -- restore -------------------------------------------------------------------------------------------------
@dataclass
class PitrSummary:
    target: str
    target_time: datetime | None
    database: str
    safety_backup: str
    timings: dict[str, float]
    counts: dict[str, list] = field(default_factory=dict)
    numbers_continued: list[str] = field(default_factory=list)
    migrations_applied: str = ""
    run_id: int | None = None


@dataclass
class RestorePlan:
    """What the first step of a point-in-time restore left for the last one: the instant, the numbers issued (read
    after writes stopped), the safety copy. On one machine it stays in memory; with compose it is the file
    `plan_path()` on the backup volume between `restore --step prepare` (app container), the pgBackRest restore (db
    container) and `restore --step finish` (app container)."""

    to: str
    label: str
    when: datetime | None
    started_at: datetime
    reason: str
    issued: dict[int, dict[str, int]] = field(default_factory=dict)
    live: bool = False
    safety_backup: str = ""
    safety_counts: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    archived_to: str = ""  # the WAL segment switched and archived once writes stopped ("" if none was)

    def as_json(self) -> dict:
        return {
            "to": self.to,
            "label": self.label,
            "when": self.when.isoformat() if self.when else None,
            "started_at": self.started_at.isoformat(),
            "reason": self.reason,
            "issued": {str(rid): numbers for rid, numbers in self.issued.items()},
            "live": self.live,
            "safety_backup": self.safety_backup,
            "safety_counts": self.safety_counts,
            "timings": self.timings,
            "archived_to": self.archived_to,
            "pgbackrest_restore_options": pitr.restore_options(to=self.when),
        }

    @classmethod
    def from_json(cls, data: dict) -> RestorePlan:
        return cls(
            to=data["to"],
            label=data["label"],
            when=datetime.fromisoformat(data["when"]) if data.get("when") else None,
            started_at=datetime.fromisoformat(data["started_at"]),
            reason=data["reason"],
            issued=restoring.numbers_in_manifest({"issued_numbers": data.get("issued") or {}}),
            live=bool(data.get("live")),
            safety_backup=data.get("safety_backup") or "",
            safety_counts=data.get("safety_counts") or {},
            timings=data.get("timings") or {},
            archived_to=data.get("archived_to") or "",
        )


def plan_path() -> Path:
    return pitr.config_path().parent / "restore-plan.json"


def read_plan() -> RestorePlan:
    try:
        return RestorePlan.from_json(json.loads(plan_path().read_text()))
    except FileNotFoundError:
        raise services.RestoreRefused(
            "No point-in-time restore is under way here: start one with `restore --to <time>|latest --step prepare`."
        ) from None


def restore_to(
    to: str, *, confirmed: bool = False, migrate: bool = True, triggered_by=None, progress=None
) -> PitrSummary:
    """Restore the whole cluster as of the instant `to` (local time unless it carries an offset), or everything
    archived (`latest`), with a dump restore's guarantees, on the machine that holds the cluster.

    The three steps, which compose runs in different containers (`prepare_step`, the db container's pgBackRest
    restore, `finish_step`): `_prepare` refuses a time in the future or before the oldest backup kept, and a live
    non-empty database unless confirmed; with the cluster up it enters maintenance (flag and read-only barrier,
    other sessions ended), takes the pre-restore safety dump, notes the numbers issued and archives the current WAL
    segment. `_check_archive` (one machine only: it needs pgBackRest and pg_waldump here) refuses, before anything
    is stopped, when a WAL segment between the backup's start and the target is missing from the repository or
    corrupt, with maintenance off again. `_rewind` stops the cluster, `pgbackrest restore --delta` rewinds it, it
    starts read-only, replays to `to` and is promoted. `_finish` puts the maintenance barrier back on the restored
    cluster, applies migrations, moves counters above every number issued (audited), checks the restored database
    (schema, smoke queries, no receipt issued after `to`), records the run and leaves maintenance. With the cluster
    gone (crashed, data lost) the same without the safety copy or the archive check. A failure after the cluster
    was rewritten leaves maintenance on, alerts and raises PitrError naming the safety copy.
    """
    with pitr_lock():
        plan, target, engine = _prepare(to, confirmed=confirmed, triggered_by=triggered_by)
        _check_archive(plan, target, engine, triggered_by=triggered_by)
        _stop(plan, target, engine)
        try:
            _rewind(plan)
            summary = _finish(plan, target, engine, migrate=migrate, triggered_by=triggered_by, local=True)
        except Exception as exc:
            raise _failed(plan, exc) from None
    connections.close_all()
    return summary


def prepare_step(to: str, *, confirmed: bool = False, pgbackrest_info: dict | None = None, triggered_by=None):
    """compose's first step, in an app container: `_prepare`, its plan written to `plan_path()` (maintenance stays
    on). pgBackRest runs in the db container, so the caller hands in its `info --output=json` (None: pgBackRest is
    run here). Refused while a plan exists: a restore is under way, or was cut short (`abort_step`)."""
    path = plan_path()
    if path.exists():
        raise services.RestoreRefused(
            f"A point-in-time restore is already under way ({path}): finish it (`restore --step finish`) or, if the "
            "cluster was not rewritten, abort it (`restore --step abort`)."
        )
    plan, _, _ = _prepare(to, confirmed=confirmed, triggered_by=triggered_by, info=pgbackrest_info)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(plan.as_json(), indent=2))
    tmp.replace(path)
    return plan


def finish_step(*, migrate: bool = True, triggered_by=None) -> PitrSummary:
    """compose's last step, in an app container once the db container runs the rewound cluster: `_finish` (waits
    for the recovery over SQL), then the plan is removed."""
    plan = read_plan()
    target = _require_enabled()
    try:
        summary = _finish(plan, target, PostgresEngine(target), migrate=migrate, triggered_by=triggered_by, local=False)
    except Exception as exc:
        raise _failed(plan, exc) from None
    plan_path().unlink(missing_ok=True)
    connections.close_all()
    return summary


def abort_step() -> RestorePlan:
    """compose, when the pgBackRest restore refused before rewriting anything: maintenance off, the plan removed."""
    plan = read_plan()
    target = _require_enabled()
    if plan.live:
        _leave(target, PostgresEngine(target), restoring._flag_db(target))
    plan_path().unlink()
    return plan


def _prepare(to: str, *, confirmed: bool, triggered_by=None, info: dict | None = None):
    target = _require_enabled()
    engine = PostgresEngine(target)
    when = parse_target(to)
    label = LATEST if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    now = timezone.now()
    if when is not None and when > now:
        raise services.RestoreRefused(f"{label} is in the future: nothing is archived after now.")
    oldest = pitr.oldest_restorable(pitr.info() if info is None else info)
    if oldest is None:
        raise services.RestoreRefused("pgBackRest has no backup yet: take one (manage.py pitr backup --type full).")
    if when is not None and when < oldest:
        raise services.RestoreRefused(f"{label} is before the oldest backup kept ({oldest:%Y-%m-%d %H:%M:%S} UTC).")
    live = pitr.cluster_answers(target)
    if not confirmed and (not live or not engine.is_empty(target.name)):
        what = "does not answer" if not live else "is not empty"
        raise services.RestoreRefused(
            f"The database {target.name} {what}: restoring to a point in time replaces the whole cluster. "
            "Confirm interactively or pass --yes."
        )
    plan = RestorePlan(
        to=to,
        label=label,
        when=when,
        started_at=now,
        reason=f"point-in-time restore to {label} started {now:%H:%M} UTC",
        issued=restoring.highest(*(restoring.numbers_in_manifest(e.manifest) for e in _catalogue_entries())),
        live=live,
    )
    if live:
        safety, plan.issued, plan.archived_to = _stop_writes_and_keep(
            target, engine, plan.reason, plan.issued, triggered_by, plan.timings
        )
        if safety is not None:
            plan.safety_backup, plan.safety_counts = safety.name, safety.row_counts or {}
    return plan, target, engine


def _check_archive(plan: RestorePlan, target: DatabaseTarget, engine: PostgresEngine, *, triggered_by=None) -> None:
    """Before anything is stopped: every WAL segment from the backup pgBackRest will use up to the target is in the
    repository once and intact (`pitr.check_archive`). Otherwise the restore is refused with the cluster as it was:
    maintenance off again, the refused run recorded, an alert. Only on a live cluster whose current segment was just
    archived: with the cluster gone there is nothing left to keep, and a cluster made afresh is another system."""
    if not plan.live or not plan.archived_to:
        return
    mark = time.monotonic()
    try:
        checked = pitr.check_archive(pitr.info(), to=plan.when, newest=plan.archived_to)
        plan.timings["archive_check"] = time.monotonic() - mark
        logger.info("archive checked before the restore to %s: %s", plan.label, checked)
        return
    except pitr.ArchiveIncomplete as exc:
        why = f"{exc.message}, short of {plan.label}"
    except DomainError as exc:
        why = f"The WAL archive could not be checked before the restore to {plan.label}: {exc.message}"
    except Exception as exc:
        logger.exception("the WAL archive check failed")
        why = f"The WAL archive could not be checked before the restore to {plan.label}: {exc}"
    _leave(target, engine, restoring._flag_db(target))
    connections.close_all()  # sessions opened in maintenance are read-only
    error = (
        f"{why}. Point-in-time restore refused: nothing was stopped or rewritten, the database runs as before and "
        "maintenance is off again."
    )
    run = PitrRun.objects.create(
        kind=PitrRun.Kind.RESTORE,
        status=PitrRun.Status.FAILED,
        started_at=plan.started_at,
        finished_at=timezone.now(),
        target=plan.to[:64],
        target_time=plan.when,
        safety_backup=plan.safety_backup,
        details={"refused_before_rewrite": True, "timings": plan.timings},
        error=error,
        triggered_by_id=getattr(triggered_by, "pk", None),
    )
    services._alert("pitr.restore_failed", error, run_id=run.pk)
    raise services.RestoreRefused(error)


def _stop(plan: RestorePlan, target: DatabaseTarget, engine: PostgresEngine) -> None:
    """Stop the cluster; a failure leaves everything as it was (maintenance off again)."""
    try:
        mark = time.monotonic()
        connections.close_all()
        pitr.stop_cluster()
        plan.timings["stop"] = time.monotonic() - mark
    except Exception:
        if plan.live:
            _leave(target, engine, restoring._flag_db(target))
        raise


def _rewind(plan: RestorePlan) -> None:
    """On the machine holding the data directory: pgBackRest's restore, the cluster started read-only for everyone
    (compose: the db container's `pitr-restore`, then its start)."""
    mark = time.monotonic()
    pitr.restore(to=plan.when)
    pitr.append_setting("default_transaction_read_only", "on")
    plan.timings["pgbackrest_restore"] = time.monotonic() - mark
    mark = time.monotonic()
    pitr.start_cluster()
    plan.timings["start"] = time.monotonic() - mark


def _finish(
    plan: RestorePlan, target: DatabaseTarget, engine: PostgresEngine, *, migrate: bool, triggered_by, local: bool
) -> PitrSummary:
    mark = time.monotonic()
    pitr.wait_for_recovery(target, local=local)
    plan.timings["recovery"] = time.monotonic() - mark
    _barrier_on_restored(target, engine, plan.reason)
    applied = ""
    if migrate:
        mark = time.monotonic()
        applied = services._migrate(target, writable=True)
        plan.timings["migrate"] = time.monotonic() - mark
    mark = time.monotonic()
    # the numbers noted when writes stopped, and every manifest (the safety copy's among them)
    issued = restoring.highest(plan.issued, *(restoring.numbers_in_manifest(e.manifest) for e in _catalogue_entries()))
    jumps = restoring.continue_counters(
        target, issued, backup=f"point in time {plan.label}", actor_id=getattr(triggered_by, "pk", None)
    )
    counts = _check_restored(engine, target, plan.when, plan.safety_counts)
    plan.timings["checks"] = time.monotonic() - mark
    plan.timings["total"] = (timezone.now() - plan.started_at).total_seconds()
    connections.close_all()
    restoring._own_pids(target)  # this process's new session may write through the barrier
    _sync_records()
    run = PitrRun.objects.create(
        kind=PitrRun.Kind.RESTORE,
        status=PitrRun.Status.SUCCEEDED,
        started_at=plan.started_at,
        finished_at=timezone.now(),
        target=plan.to[:64],
        target_time=plan.when,
        duration_seconds=plan.timings["total"],
        safety_backup=plan.safety_backup,
        details={"timings": plan.timings, "counts": counts, "numbers_continued": [j.note for j in jumps]},
        triggered_by_id=getattr(triggered_by, "pk", None),
    )
    _leave(target, engine, restoring._flag_db(target))
    connections.close_all()
    logger.warning("point-in-time restore of %s to %s done in %.1fs", target.name, plan.label, plan.timings["total"])
    return PitrSummary(
        target=plan.label,
        target_time=plan.when,
        database=target.name,
        safety_backup=plan.safety_backup,
        timings=plan.timings,
        counts=counts,
        numbers_continued=[j.note for j in jumps],
        migrations_applied=applied,
        run_id=run.pk,
    )


def _failed(plan: RestorePlan, exc: Exception) -> pitr.PitrError:
    message = getattr(exc, "message", "") or str(exc) or exc.__class__.__name__
    kept = f" The safety copy {plan.safety_backup} holds the database as it was." if plan.safety_backup else ""
    error = (
        f"Point-in-time restore to {plan.label} failed after the cluster was rewritten: {message}.{kept} "
        "Maintenance stays on: restore again (another time, or `latest`), or check the database and run "
        "`manage.py maintenance off`."
    )
    services._alert("pitr.restore_failed", error)
    return pitr.PitrError(error)


def _sync_records() -> None:
    """The restored database learns of the dumps taken since the instant (the safety copy among them)."""
    try:
        services.sync_records_from_storage()
    except OSError:  # no backup storage yet: nothing to learn
        logger.info("no dump backups to record after the point-in-time restore")


def _catalogue_entries():
    try:
        return catalogue.read_catalogue().entries
    except Exception:  # no backup storage yet: no manifest has numbers
        logger.warning("backup catalogue unreadable during a point-in-time restore", exc_info=True)
        return []


def _stop_writes_and_keep(target, engine, reason, issued, triggered_by, timings):
    """Maintenance on the live cluster, the safety dump, the numbers issued, and the current WAL segment archived
    (`latest` needs it, and an instant may lie in it). Refuses while a dump backup or drill runs. Undoes the
    maintenance if any of it fails."""
    mark = time.monotonic()
    flag_db = restoring._flag_db(target)
    with ExitStack() as locks:
        locks.enter_context(services.backup_lock(target))
        locks.enter_context(services.backup_lock(target, purpose="drill"))
        try:
            maintenance.set_flag(target.name, reason, db=flag_db)
        except (psycopg.Error, OSError) as exc:
            raise BackupError(f"Could not enter maintenance mode: {pitr.scrub(str(exc))}") from None
        try:
            keep = restoring._own_pids(target)
            restoring.set_read_only(engine, target.name, True)
            restoring.disconnect_others(engine, target.name, keep)
            timings["maintenance"] = time.monotonic() - mark
            mark = time.monotonic()
            safety = None
            empty = engine.is_empty(target.name)
            if not empty:
                safety = services._run_backup(
                    kind=BackupRecord.Kind.PRE_RESTORE, triggered_by=triggered_by, source=target
                )
                if safety.status != BackupRecord.Status.SUCCEEDED:
                    raise BackupError(f"The pre-restore safety backup failed, nothing was restored: {safety.error}")
                timings["safety_backup"] = time.monotonic() - mark
            issued = restoring.highest(issued, restoring.issued_numbers(target))
            # the segment being written is archived too, for an instant as for `latest`: an instant in it (the
            # last seconds) would otherwise lie beyond the archive and the replay would stop short of it. An empty
            # database (a cluster made afresh on a lost data volume) has nothing to archive, and its segments would
            # not be taken by the stanza (another system)
            archived_to = ""
            if not empty:
                mark = time.monotonic()
                archived_to = pitr.switch_and_wait_archived(target)
                timings["archive_last_wal"] = time.monotonic() - mark
        except Exception:
            _leave(target, engine, flag_db)
            raise
    return safety, issued, archived_to


def _leave(target: DatabaseTarget, engine: PostgresEngine, flag_db: dict) -> None:
    try:
        restoring.set_read_only(engine, target.name, False)
    finally:
        maintenance.clear_flag(target.name, db=flag_db)


def _barrier_on_restored(target: DatabaseTarget, engine: PostgresEngine, reason: str) -> None:
    """The restored cluster came up read-only for every session (postgresql.auto.conf): put the maintenance flag
    and the database's read-only barrier back (the restored `postgres` database is as of the target instant),
    lift the server-wide switch, and end the sessions opened meanwhile."""
    with pitr._connect(target, maintenance.MAINTENANCE_DB, options=restoring.WRITABLE) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS tillhouse_maintenance "
            "(database text PRIMARY KEY, reason text NOT NULL, since timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO tillhouse_maintenance (database, reason) VALUES (%s, %s) "
            "ON CONFLICT (database) DO UPDATE SET reason = EXCLUDED.reason, since = now()",
            [target.name, reason[:500]],
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(sql.Identifier(target.name))
        )
        conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        conn.execute("SELECT pg_reload_conf()")
    restoring.disconnect_others(engine, target.name, [])


def _check_restored(engine: PostgresEngine, target: DatabaseTarget, when: datetime | None, before: dict) -> dict:
    """The restored database is usable (every table and column the code needs, each app's smoke query) and holds
    nothing issued after the target instant. Returns {table: [in the safety copy, restored]} for the sales tables."""
    problems = []
    missing = services.missing_schema(engine.columns(target.name))
    if missing:
        problems.append("missing from the restored database: " + ", ".join(missing[:20]))
    problems += services.smoke_check(engine, target.name)
    if when is not None:
        with pitr._connect(target, target.name) as conn:
            late = conn.execute("SELECT count(*) FROM billing_receipt WHERE issued_at > %s", [when]).fetchone()[0]
        if late:
            problems.append(f"{late} receipt(s) issued after the target instant are in the restored database")
    if problems:
        raise pitr.PitrError("; ".join(problems))
    counts = engine.row_counts(target.name)
    sales_tables = ("billing_receipt", "billing_payment", "orders_order", "orders_orderline", "inventory_stockmove")
    return {t: [before.get(t), counts.get(t)] for t in sales_tables}


# -- the drill -----------------------------------------------------------------------------------------------
COMMIT_MARGIN = timedelta(seconds=5)  # a receipt is stamped when written, committed a moment later


def run_drill(*, at: datetime | None = None) -> PitrRun:
    """Restore the archive as of `at` (now − PITR_DRILL_LOOKBACK_MINUTES) into a scratch cluster on
    PITR_DRILL_PORT, and compare its receipts with the live database's: every receipt issued before the instant
    (less a few seconds for the commit) is there, none issued after it, with the same payments. Records the time to
    that checked cluster as the measured RTO; drops the scratch cluster; alerts on failure."""
    target = _require_enabled()
    now = timezone.now()
    at = at or now - timedelta(minutes=settings.PITR_DRILL_LOOKBACK_MINUTES)
    run = PitrRun.objects.create(kind=PitrRun.Kind.DRILL, target=at.isoformat()[:64], target_time=at)
    scratch_dir = Path(settings.PITR_DRILL_DIR) / f"drill-{run.pk}"
    scratch = DatabaseTarget(
        engine="postgresql",
        name=target.name,
        host="127.0.0.1",
        port=str(settings.PITR_DRILL_PORT),
        user=target.user,
        password=target.password,
    )
    started = time.monotonic()
    try:
        with pitr_lock():
            try:
                _make_scratch_dir(scratch_dir)
                pitr.restore(to=at, pg_path=str(scratch_dir), archive_mode="off")
                pitr.start_cluster(
                    pg_path=str(scratch_dir),
                    options=(
                        f"-c port={settings.PITR_DRILL_PORT} -c listen_addresses=127.0.0.1 "
                        f"-c unix_socket_directories={scratch_dir} -c archive_mode=off"
                    ),
                )
                pitr.wait_for_recovery(scratch, pg_path=str(scratch_dir))
                restored = _receipts(scratch)
                run.duration_seconds = time.monotonic() - started
            finally:
                pitr.stop_scratch(str(scratch_dir))
                shutil.rmtree(scratch_dir, ignore_errors=True)
        live = _receipts(target)
        problems, figures = compare_receipts(live, restored, at)
        run.details = figures
        run.status = PitrRun.Status.FAILED if problems else PitrRun.Status.SUCCEEDED
        run.error = "; ".join(problems)
    except DomainError as exc:
        run.status, run.error = PitrRun.Status.FAILED, exc.message
    except Exception as exc:
        run.status, run.error = PitrRun.Status.FAILED, str(exc) or exc.__class__.__name__
        logger.exception("unexpected error in PITR drill %s", run.pk)
    run.finished_at = timezone.now()
    run.save()
    if run.status == PitrRun.Status.FAILED:
        services._alert("pitr.drill_failed", f"PITR drill {run.pk} failed: {run.error}", run_id=run.pk)
    return run


def _make_scratch_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    owner = pitr._owner()
    if owner:
        import os

        os.chown(path.parent, *owner)
        os.chown(path, *owner)


def _receipts(target: DatabaseTarget) -> dict[tuple[int, int], tuple[datetime, str]]:
    """{(register, number): (issued at, payments of its order)} for every sale receipt."""
    with pitr._connect(target, target.name) as conn:
        rows = conn.execute(
            "SELECT r.register_id, r.number, r.issued_at, "
            "(SELECT coalesce(sum(p.amount), 0) FROM billing_payment p WHERE p.order_id = r.order_id) "
            "FROM billing_receipt r WHERE r.kind = 'sale'"
        ).fetchall()
    return {(rid, number): (issued, str(paid)) for rid, number, issued, paid in rows}


def compare_receipts(live: dict, restored: dict, at: datetime) -> tuple[list[str], dict]:
    """Problems (sentences) and figures of a drill: receipts issued before `at − COMMIT_MARGIN` must all be in
    the restored copy with the same payments, none issued after `at` may be."""
    expected = {key for key, (issued, _) in live.items() if issued <= at - COMMIT_MARGIN}
    missing = sorted(expected - set(restored))
    late = sorted(key for key, (issued, _) in restored.items() if issued > at)
    unknown = sorted(set(restored) - set(live))
    differ = sorted(key for key in expected & set(restored) if live[key][1] != restored[key][1])
    problems = []
    if missing:
        problems.append(f"{len(missing)} receipt(s) issued before the instant are missing, first {missing[0]}")
    if late:
        problems.append(f"{len(late)} receipt(s) issued after the instant are present, first {late[0]}")
    if differ:
        problems.append(f"{len(differ)} receipt(s) have other payments than the live database's, first {differ[0]}")
    figures = {
        "receipts_expected": len(expected),
        "receipts_restored": len(restored),
        "missing": len(missing),
        "after_instant": len(late),
        "not_in_live": len(unknown),
        "payments_differ": len(differ),
    }
    return problems, figures


def run_drill_if_due(*, now: datetime | None = None) -> PitrRun | None:
    now = now or timezone.now()
    last = PitrRun.objects.filter(kind=PitrRun.Kind.DRILL).order_by("-started_at").first()
    if not schedule.is_due(schedule.parse_local_time(settings.PITR_DRILL_AT), last and last.started_at, now=now):
        return None
    return run_drill()


# -- what /health, /metrics and the backups page show --------------------------------------------------------
def latest_runs() -> dict[str, PitrRun | None]:
    done = PitrRun.objects.exclude(status=PitrRun.Status.RUNNING)
    return {
        kind: done.filter(kind=kind).order_by("-started_at").first()
        for kind in (PitrRun.Kind.FULL, PitrRun.Kind.DIFF, PitrRun.Kind.DRILL, PitrRun.Kind.RESTORE)
    }


def pitr_drill_times() -> dict[str, float]:
    """{"succeeded": when the newest passing drill started, "failed": the newest failing one} (unix seconds)."""
    from django.db.models import Max

    rows = PitrRun.objects.filter(kind=PitrRun.Kind.DRILL).values("status").annotate(last=Max("started_at"))
    return {row["status"]: row["last"].timestamp() for row in rows if row["last"]}


def pitr_overview() -> dict:
    """What the backups page shows of point-in-time recovery."""
    if not settings.PITR_ENABLED:
        return {"enabled": False}
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            archive = pitr.archive_status(cursor)
    except DatabaseError:
        archive = None
    runs = latest_runs()
    return {
        "enabled": True,
        "archive": archive,
        "lag_status": (
            "red"
            if archive is None or archive.failing or archive.lag_seconds > settings.PITR_MAX_LAG_SECONDS
            else "amber"
            if archive.lag_seconds > settings.PITR_RPO_SECONDS
            else "green"
        ),
        "watch_only": settings.PITR_WATCH_ONLY,
        "backups_here": pitr.backups_here(),
        "forced_switches": pitr.forced_switches()[0],
        "rpo_seconds": settings.PITR_RPO_SECONDS,
        "retention_days": settings.PGBACKREST_RETENTION_DAYS,
        "runs": [
            (label, run)
            for label, run, shown in (
                ("full backup", runs["full"], pitr.backups_here()),
                ("differential backup", runs["diff"], pitr.backups_here()),
                ("PITR drill", runs["drill"], not settings.PITR_WATCH_ONLY),
                ("point-in-time restore", runs["restore"], True),
            )
            if shown
        ],
    }
