import contextlib
import json
import threading
import time
from datetime import timedelta

import jsonschema
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing.models import PrintJob
from ops import health
from ops.health import Check, Observation, forget_report, run_checks
from ops.integrity import run_integrity_check
from ops.models import BackupRecord

# The health+json draft (draft-inadarei-api-health-check): the parts monitors rely on.
HEALTH_JSON_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": ["pass", "warn", "fail"]},
        "version": {"type": "string"},
        "releaseId": {"type": "string"},
        "serviceId": {"type": "string"},
        "description": {"type": "string"},
        "output": {"type": "string"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "checks": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$"},
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"enum": ["pass", "warn", "fail"]},
                        "componentId": {"type": "string"},
                        "componentType": {"type": "string"},
                        "observedValue": {},
                        "observedUnit": {"type": "string"},
                        "time": {"type": "string", "format": "date-time"},
                        "output": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
            },
        },
    },
}


def _backup(hours_ago: float) -> BackupRecord:
    backup = BackupRecord.objects.create(kind="daily", status="succeeded", engine="postgresql", bytes=1234)
    finished = timezone.now() - timedelta(hours=hours_ago)
    BackupRecord.objects.filter(pk=backup.pk).update(finished_at=finished, started_at=finished - timedelta(minutes=2))
    return backup


def _check(report: dict, key: str) -> dict:
    return report["checks"][key][0]


def test_liveness_answers_without_touching_the_database(client):
    # No django_db mark: pytest-django refuses any database access here, even opening a connection.
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "pass"}
    assert "no-store" in response["Cache-Control"]


@contextlib.contextmanager
def installed_hours_ago(hours: float):
    """This installation's database as if created `hours` ago (its first applied migration), restored afterwards.
    Written on a connection of its own, committed at once, so that the checks' own connections see it whether or
    not the test runs in a transaction."""
    from django.db import connections

    own = connections.create_connection("default")
    try:
        with own.cursor() as cursor:
            cursor.execute("SELECT id, applied FROM django_migrations")
            before = cursor.fetchall()
            cursor.execute("UPDATE django_migrations SET applied = %s", [timezone.now() - timedelta(hours=hours)])
        try:
            yield
        finally:
            with own.cursor() as cursor:
                cursor.executemany(
                    "UPDATE django_migrations SET applied = %s WHERE id = %s", [(a, i) for i, a in before]
                )
    finally:
        own.close()


@pytest.fixture(autouse=True)
def _installed_a_month_ago(request):
    """The tests here judge an installation past its first day (no backup: /health fails) unless they say otherwise."""
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    with installed_hours_ago(24 * 30):
        yield


@pytest.mark.django_db
def test_readiness_passes_when_database_and_migrations_are_fine(client):
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/health+json"
    assert "no-store" in response["Cache-Control"]
    assert body["status"] != "fail"  # a cold first connection may be slow enough to warn
    assert set(body["checks"]) == {"database:responseTime", "database:connections", "migrations:pending"}
    assert all(entry[0]["status"] != "fail" for entry in body["checks"].values())
    assert _check(body, "migrations:pending")["observedValue"] == 0


@pytest.mark.django_db(transaction=True)
def test_full_report_is_valid_health_json_with_every_component(monitor):
    _backup(hours_ago=1)
    run_integrity_check()
    response = monitor.get("/health")
    body = response.json()
    jsonschema.validate(body, HEALTH_JSON_SCHEMA)
    assert response["Content-Type"] == "application/health+json"
    assert set(body["checks"]) >= {
        "database:responseTime",
        "database:connections",
        "cache:responseTime",
        "migrations:pending",
        "broker:responseTime",
        "celery:workers",
        "celery:queueDepth",
        "backup:age",
        "disk:free",
        "printJobs:failed",
        "printJobs:uncertain",
        "receiptEmails:failed",
        "integrity:violations",
        "app:uptime",
    }
    assert _check(body, "database:connections")["observedValue"] >= 1
    assert body["releaseId"] == settings.APP_VERSION
    assert body["status"] in ("pass", "warn")  # no worker answers in the unit tests: celery:workers warns
    assert response.status_code == 200


@pytest.mark.django_db
def test_health_bodies_name_no_host_database_or_secret(monitor):
    db = connection.settings_dict
    bodies = [monitor.get(url).content.decode() for url in ("/health", "/health/ready", "/api/v1/health")]
    for body in bodies:
        for secret in ("127.0.0.1", "localhost", "redis://", "postgres://", db["NAME"], settings.SECRET_KEY):
            assert secret not in body


@pytest.mark.django_db
def test_api_health_is_the_same_report(monitor):
    body = monitor.get("/api/v1/health").json()
    jsonschema.validate(body, HEALTH_JSON_SCHEMA)
    assert "backup:age" in body["checks"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/api/health", "/api/v1/health"])
def test_a_fresh_install_without_a_backup_warns_for_its_first_day_then_fails(monitor, path):
    # Only the backup check is judged here: what else the suite left behind (print jobs, a report) may warn or fail.
    with installed_hours_ago(2):
        check = _check(monitor.get(path).json(), "backup:age")
        assert check["status"] == "warn"
        assert "no backup yet: installed 2 h ago" in check["output"]
    forget_report()
    with installed_hours_ago(27):
        check = _check(monitor.get(path).json(), "backup:age")
        assert check["status"] == "fail"
        assert check["output"] == "no successful backup yet"


@pytest.mark.django_db
def test_no_successful_backup_fails_the_report_with_503(monitor):
    response = monitor.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert _check(response.json(), "backup:age")["status"] == "fail"
    assert "backup:age" in response.json()["output"]


# --- Readiness is the database only: Redis down still sells ---------------------------------------------------------

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_readiness_passes_and_the_full_report_fails_the_broker_and_cache(settings, monitor):
    """A sale needs the database only (a print job waits in its outbox row for the broker): a Redis outage must not
    take the web out of the load balancer, while the full report says what is down."""
    _backup(hours_ago=1)
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS},
    }
    settings.CELERY_BROKER_URL = DEAD_REDIS
    settings.CELERY_TASK_ALWAYS_EAGER = False

    ready = monitor.get("/health/ready")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["status"] != "fail"

    full = monitor.get("/health")
    body = full.json()
    assert full.status_code == 503
    assert _check(body, "broker:responseTime")["status"] == "fail"
    assert _check(body, "cache:responseTime")["status"] == "fail"
    assert _check(body, "database:responseTime")["status"] != "fail"


@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_a_cached_full_report_is_computed_by_each_probe_and_fails_the_cache(settings, monitor):
    """The full report lives in the cache: with the cache down there is none to read, and the probe answers with
    one it computes, which says the cache is down."""
    _backup(hours_ago=1)
    settings.HEALTH_CACHE_SECONDS = 5
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}
    settings.CELERY_BROKER_URL = DEAD_REDIS
    settings.CELERY_TASK_ALWAYS_EAGER = False

    for _ in range(2):
        full = monitor.get("/health")
        body = full.json()
        assert full.status_code == 503
        assert _check(body, "cache:responseTime")["status"] == "fail"
        assert _check(body, "broker:responseTime")["status"] == "fail"
        assert _check(body, "backup:age")["status"] == "pass"
        assert "app:uptime" in body["checks"]


REDIS_BLACKHOLE_PORT = 8245


@pytest.mark.django_db(transaction=True)
def test_with_redis_accepting_and_never_answering_the_full_report_is_answered_and_fails_the_cache(settings, monitor):
    """A dead network rather than a refused port: reading the stored report waits out the cache's socket timeout,
    and the probe still answers with a report of its own."""
    from ops.tests.servers import TcpProxy

    _backup(hours_ago=1)
    proxy = TcpProxy(REDIS_BLACKHOLE_PORT, ("127.0.0.1", 6379)).start()
    proxy.cut("blackhole")
    unanswering = f"redis://127.0.0.1:{REDIS_BLACKHOLE_PORT}/0"
    settings.HEALTH_CACHE_SECONDS = 5
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": unanswering}}
    settings.CELERY_BROKER_URL = unanswering
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        ready = monitor.get("/health/ready")
        full = monitor.get("/health")
    finally:
        proxy.stop()
    assert ready.status_code == 200
    body = full.json()
    assert full.status_code == 503
    assert _check(body, "cache:responseTime")["status"] == "fail"
    assert _check(body, "broker:responseTime")["status"] == "fail"
    assert _check(body, "backup:age")["status"] == "pass"


@pytest.mark.django_db
def test_without_a_broker_tasks_run_in_the_web_process_and_the_broker_check_passes(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = "memory://"
    check = _check(health.full_report(), "broker:responseTime")
    assert check["status"] == "pass"
    assert check["output"] == "no broker: tasks run in the web process"


# --- Who sees what: the full report names what is down (Celery, backups, disk) and the version -------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/health", "/api/v1/health"])
def test_anonymous_callers_get_the_status_only_with_the_same_http_code(client, path):
    response = client.get(path)  # no backup yet: the report fails
    assert response.status_code == 503
    assert response["Content-Type"] == "application/health+json"
    assert response.json() == {"status": "fail"}

    _backup(hours_ago=1)
    health.reset()
    response = client.get(path)
    assert response.status_code == 200
    assert set(response.json()) == {"status"}
    assert response.json()["status"] in ("pass", "warn")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/api/v1/health"])
def test_the_metrics_bearer_token_gets_the_full_report_and_a_wrong_one_the_status_only(monitor, path):
    body = monitor.get(path).json()
    jsonschema.validate(body, HEALTH_JSON_SCHEMA)
    assert {"backup:age", "celery:workers", "disk:free"} <= set(body["checks"])
    assert body["releaseId"] == settings.APP_VERSION

    wrong = monitor.get(path, HTTP_AUTHORIZATION="Bearer not-the-metrics-token")
    assert wrong.json() == {"status": body["status"]}
    assert wrong.status_code == 503


@pytest.mark.django_db
def test_the_metrics_address_allowlist_alone_does_not_show_the_full_report(client, settings):
    """Behind nginx every request comes from the proxy's address: only the token or a manager's sign-in count."""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics").status_code == 200  # the allowlist still serves the scrape
    assert set(client.get("/health", REMOTE_ADDR="127.0.0.1").json()) == {"status"}


@pytest.mark.django_db
def test_a_signed_in_manager_gets_the_full_report_and_a_cashier_the_status_only(client, manager, cashier):
    client.force_login(cashier)
    assert client.get("/health").json() == {"status": "fail"}
    client.force_login(manager)
    body = client.get("/health").json()
    assert body["status"] == "fail"
    assert body["checks"]["backup:age"][0]["status"] == "fail"


@pytest.mark.django_db
def test_a_manager_signed_in_by_pin_gets_the_status_only(client, manager):
    from staff.middleware import SESSION_PIN_ONLY

    client.force_login(manager)
    session = client.session
    session[SESSION_PIN_ONLY] = True
    session.save()
    assert client.get("/health").json() == {"status": "fail"}


@pytest.mark.django_db
def test_with_two_factor_on_a_manager_signed_in_without_the_code_gets_the_status_only(client, manager, settings):
    settings.ADMIN_OTP_REQUIRED = True
    client.force_login(manager)
    assert client.get("/health").json() == {"status": "fail"}


@pytest.mark.django_db
def test_a_locked_managers_session_gets_the_status_only(client, manager):
    from staff.middleware import SESSION_LOCKED

    client.force_login(manager)
    session = client.session
    session[SESSION_LOCKED] = True
    session.save()
    assert client.get("/health").json() == {"status": "fail"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("hours_ago", "status"), [(1, "pass"), (25, "warn"), (30, "fail")])
def test_backup_age_is_judged_against_the_rpo(hours_ago, status):
    _backup(hours_ago)
    report = health.full_report()
    check = _check(report, "backup:age")
    assert check["status"] == status
    assert abs(check["observedValue"] - hours_ago * 3600) < 120


@pytest.mark.django_db(transaction=True)
def test_failed_and_uncertain_print_jobs_warn(location):
    PrintJob.objects.create(kind="receipt", location=location, status=PrintJob.Status.UNCERTAIN)
    PrintJob.objects.create(
        kind="receipt", location=location, status=PrintJob.Status.PRINTED, printed_at=timezone.now()
    )
    report = health.full_report()
    assert _check(report, "printJobs:uncertain") | {"time": None} == {
        "status": "warn",
        "componentType": "component",
        "observedValue": 1,
        "observedUnit": "jobs",
        "output": "1 print job(s) uncertain: staff must reprint or confirm",
        "time": None,
    }
    assert _check(report, "printJobs:failed")["status"] == "pass"


@pytest.mark.django_db(transaction=True)
def test_print_jobs_staff_already_reprinted_or_dismissed_stop_warning(location, cashier):
    PrintJob.objects.create(
        kind="receipt",
        location=location,
        status=PrintJob.Status.UNCERTAIN,
        resolved_at=timezone.now(),
        resolved_by=cashier,
    )
    report = health.full_report()
    assert _check(report, "printJobs:uncertain")["status"] == "pass"
    assert _check(report, "printJobs:uncertain")["observedValue"] == 0


@pytest.mark.django_db(transaction=True)
def test_failed_receipt_emails_warn_until_sent_again_or_dismissed(location, cashier):
    from billing.models import ReceiptEmail
    from billing.services import sell
    from inventory.tests.factories import ProductFactory
    from orders.pricing import TenderInput
    from orders.tests.helpers import line, open_register

    tea = ProductFactory(tracked=False)
    receipt = sell(
        register_id=open_register(location).pk, user=cashier, lines=[line(tea)], tenders=[TenderInput("card")]
    ).receipt
    ReceiptEmail.objects.create(receipt=receipt, location=location, to_address="a@example.com", status="failed")
    ReceiptEmail.objects.create(
        receipt=receipt, location=location, to_address="b@example.com", status="failed", dismissed_at=timezone.now()
    )

    check = _check(health.full_report(), "receiptEmails:failed")

    assert (check["status"], check["observedValue"]) == ("warn", 1)


@pytest.mark.django_db
def test_integrity_violations_fail_the_report(location):
    from inventory.models import StockLevel
    from inventory.tests.factories import ProductFactory

    StockLevel.objects.create(product=ProductFactory(), location=location, on_hand=3)  # no ledger behind it
    run_integrity_check()
    check = _check(health.full_report(), "integrity:violations")
    assert check["status"] == "fail"
    assert check["observedValue"] == 1


@pytest.mark.django_db
def test_startup_reports_how_long_the_process_took_to_become_ready(client):
    body = client.get("/health/startup").json()
    assert body["status"] == "pass"
    assert body["startupSeconds"] >= 0
    assert body["readyAt"] >= body["startedAt"]


def test_a_check_that_hangs_is_reported_as_timed_out_and_not_started_twice():
    release = threading.Event()

    def hangs():
        release.wait(30)
        return [Observation("slow:thing", "pass")]

    checks = (
        Check("hangs", hangs, 0.2, ("slow:thing",)),
        Check("quick", lambda: [Observation("quick:x", "pass")], 1, ("quick:x",)),
    )
    try:
        first = {o.key: o for o in run_checks(checks)}
        assert first["slow:thing"].status == "fail"
        assert first["slow:thing"].output == "timed out after 0.2 s"
        assert first["quick:x"].status == "pass"
        second = {o.key: o for o in run_checks(checks)}
        assert second["slow:thing"].output == "previous check still running"
    finally:
        release.set()


def test_a_check_that_raises_reports_only_the_exception_class():
    def broken():
        raise ConnectionError("connection to server at 10.0.0.5 port 5432 refused, password=hunter2")

    (observation,) = run_checks((Check("broken", broken, 1, ("broken:x",)),))
    assert observation.status == "fail"
    assert observation.output == "ConnectionError"


@pytest.mark.django_db(transaction=True)
def test_fifty_probes_at_once_compute_the_report_once(settings, monkeypatch):
    settings.HEALTH_CACHE_SECONDS = 30
    runs = []
    original = health.check_database

    def counted():
        runs.append(1)
        return original()

    monkeypatch.setattr(
        health,
        "FULL_CHECKS",
        (Check("database", counted, 1.0, ("database:responseTime",), "datastore"),),
    )
    start = threading.Barrier(50)
    reports = []

    def probe():
        start.wait()
        reports.append(health.full_report())

    threads = [threading.Thread(target=probe) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 50
    assert len(runs) == 1
    assert all(_without_uptime(report) == _without_uptime(reports[0]) for report in reports)


@pytest.mark.django_db(transaction=True)
def test_a_probe_that_read_no_report_serves_the_one_another_probe_stored_meanwhile(settings, monkeypatch):
    """The race behind a flaky run of the test above: a probe reads "no report", another probe computes one, stores it
    and lets go of the lock, and only then does the first probe take the lock. It must not run the checks again."""
    settings.HEALTH_CACHE_SECONDS = 30
    runs = []
    original_check, original_newest = health.check_database, health._newest

    def counted():
        runs.append(1)
        return original_check()

    def newest_while_another_probe_finishes():
        age, report = original_newest()
        if not runs:
            assert health._take_lock()
            health._refresh()  # the other probe: computes, stores and releases the lock
        return age, report

    monkeypatch.setattr(
        health, "FULL_CHECKS", (Check("database", counted, 1.0, ("database:responseTime",), "datastore"),)
    )
    monkeypatch.setattr(health, "_newest", newest_while_another_probe_finishes)

    report = health.full_report()

    assert len(runs) == 1
    assert report["checks"]["database:responseTime"][0]["status"] == "pass"


@pytest.mark.django_db
def test_a_probe_whose_report_another_process_never_finished_computing_still_gets_one(settings, monkeypatch):
    """A worker killed while computing leaves the lock behind (it expires): the others wait for its report only
    as long as the budget, then compute their own."""
    from django.core.cache import cache

    settings.HEALTH_CACHE_SECONDS = 30
    settings.HEALTH_BUDGET_SECONDS = 0.2
    runs = []

    def counted():
        runs.append(1)
        return [Observation("slow:thing", "warn")]

    monkeypatch.setattr(health, "FULL_CHECKS", (Check("slow", counted, 5.0, ("slow:thing",)),))
    assert cache.add(health.REPORT_LOCK_KEY, 999_999_999, timeout=30)  # the dead worker's

    report = health.full_report()

    assert report["status"] == "warn"
    assert _check(report, "slow:thing")["status"] == "warn"
    assert len(runs) == 1


@pytest.mark.django_db
def test_report_is_json_serialisable_and_status_is_the_worst_check():
    report = health._report([Observation("a:b", "pass"), Observation("c:d", "warn"), Observation("e:f", "pass")])
    assert json.loads(json.dumps(report))["status"] == "warn"
    assert report["output"] == "c:d"


@pytest.mark.django_db
def test_a_stale_full_report_is_served_at_once_while_one_background_refresh_runs(settings, monkeypatch):
    settings.HEALTH_CACHE_SECONDS = 0.05
    settings.HEALTH_STALE_SECONDS = 60
    release, runs = threading.Event(), []

    def slow_second_time():
        runs.append(1)
        if len(runs) > 1:
            release.wait(10)
        return [Observation("slow:thing", "pass")]

    monkeypatch.setattr(health, "FULL_CHECKS", (Check("slow", slow_second_time, 5.0, ("slow:thing",)),))
    first = health.full_report()
    computed_at = _stored()["computed_at"]
    deadline = time.monotonic() + 5
    while time.time() - computed_at <= settings.HEALTH_CACHE_SECONDS and time.monotonic() < deadline:
        pass  # until the report is past HEALTH_CACHE_SECONDS
    try:
        assert _without_uptime(health.full_report()) == _without_uptime(first)  # stale, without waiting
        assert _without_uptime(health.full_report()) == _without_uptime(first)  # and only one refresh is started
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while _stored()["computed_at"] == computed_at and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert _stored()["computed_at"] > computed_at
    assert len(runs) == 2


@pytest.mark.django_db
def test_a_failing_probe_is_not_logged_as_a_server_error(client, caplog):
    response = client.get("/health")  # no backup yet: fail
    assert response.status_code == 503
    assert not [r for r in caplog.records if r.name == "django.request"]


def _stored() -> dict:
    from django.core.cache import cache

    return cache.get(health.REPORT_KEY)


def _without_uptime(report: dict) -> dict:
    return {**report, "checks": {k: v for k, v in report["checks"].items() if k != "app:uptime"}}


def _another_process_shared(report: dict, *, fresh_for: float) -> None:
    """Store `report` as another worker would have, computed so long ago that it stays fresh `fresh_for` seconds
    more (negative: stale since then)."""
    from django.core.cache import cache

    computed_at = time.time() - settings.HEALTH_CACHE_SECONDS + fresh_for
    cache.set(health.REPORT_KEY, {"computed_at": computed_at, "report": report}, timeout=60)


@pytest.mark.django_db
def test_a_new_worker_answers_with_the_report_another_worker_shared_without_running_the_checks(settings, monkeypatch):
    settings.HEALTH_CACHE_SECONDS = 30
    runs = []

    def counted():
        runs.append(1)
        return [Observation("slow:thing", "pass")]

    monkeypatch.setattr(health, "FULL_CHECKS", (Check("slow", counted, 5.0, ("slow:thing",)),))
    theirs = health._report([Observation("slow:thing", "warn"), Observation("app:uptime", "pass", 86_400, "s")])
    _another_process_shared(theirs, fresh_for=30)  # this worker has just started: it has no report of its own

    mine = health.full_report()

    assert not runs  # served at once from the shared report: no check ran
    assert mine["status"] == "warn"
    assert mine["checks"]["slow:thing"] == theirs["checks"]["slow:thing"]
    assert mine["checks"]["app:uptime"][0]["observedValue"] == round(time.time() - settings.PROCESS_STARTED_AT)


@pytest.mark.django_db
def test_a_shared_report_past_its_freshness_is_served_while_this_worker_refreshes_it(settings, monkeypatch):
    settings.HEALTH_CACHE_SECONDS = 30
    settings.HEALTH_STALE_SECONDS = 60
    release, runs = threading.Event(), []

    def blocked():
        runs.append(1)
        release.wait(10)
        return [Observation("slow:thing", "warn")]

    monkeypatch.setattr(health, "FULL_CHECKS", (Check("slow", blocked, 5.0, ("slow:thing",)),))
    stale = health._report([Observation("slow:thing", "pass")])
    _another_process_shared(stale, fresh_for=-5)  # computed 35 s ago by another worker
    try:
        assert health.full_report()["status"] == "pass"  # the stale one, at once
        assert health.full_report()["status"] == "pass"
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while _stored()["report"]["status"] == "pass" and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert _stored()["report"]["status"] == "warn"  # refreshed by this worker
    assert health.full_report()["status"] == "warn"
    assert len(runs) == 1
