"""Health checks for probes, load balancers and the on-call person.

Each check is a plain function returning one or more `Observation`s. `run_checks` runs them concurrently, each in
its own daemon thread with a hard timeout, so a check that hangs (a database behind a dead network, a broker that
accepts and never answers) cannot make the endpoint hang: after its timeout it is reported as failed and the thread
is left to finish on its own. A check whose previous run is still stuck is not started again, so probes cannot pile
threads up.

Readiness (the database only) is computed for each probe. The full report, whose checks are slow (Celery's ping
waits its whole timeout), lives in one place: the cache, under REPORT_KEY, shared by every process. Whichever probe
finds it older than HEALTH_CACHE_SECONDS takes a lock and computes it; the others serve the previous one meanwhile
(see `full_report`). With the cache down, each probe computes its own report, in which the cache check fails.

Bodies follow the health+json draft (`status` pass | warn | fail, `checks` keyed `component:measurement`) and
carry no hostnames, connection strings or exception messages: only exception class names.
"""

import contextlib
import datetime as dt
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

PASS, WARN, FAIL = "pass", "warn", "fail"
_SEVERITY = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass
class Observation:
    key: str  # "component:measurement"
    status: str
    value: object = None
    unit: str | None = None
    component_type: str | None = None
    output: str = ""
    time: str = field(default_factory=lambda: _now_iso())

    def as_json(self) -> dict:
        entry = {"status": self.status, "time": self.time}
        if self.component_type:
            entry["componentType"] = self.component_type
        if self.value is not None:
            entry["observedValue"] = self.value
        if self.unit:
            entry["observedUnit"] = self.unit
        if self.output:
            entry["output"] = self.output
        return entry


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], list[Observation]]
    timeout: float
    # What to report when the check fails or times out: the keys it would have produced.
    keys: tuple[str, ...]
    component_type: str | None = None


def _now_iso() -> str:
    return dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def worst(statuses) -> str:
    return max(statuses, key=_SEVERITY.__getitem__, default=PASS)


# --- The checks -------------------------------------------------------------------------------------------------


def _in_own_connection(function):
    """Run `function(connection)` on this thread's own connection and close it afterwards.

    Checks run in short-lived threads: a connection left open there would outlive the thread.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        return function(connection)
    finally:
        connection.close()


def check_database() -> list[Observation]:
    def probe(connection):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET statement_timeout = %s", [int(settings.HEALTH_CHECK_TIMEOUT * 1000)])
            cursor.execute("SELECT 1")
            cursor.fetchone()
            latency = time.perf_counter() - started
            observations = [
                Observation("database:responseTime", _latency_status(latency), _ms(latency), "ms", "datastore")
            ]
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT count(*), current_setting('max_connections')::int FROM pg_stat_activity "
                    "WHERE datname = current_database()"
                )
                in_use, limit = cursor.fetchone()
                status = WARN if in_use >= limit * settings.HEALTH_DB_CONNECTIONS_WARN_RATIO else PASS
                observations.append(
                    Observation(
                        "database:connections",
                        status,
                        in_use,
                        "connections",
                        "datastore",
                        output=f"{in_use} of {limit} in use" if status != PASS else "",
                    )
                )
        return observations

    return _in_own_connection(probe)


def _latency_status(seconds: float) -> str:
    return WARN if seconds * 1000 > settings.HEALTH_SLOW_MS else PASS


_migrations_applied = False


def check_migrations() -> list[Observation]:
    """Pending migrations: the code is newer than the schema. Once none are pending, it stays so for the process."""
    global _migrations_applied
    if _migrations_applied:
        return [Observation("migrations:pending", PASS, 0, None, "datastore")]

    def probe(connection):
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        return executor.migration_plan(executor.loader.graph.leaf_nodes())

    pending = len(_in_own_connection(probe))
    if pending == 0:
        _migrations_applied = True
    return [
        Observation(
            "migrations:pending",
            FAIL if pending else PASS,
            pending,
            None,
            "datastore",
            output="run `manage.py migrate`" if pending else "",
        )
    ]


def check_cache() -> list[Observation]:
    key = f"health:{uuid.uuid4().hex}"
    started = time.perf_counter()
    cache.set(key, "ok", timeout=10)
    answered = cache.get(key)
    cache.delete(key)
    latency = time.perf_counter() - started
    if answered != "ok":
        return [Observation("cache:responseTime", FAIL, _ms(latency), "ms", "datastore", output="value not read back")]
    return [Observation("cache:responseTime", _latency_status(latency), _ms(latency), "ms", "datastore")]


def _broker_is_configured() -> bool:
    return not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


NO_BROKER = "no broker: tasks run in the web process"


def check_broker() -> list[Observation]:
    """The Celery broker answers a PING. Down, sales still complete (their print jobs wait as `queued` outbox rows
    for the sweeper), so this fails the full report but never readiness."""
    if not _broker_is_configured():
        return [Observation("broker:responseTime", PASS, None, None, "datastore", output=NO_BROKER)]
    import redis

    timeout = settings.HEALTH_CHECK_TIMEOUT
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        started = time.perf_counter()
        client.ping()
        latency = time.perf_counter() - started
    finally:
        client.close()
    return [Observation("broker:responseTime", _latency_status(latency), _ms(latency), "ms", "datastore")]


def check_celery_workers() -> list[Observation]:
    if not _broker_is_configured():
        return [Observation("celery:workers", PASS, 0, "workers", "component", output="tasks run in the web process")]
    from celery import current_app as app  # the project's app (posproject.celery), which ops does not import

    replies = app.control.ping(timeout=settings.HEALTH_CELERY_PING_TIMEOUT)
    answering = len(replies or [])
    return [
        Observation(
            "celery:workers",
            PASS if answering else WARN,
            answering,
            "workers",
            "component",
            output="" if answering else "no worker answered: printing, alerts and backups are not running",
        )
    ]


def queue_depth() -> int:
    """Messages waiting in the broker, all queues and priority lists summed."""
    import redis
    from celery import current_app as app  # the project's app (posproject.celery), which ops does not import

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        queues = set(app.amqp.queues.keys()) | {app.conf.task_default_queue or "celery"}
        names = [f"{queue}{suffix}" for queue in queues for suffix in ("", "\x06\x163", "\x06\x166", "\x06\x169")]
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(name)
            return sum(pipe.execute())
    finally:
        client.close()


def check_queue_depth() -> list[Observation]:
    if not _broker_is_configured():
        return [Observation("celery:queueDepth", PASS, 0, "messages", "component")]
    depth = queue_depth()
    status = WARN if depth > settings.HEALTH_QUEUE_WARN_DEPTH else PASS
    return [Observation("celery:queueDepth", status, depth, "messages", "component")]


def check_backup_age() -> list[Observation]:
    def probe(connection):
        from ops.backups.selectors import rpo_status

        colour, age = rpo_status()
        return colour, age, installed_at(connection) if age is None else None

    colour, age, installed = _in_own_connection(probe)
    status = {"green": PASS, "amber": WARN}.get(colour, FAIL)
    if age is None:
        grace = dt.timedelta(hours=settings.BACKUP_MAX_AGE_HOURS)
        if installed is not None and timezone.now() - installed < grace:
            hours = int((timezone.now() - installed).total_seconds() // 3600)
            output = (
                f"no backup yet: installed {hours} h ago; the first backup is due within "
                f"{settings.BACKUP_MAX_AGE_HOURS} h of installing"
            )
            return [Observation("backup:age", WARN, None, "s", "component", output=output)]
        return [Observation("backup:age", FAIL, None, "s", "component", output="no successful backup yet")]
    output = "" if status == PASS else f"newest successful backup is older than the {settings.BACKUP_RPO_HOURS} h RPO"
    return [Observation("backup:age", status, int(age.total_seconds()), "s", "component", output=output)]


def check_pitr() -> list[Observation]:
    """Continuous archiving (when PITR_ENABLED): how long committed work has waited outside the archive (the current
    RPO; fails past PITR_MAX_LAG_SECONDS or while pushes fail), the newest pgBackRest backup (where beat takes
    them: `backups_here()`), the last PITR drill (not with PITR_WATCH_ONLY)."""
    if not settings.PITR_ENABLED:
        return []

    def probe(connection):
        from ops.backups.pitr import archive_status
        from ops.backups.pitr_services import latest_runs

        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = %s", [int(settings.HEALTH_CHECK_TIMEOUT * 1000)])
            return archive_status(cursor), latest_runs()

    archive, runs = _in_own_connection(probe)
    lag = archive.lag_seconds
    if archive.failing or lag > settings.PITR_MAX_LAG_SECONDS:
        status = FAIL
    elif lag > settings.PITR_RPO_SECONDS:
        status = WARN
    else:
        status = PASS
    newest = f"newest archived WAL {archive.last_archived_wal or 'none'}"
    if archive.last_archived_at:
        newest += f" at {archive.last_archived_at:%Y-%m-%d %H:%M:%S} UTC"
    failing = f"; archiving fails since {archive.last_failed_at:%H:%M:%S} UTC" if archive.failing else ""
    from ops.backups.pitr import backups_here, forced_switches, switch_error

    count, last = forced_switches()
    if settings.PITR_SWITCH_SECONDS > 0:
        failing += f"; {count} forced WAL switch(es)"
        failing += f", last {dt.datetime.fromtimestamp(last, tz=dt.UTC):%H:%M:%S} UTC" if last else ""
        refused = switch_error()
        failing += f"; forced switch refused: {refused}" if refused else ""
    observations = [
        Observation(
            "pitr:archiveLag",
            status,
            None if lag == float("inf") else round(lag, 1),
            "s",
            "component",
            output=f"{newest}{failing}",
        )
    ]
    if not backups_here():  # backups taken elsewhere (a host's cron): not seen here
        return observations
    backups = [r for r in (runs["full"], runs["diff"]) if r is not None and r.status == "succeeded"]
    newest_backup = max(backups, key=lambda r: r.started_at, default=None)
    age = (timezone.now() - newest_backup.started_at).total_seconds() if newest_backup else None
    backup_status = PASS if age is not None and age <= settings.BACKUP_MAX_AGE_HOURS * 3600 else WARN
    described = ", ".join(
        f"last {r.kind} {r.started_at:%Y-%m-%d %H:%M} {r.status}" for r in (runs["full"], runs["diff"]) if r
    )
    observations.append(
        Observation(
            "pitr:backupAge", backup_status, int(age) if age is not None else None, "s", "component",
            output=described or "no pgBackRest backup yet",
        )
    )  # fmt: skip
    if settings.PITR_WATCH_ONLY:  # the drill needs the data directory's machine
        return observations
    drill = runs["drill"]
    drill_status = WARN if drill is None else (PASS if drill.status == "succeeded" else FAIL)
    drill_text = "no PITR drill yet"
    if drill is not None:
        drill_text = f"last PITR drill {drill.started_at:%Y-%m-%d %H:%M} {drill.status}"
        drill_text += f", RTO {drill.duration_seconds:.0f} s" if drill.duration_seconds else ""
    observations.append(
        Observation("pitr:drill", drill_status, drill.duration_seconds if drill else None, "s", "component",
                    output=drill_text)
    )  # fmt: skip
    return observations


def installed_at(connection) -> dt.datetime | None:
    """When this installation's database was created: the first migration applied to it (a restore brings back the
    original's). A fresh install has no backup yet; /health warns about it, not fails, for BACKUP_MAX_AGE_HOURS."""
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    return recorder.migration_qs.order_by("applied").values_list("applied", flat=True).first()


def backup_volume() -> Path:
    configured = getattr(settings, "BACKUP_DIR", None) or getattr(settings, "BACKUP_ROOT", None)
    path = Path(configured) if configured else Path(settings.BASE_DIR) / "var"
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk() -> list[Observation]:
    usage = shutil.disk_usage(backup_volume())
    free_percent = round(usage.free * 100 / usage.total, 1) if usage.total else 0.0
    if free_percent < settings.HEALTH_DISK_FAIL_PERCENT:
        status = FAIL
    elif free_percent < settings.HEALTH_DISK_WARN_PERCENT:
        status = WARN
    else:
        status = PASS
    output = f"{usage.free // (1024 * 1024)} MiB free on the backup volume" if status != PASS else ""
    return [Observation("disk:free", status, free_percent, "%", "system", output=output)]


def check_print_jobs() -> list[Observation]:
    def probe(connection):
        from django.db.models import Count

        from billing.models import PrintJob

        stuck = (PrintJob.Status.FAILED, PrintJob.Status.UNCERTAIN)
        rows = (
            PrintJob.objects.filter(status__in=stuck, resolved_at__isnull=True).values("status").annotate(n=Count("id"))
        )
        return {row["status"]: row["n"] for row in rows}

    counts = _in_own_connection(probe)
    observations = []
    for status, label in (("failed", "failed"), ("uncertain", "uncertain")):
        n = counts.get(status, 0)
        observations.append(
            Observation(
                f"printJobs:{label}",
                WARN if n else PASS,
                n,
                "jobs",
                "component",
                output=f"{n} print job(s) {label}: staff must reprint or confirm" if n else "",
            )
        )
    return observations


def check_receipt_emails() -> list[Observation]:
    def probe(connection):
        from billing.models import ReceiptEmail

        return ReceiptEmail.objects.filter(status=ReceiptEmail.Status.FAILED, dismissed_at__isnull=True).count()

    n = _in_own_connection(probe)
    output = f"{n} receipt e-mail(s) failed: check the mail server, then send them again" if n else ""
    return [Observation("receiptEmails:failed", WARN if n else PASS, n, "emails", "component", output=output)]


def check_integrity() -> list[Observation]:
    from ops.integrity import last_report

    report = last_report()
    if report is None:
        return [Observation("integrity:violations", WARN, None, None, "component", output="has not run yet")]
    ran_at = dt.datetime.fromisoformat(report["ran_at"])
    age_hours = (dt.datetime.now(tz=dt.UTC) - ran_at).total_seconds() / 3600
    violations = report["violation_count"]
    if violations:
        return [
            Observation(
                "integrity:violations",
                FAIL,
                violations,
                None,
                "component",
                output="run `manage.py integrity_check` and see /ops/integrity/",
            )
        ]
    if age_hours > settings.INTEGRITY_MAX_AGE_HOURS:
        return [Observation("integrity:violations", WARN, 0, None, "component", output="last run is too old")]
    return [Observation("integrity:violations", PASS, 0, None, "component")]


# Readiness is what serving a sale needs: the database and its schema. Redis (cache and broker), Celery and backups
# are reported by the full report only: a sale completes without them, so their outage must not take the web out
# of service (RUNBOOK §5).
READY_CHECKS = (
    Check("database", check_database, 1.0, ("database:responseTime",), "datastore"),
    Check("migrations", check_migrations, 1.0, ("migrations:pending",), "datastore"),
)

FULL_CHECKS = (
    *READY_CHECKS,
    Check("cache", check_cache, 1.0, ("cache:responseTime",), "datastore"),
    Check("broker", check_broker, 1.0, ("broker:responseTime",), "datastore"),
    Check("celery_workers", check_celery_workers, 1.5, ("celery:workers",), "component"),
    Check("queue_depth", check_queue_depth, 1.0, ("celery:queueDepth",), "component"),
    Check("backup_age", check_backup_age, 1.0, ("backup:age",), "component"),
    Check("pitr", check_pitr, 1.0, ("pitr:archiveLag",), "component"),
    Check("disk", check_disk, 1.0, ("disk:free",), "system"),
    Check("print_jobs", check_print_jobs, 1.0, ("printJobs:failed", "printJobs:uncertain"), "component"),
    Check("receipt_emails", check_receipt_emails, 1.0, ("receiptEmails:failed",), "component"),
    Check("integrity", check_integrity, 1.0, ("integrity:violations",), "component"),
)


# --- Running them -----------------------------------------------------------------------------------------------

_in_flight: dict[str, threading.Thread] = {}
_in_flight_lock = threading.Lock()


def _failed(check: Check, output: str) -> list[Observation]:
    return [Observation(key, FAIL, None, None, check.component_type, output=output) for key in check.keys]


def run_checks(checks, *, budget: float | None = None) -> list[Observation]:
    """Run every check concurrently; never takes longer than `budget` (HEALTH_BUDGET_SECONDS, at most 2 s)."""
    budget = min(budget or settings.HEALTH_BUDGET_SECONDS, 2.0)
    started = time.monotonic()
    results: dict[str, list[Observation]] = {}
    threads: dict[str, threading.Thread] = {}

    for check in checks:
        with _in_flight_lock:
            previous = _in_flight.get(check.name)
            if previous is not None and previous.is_alive():
                results[check.name] = _failed(check, "previous check still running")
                continue
            thread = threading.Thread(target=_run_one, args=(check, results), name=f"health-{check.name}", daemon=True)
            _in_flight[check.name] = thread
        threads[check.name] = thread
        thread.start()

    for check in checks:
        thread = threads.get(check.name)
        if thread is None:
            continue
        deadline = started + min(check.timeout, budget)
        thread.join(max(0.0, deadline - time.monotonic()))
        if check.name not in results:
            results[check.name] = _failed(check, f"timed out after {min(check.timeout, budget):g} s")

    return [observation for check in checks for observation in results[check.name]]


def _run_one(check: Check, results: dict) -> None:
    try:
        observations = check.run()
    except Exception as exc:
        observations = _failed(check, f"{type(exc).__name__}")
    finally:
        connections.close_all()
    results.setdefault(check.name, observations)


# --- Readiness: each probe asks the database --------------------------------------------------------------------

_ready_at: float | None = None


def _note_ready(observations: list[Observation]) -> None:
    global _ready_at
    ready_keys = {key for check in READY_CHECKS for key in check.keys}
    if _ready_at is None and all(o.status != FAIL for o in observations if o.key in ready_keys):
        _ready_at = time.time()


def readiness() -> dict:
    """{"status", "checks"}: the database answering, migrations applied. Computed for each probe (one `SELECT 1`
    and one count): it must not depend on the cache, which readiness does not need."""
    observations = run_checks(READY_CHECKS)
    _note_ready(observations)
    return _report(observations)


# --- The full report: one copy in the cache, computed by one process at a time ----------------------------------

REPORT_KEY = "health:report"  # {"computed_at": unix time, "report": the report without app:uptime}
REPORT_LOCK_KEY = "health:report:computing"
_WAIT_INTERVAL = 0.05  # how often a probe waiting for another process's report looks for it

# The stored entry this process last read or wrote: while it is younger than HEALTH_CACHE_SECONDS it is the newest
# there is, and a probe is answered without asking the cache (a round trip to Redis costs more than the rest).
_last_seen: dict | None = None


def compute_full_report(*, budget: float | None = None) -> dict:
    """Run every check now (at most `budget` seconds) and return the report, without this process's uptime."""
    observations = run_checks(FULL_CHECKS, budget=budget)
    _note_ready(observations)
    return _report(observations)


def full_report() -> dict:
    """The newest full report, as every process sees it through the cache.

    A report younger than HEALTH_CACHE_SECONDS is served as it is. An older one, up to HEALTH_STALE_SECONDS more,
    is served at once while the probe that takes REPORT_LOCK_KEY refreshes it in a background thread, so a busy
    probe never waits for the slow checks (Celery's ping waits its whole timeout). With no usable report the probe
    that takes the lock computes it and the others wait for it: fifty probes, one run of the checks, whichever
    worker they reach. With the cache down each probe computes its own, and the cache and broker checks fail.
    HEALTH_CACHE_SECONDS = 0 computes every report (and leaves the cache alone).
    """
    fresh_for = settings.HEALTH_CACHE_SECONDS
    if fresh_for <= 0:
        return _with_uptime(compute_full_report())
    started = time.monotonic()
    try:
        age, report = _newest()
    except Exception:  # the cache is down: the cache check says so; answer within the budget all the same
        return _with_uptime(compute_full_report(budget=_budget_left(started)))
    if age < fresh_for:
        return _with_uptime(report)
    if age < fresh_for + settings.HEALTH_STALE_SECONDS:
        if _take_lock():
            threading.Thread(target=_refresh, name="health-refresh", daemon=True).start()
        return _with_uptime(report)
    if _take_lock():
        # Another probe may have stored a report and let go of the lock between this probe's read and its lock:
        # read again under the lock, so that fifty probes at once still run the checks once.
        with contextlib.suppress(Exception):
            age, report = _newest()
            if age < fresh_for:
                _release_lock()
                return _with_uptime(report)
        return _with_uptime(_refresh())
    return _with_uptime(_wait_for_report(started) or compute_full_report(budget=_budget_left(started)))


def _newest() -> tuple[float, dict | None]:
    """The stored report's age in seconds (infinite when there is none) and the report. Raises when the cache
    does not answer."""
    global _last_seen
    entry = _last_seen
    if entry is None or time.time() - entry["computed_at"] >= settings.HEALTH_CACHE_SECONDS:
        entry = cache.get(REPORT_KEY)
        if not (isinstance(entry, dict) and isinstance(entry.get("report"), dict)):
            return float("inf"), None
        _last_seen = entry
    return max(0.0, time.time() - entry["computed_at"]), entry["report"]


def _take_lock() -> bool:
    try:  # longer than a computation can take, so that a process killed while computing does not block the others
        return cache.add(REPORT_LOCK_KEY, os.getpid(), timeout=int(_budget()) + 3)
    except Exception:
        return False


def _refresh() -> dict:
    """Compute the report, store it for every process and release the lock (which the caller holds)."""
    global _last_seen
    try:
        report = compute_full_report()
        with contextlib.suppress(Exception):
            entry = {"computed_at": time.time(), "report": report}
            kept_for = math.ceil(settings.HEALTH_CACHE_SECONDS + settings.HEALTH_STALE_SECONDS)
            cache.set(REPORT_KEY, entry, timeout=kept_for)
            _last_seen = entry
        return report
    finally:
        _release_lock()


def _release_lock() -> None:
    with contextlib.suppress(Exception):
        cache.delete(REPORT_LOCK_KEY)


def _wait_for_report(started: float) -> dict | None:
    """The report another probe is computing, once it is stored; None if it is not within the budget."""
    while time.monotonic() - started < _budget():
        time.sleep(_WAIT_INTERVAL)
        with contextlib.suppress(Exception):
            age, report = _newest()
            if age < settings.HEALTH_CACHE_SECONDS:
                return report
    return None


def _budget() -> float:
    return min(settings.HEALTH_BUDGET_SECONDS, 2.0)


def _budget_left(started: float) -> float:
    """What the checks may still take after the cache made this probe wait (a cache that does not answer costs
    its socket timeout): the whole answer stays within the budget."""
    return round(max(_budget() - (time.monotonic() - started), 0.5), 1)


def _with_uptime(report: dict) -> dict:
    """The report with this process's uptime (whichever process computed it). Uptime always passes, so the
    report's status and output stay as they are."""
    uptime = Observation("app:uptime", PASS, round(time.time() - settings.PROCESS_STARTED_AT), "s", "system")
    return {**report, "checks": {**report["checks"], "app:uptime": [uptime.as_json()]}}


def startup() -> dict:
    """How long this process took from start to first being ready; runs the readiness checks until it is."""
    if _ready_at is None:
        readiness()
    started = settings.PROCESS_STARTED_AT
    body = {"status": PASS if _ready_at else FAIL, "startedAt": _iso(started)}
    if _ready_at:
        body["readyAt"] = _iso(_ready_at)
        body["startupSeconds"] = round(_ready_at - started, 3)
    return body


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(timespec="milliseconds")


def _report(observations: list[Observation]) -> dict:
    checks: dict[str, list[dict]] = {}
    for observation in observations:
        checks.setdefault(observation.key, []).append(observation.as_json())
    status = worst(o.status for o in observations)
    report = {
        "status": status,
        "version": settings.APP_VERSION.split(".")[0],
        "releaseId": settings.APP_VERSION,
        "serviceId": "tillhouse",
        "description": "Tillhouse back office",
        "checks": checks,
    }
    if status != PASS:
        report["output"] = ", ".join(sorted(o.key for o in observations if o.status == status))
    return report


def forget_report() -> None:
    """Delete the stored full report and its lock, and this process's copy (tests)."""
    global _last_seen
    _last_seen = None
    with contextlib.suppress(Exception):
        cache.delete_many([REPORT_KEY, REPORT_LOCK_KEY])


def reset() -> None:
    """Forget the full report and this process's ready time (tests)."""
    global _ready_at, _migrations_applied
    forget_report()
    _ready_at = None
    _migrations_applied = False
