"""Health checks for probes, load balancers and the on-call person.

Each check is a plain function returning one or more `Observation`s. `run_checks` runs them concurrently, each in
its own daemon thread with a hard timeout, so a check that hangs (a database behind a dead network, a broker that
accepts and never answers) cannot make the endpoint hang: after its timeout it is reported as failed and the thread
is left to finish on its own. A check whose previous run is still stuck is not started again, so probes cannot pile
threads up. Reports are cached per process for a few seconds and computed by one thread at a time, so fifty probes
arriving together cost one database connection, not fifty. The full report is refreshed in the background once it
exists (a stale one, at most HEALTH_STALE_SECONDS old, is served meanwhile), so probes never wait for slow checks.
The full report is also shared between processes through the cache: a worker whose own report is missing or stale
takes a fresher one another worker computed, so a freshly started or recycled worker answers at once and the slow
checks (Celery's ping waits its whole timeout) run about once per HEALTH_CACHE_SECONDS, not once per worker.

Bodies follow the health+json draft (`status` pass | warn | fail, `checks` keyed `component:measurement`) and
carry no hostnames, connection strings or exception messages: only exception class names.
"""

import contextlib
import datetime as dt
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
    from posproject.celery import app

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

    from posproject.celery import app

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

        return rpo_status()

    colour, age = _in_own_connection(probe)
    status = {"green": PASS, "amber": WARN}.get(colour, FAIL)
    if age is None:
        return [Observation("backup:age", FAIL, None, "s", "component", output="no successful backup yet")]
    output = "" if status == PASS else f"newest successful backup is older than the {settings.BACKUP_RPO_HOURS} h RPO"
    return [Observation("backup:age", status, int(age.total_seconds()), "s", "component", output=output)]


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
    Check("disk", check_disk, 1.0, ("disk:free",), "system"),
    Check("print_jobs", check_print_jobs, 1.0, ("printJobs:failed", "printJobs:uncertain"), "component"),
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


# --- Reports, cached per process ---------------------------------------------------------------------------------

_cache: dict[str, tuple[float, dict]] = {}
_cache_locks = {"ready": threading.Lock(), "full": threading.Lock()}
_ready_at: float | None = None


def _cached(
    kind: str, ttl: float, compute: Callable[[], dict], *, serve_stale_for: float = 0, shared: bool = False
) -> dict:
    """The cached report while it is fresh; one thread computes a new one, the others wait for it.

    With `serve_stale_for`, a report up to that many seconds past its freshness is returned at once while a
    background thread refreshes it: a probe never waits for the slow checks (Celery's ping waits its whole timeout)
    once the first report exists. With `shared`, reports are also exchanged with the other processes (see
    SHARED_REPORT_KEY) before this one computes its own.
    """
    entry = _cache.get(kind)
    now = time.monotonic()
    if entry is None and shared and ttl > 0:  # a process with no report yet takes another's (fresh or stale)
        entry = _read_shared(kind)
        if entry is not None:
            _cache[kind] = entry
    if entry is not None and entry[0] > now:
        return entry[1]
    if entry is not None and ttl > 0 and now - entry[0] < serve_stale_for:
        if _cache_locks[kind].acquire(blocking=False):
            newer = _read_shared(kind) if shared else None  # once per refresh: has another process done it?
            if newer is not None and newer[0] > now:
                _cache[kind] = newer
                _cache_locks[kind].release()
                return newer[1]
            threading.Thread(
                target=_refresh,
                args=(kind, ttl, compute, serve_stale_for, shared),
                name=f"health-refresh-{kind}",
                daemon=True,
            ).start()
        return entry[1]
    with _cache_locks[kind]:
        entry = _cache.get(kind)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        report = compute()
        if ttl > 0:
            _cache[kind] = (time.monotonic() + ttl, report)
            if shared:
                _write_shared(kind, report, ttl, serve_stale_for)
        return report


def _refresh(kind: str, ttl: float, compute: Callable[[], dict], serve_stale_for: float, shared: bool) -> None:
    """Background refresh; the caller holds the kind's lock and this releases it."""
    try:
        report = compute()
        _cache[kind] = (time.monotonic() + ttl, report)
        if shared:
            _write_shared(kind, report, ttl, serve_stale_for)
    finally:
        _cache_locks[kind].release()


SHARED_REPORT_KEY = "health:report:{kind}"
SHARED_READ_TIMEOUT = 0.2  # a cache that does not answer at once must not hold up a probe


def _read_shared(kind: str) -> tuple[float, dict] | None:
    """Another process's report, as a local cache entry (freshness converted to this process's clock); None when
    there is none or the cache does not answer within SHARED_READ_TIMEOUT."""
    found: list = []

    def read():
        with contextlib.suppress(Exception):  # a cache outage is the cache check's to report, not this one's
            found.append(cache.get(SHARED_REPORT_KEY.format(kind=kind)))

    reader = threading.Thread(target=read, name="health-shared-read", daemon=True)
    reader.start()
    reader.join(SHARED_READ_TIMEOUT)
    entry = found[0] if found else None
    if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[2], dict)):
        return None
    fresh_until, producer, report = entry
    if producer == os.getpid():  # this process's own, which it already has
        return None
    return time.monotonic() + (fresh_until - time.time()), _with_own_uptime(report)


def _write_shared(kind: str, report: dict, ttl: float, serve_stale_for: float) -> None:
    def write():
        with contextlib.suppress(Exception):
            entry = (time.time() + ttl, os.getpid(), report)
            cache.set(SHARED_REPORT_KEY.format(kind=kind), entry, timeout=ttl + serve_stale_for)

    threading.Thread(target=write, name="health-shared-write", daemon=True).start()


def _with_own_uptime(report: dict) -> dict:
    """A report another process computed, with this process's uptime in it."""
    uptime = report.get("checks", {}).get("app:uptime")
    if not uptime:
        return report
    own = [{**uptime[0], "observedValue": round(time.time() - settings.PROCESS_STARTED_AT)}]
    return {**report, "checks": {**report["checks"], "app:uptime": own}}


def _note_ready(observations: list[Observation]) -> None:
    global _ready_at
    ready_keys = {key for check in READY_CHECKS for key in check.keys}
    if _ready_at is None and all(o.status != FAIL for o in observations if o.key in ready_keys):
        _ready_at = time.time()


def readiness() -> dict:
    """{"status", "checks"}: the database answering, migrations applied."""

    def compute():
        observations = run_checks(READY_CHECKS)
        _note_ready(observations)
        return _report(observations)

    return _cached("ready", settings.HEALTH_READY_CACHE_SECONDS, compute)


def full_report() -> dict:
    def compute():
        observations = run_checks(FULL_CHECKS)
        _note_ready(observations)
        observations.append(
            Observation("app:uptime", PASS, round(time.time() - settings.PROCESS_STARTED_AT), "s", "system")
        )
        return _report(observations)

    return _cached(
        "full", settings.HEALTH_CACHE_SECONDS, compute, serve_stale_for=settings.HEALTH_STALE_SECONDS, shared=True
    )


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


def reset() -> None:
    """Forget cached reports, this process's and the shared one, and the ready time (tests)."""
    global _ready_at, _migrations_applied
    _cache.clear()
    with contextlib.suppress(Exception):
        cache.delete(SHARED_REPORT_KEY.format(kind="full"))
    _ready_at = None
    _migrations_applied = False
