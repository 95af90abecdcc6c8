"""Point-in-time recovery's parts that need no cluster of their own: the pgBackRest configuration written from the
settings, what a `--to` means, the drill's comparison, the schedule, and what /health, /metrics and the backups
page say (the end-to-end tests are in test_pitr_acceptance.py)."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ops import health
from ops.backups import pitr, pitr_services, services
from ops.models import PitrRun
from ops.tests.backup_helpers import alerts  # noqa: F401 - fixture


@pytest.fixture
def pitr_on(settings, tmp_path):
    settings.PITR_ENABLED = True
    settings.PGBACKREST_CONFIG = tmp_path / "pgbackrest" / "pgbackrest.conf"
    settings.PGBACKREST_REPO_PATH = tmp_path / "pgbackrest" / "repo"
    settings.PGBACKREST_RUN_AS = ""
    settings.PGBACKREST_PG1_PATH = "/var/lib/postgresql/15/main"
    settings.PGBACKREST_PG1_PORT = 5432
    settings.PGBACKREST_CIPHER_PASS = ""
    settings.PGBACKREST_S3_BUCKET = ""
    return settings


def _lines(text: str) -> set[str]:
    return set(text.splitlines())


def test_the_configuration_keeps_full_backups_by_days_and_encrypts_every_repository(pitr_on):
    pitr_on.PGBACKREST_CIPHER_PASS = "a-long-cipher-pass"
    pitr_on.PGBACKREST_RETENTION_DAYS = 14
    pitr_on.PGBACKREST_S3_BUCKET = "shop-wal"
    pitr_on.PGBACKREST_S3_ENDPOINT = "https://127.0.0.1:8262"
    pitr_on.PGBACKREST_S3_URI_STYLE = "path"
    pitr_on.PGBACKREST_S3_VERIFY_TLS = False
    pitr_on.PGBACKREST_S3_KEY_SECRET = "s3-secret-value"

    text = pitr.config_text()

    assert {
        f"repo1-path={pitr_on.PGBACKREST_REPO_PATH}",
        "repo1-retention-full-type=time",
        "repo1-retention-full=14",
        "repo1-cipher-type=aes-256-cbc",
        "repo1-cipher-pass=a-long-cipher-pass",
        "repo2-type=s3",
        "repo2-s3-bucket=shop-wal",
        "repo2-s3-endpoint=127.0.0.1",
        "repo2-storage-port=8262",
        "repo2-storage-verify-tls=n",
        "repo2-s3-uri-style=path",
        "repo2-retention-full=14",
        "repo2-cipher-type=aes-256-cbc",
        "[tillhouse]",
        "pg1-path=/var/lib/postgresql/15/main",
        "pg1-port=5432",
    } <= _lines(text)
    assert pitr.scrub(f"failed: {text}").count("********") == 3  # two cipher passes and the S3 secret


def test_the_configuration_is_written_readable_by_its_owner_only(pitr_on):
    path = pitr.write_config()
    assert path.stat().st_mode & 0o777 == 0o600
    assert "repo1-cipher-type" not in path.read_text()  # no pass: no encryption asked for


def test_postgresql_archives_at_least_every_thirty_seconds_through_pgbackrest(pitr_on):
    conf = pitr.postgres_settings()
    assert conf["archive_mode"] == "on" and conf["archive_timeout"] == "30s" and conf["wal_level"] == "replica"
    assert conf["archive_command"] == (
        f"pgbackrest --config={pitr_on.PGBACKREST_CONFIG} --stanza=tillhouse archive-push %p"
    )


def test_a_target_without_an_offset_is_local_time_and_latest_is_everything_archived(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    assert pitr_services.parse_target("latest") is None
    local = pitr_services.parse_target("2026-12-07 14:03:00")
    assert local == datetime(2026, 12, 7, 14, 3, tzinfo=ZoneInfo("Europe/Berlin"))
    assert pitr_services.parse_target("2026-12-07T13:03:00+00:00") == local.astimezone(UTC)
    with pytest.raises(services.RestoreRefused):
        pitr_services.parse_target("yesterday at noon")


def test_restore_to_is_refused_where_pitr_is_off(settings):
    settings.PITR_ENABLED = False
    with pytest.raises(services.RestoreRefused, match="PITR_ENABLED"):
        pitr_services.restore_to("latest", confirmed=True)


def test_restore_to_refuses_a_time_in_the_future_or_before_the_oldest_backup(pitr_on, monkeypatch):
    stop = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    monkeypatch.setattr(pitr, "info", lambda: {"backup": [{"timestamp": {"start": 0, "stop": stop.timestamp()}}]})
    future = (timezone.now() + timedelta(minutes=5)).isoformat()
    with pytest.raises(services.RestoreRefused, match="in the future"):
        pitr_services.restore_to(future, confirmed=True)
    with pytest.raises(services.RestoreRefused, match="before the oldest backup"):
        pitr_services.restore_to("2026-11-30T23:00:00+00:00", confirmed=True)


def test_the_drill_finds_a_missing_receipt_one_from_after_the_instant_and_other_payments():
    at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    live = {
        (1, 1): (at - timedelta(minutes=5), "2.35"),
        (1, 2): (at - timedelta(minutes=1), "4.70"),
        (1, 3): (at - timedelta(seconds=2), "7.05"),  # committed around the instant: either way is right
        (1, 4): (at + timedelta(seconds=1), "9.40"),
    }
    exact = {key: live[key] for key in [(1, 1), (1, 2)]}
    assert pitr_services.compare_receipts(live, exact, at)[0] == []

    problems, figures = pitr_services.compare_receipts(live, {(1, 1): live[(1, 1)], (1, 4): live[(1, 4)]}, at)
    assert figures["missing"] == 1 and figures["after_instant"] == 1
    assert len(problems) == 2
    other = {(1, 1): (live[(1, 1)][0], "2.36"), (1, 2): live[(1, 2)]}
    assert "other payments" in pitr_services.compare_receipts(live, other, at)[0][0]


@pytest.mark.django_db
def test_the_weekly_full_backup_and_differential_ones_between(settings):
    settings.TIME_ZONE = "UTC"
    settings.PITR_FULL_WEEKDAY = 6
    sunday, monday = datetime(2026, 12, 6, 2, 0, tzinfo=UTC), datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert pitr_services.backup_kind_due(monday) == "full"  # no full backup in the last 7 days
    PitrRun.objects.create(kind="full", status="succeeded", started_at=sunday)
    assert pitr_services.backup_kind_due(monday) == "diff"
    assert pitr_services.backup_kind_due(sunday + timedelta(days=7)) == "full"


@pytest.mark.django_db
def test_a_failed_pgbackrest_backup_is_recorded_and_alerts(pitr_on, monkeypatch, alerts):
    def fails(kind):
        raise pitr.PitrError("pgbackrest backup failed: ERROR: [082]: WAL segment was not archived")

    monkeypatch.setattr(pitr, "backup", fails)
    run = pitr_services.run_backup("diff")
    assert run.status == PitrRun.Status.FAILED and "not archived" in run.error
    assert [event for event, _, _ in alerts] == ["pitr.backup_failed"]


@pytest.mark.django_db(transaction=True)
def test_health_fails_when_nothing_reaches_the_archive(pitr_on):
    """The suite's server does not archive at all: work waits outside the archive with no end."""
    by_key = {o.key: o for o in health.check_pitr()}
    assert by_key["pitr:archiveLag"].status == health.FAIL
    assert "newest archived WAL none" in by_key["pitr:archiveLag"].output
    assert by_key["pitr:drill"].status == health.WARN and by_key["pitr:backupAge"].status == health.WARN


@pytest.mark.django_db(transaction=True)  # each check closes its own connection
def test_health_shows_the_lag_the_last_backups_and_the_drill(pitr_on, monkeypatch):
    now = timezone.now()
    status = pitr.ArchiveStatus(9, "000000010000000000000042", now, 0, "", None, 4096, 12.0)
    monkeypatch.setattr(pitr, "archive_status", lambda cursor: status)
    PitrRun.objects.create(kind="full", status="succeeded", started_at=now - timedelta(hours=3))
    PitrRun.objects.create(kind="drill", status="succeeded", duration_seconds=41.5)

    by_key = {o.key: o for o in health.check_pitr()}

    assert by_key["pitr:archiveLag"].status == health.PASS and by_key["pitr:archiveLag"].value == 12.0
    assert "000000010000000000000042" in by_key["pitr:archiveLag"].output
    assert "forced WAL switch(es)" in by_key["pitr:archiveLag"].output
    assert by_key["pitr:backupAge"].status == health.PASS and "last full" in by_key["pitr:backupAge"].output
    assert by_key["pitr:drill"].status == health.PASS and "RTO 42 s" in by_key["pitr:drill"].output
    status.lag_seconds = 400
    assert health.check_pitr()[0].status == health.FAIL
    status.lag_seconds, status.last_failed_at = 5, now + timedelta(seconds=1)
    assert health.check_pitr()[0].status == health.FAIL  # the newest push failed


@pytest.mark.django_db(transaction=True)
def test_health_where_the_db_container_archives_watches_the_archive_and_asks_for_no_backup_or_drill(
    pitr_on, monkeypatch
):
    pitr_on.PITR_WATCH_ONLY = True
    status = pitr.ArchiveStatus(9, "000000010000000000000042", timezone.now(), 0, "", None, 4096, 12.0)
    monkeypatch.setattr(pitr, "archive_status", lambda cursor: status)

    observations = health.check_pitr()

    assert [(o.key, o.status) for o in observations] == [("pitr:archiveLag", health.PASS)]
    assert "000000010000000000000042" in observations[0].output


@pytest.mark.django_db
def test_the_backups_page_where_the_db_container_archives_says_where_backups_and_restores_run(
    client, manager, pitr_on, monkeypatch
):
    pitr_on.PITR_WATCH_ONLY = True
    status = pitr.ArchiveStatus(9, "000000010000000000000042", timezone.now(), 0, "", None, 0, 0.0)
    monkeypatch.setattr(pitr, "archive_status", lambda cursor: status)
    client.force_login(manager)

    page = client.get("/ops/backups/").content.decode()

    assert "000000010000000000000042" in page and 'data-pitr="green"' in page
    assert "The database container archives the WAL" in page and "Last PITR drill" not in page


def test_health_says_nothing_of_pitr_when_it_is_off(settings):
    settings.PITR_ENABLED = False
    assert health.check_pitr() == []


@pytest.mark.django_db
def test_metrics_export_the_archive_lag_and_failures_even_while_pitr_is_off(client, settings):
    settings.PITR_ENABLED = False
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    for line in (
        "tillhouse_pitr_enabled 0.0",
        "tillhouse_pitr_archive_lag_seconds 0.0",
        "tillhouse_pitr_archive_failing 0.0",
        "tillhouse_pitr_archive_failures_total 0.0",
        "tillhouse_pitr_drill_last_failure_timestamp_seconds 0.0",
        "tillhouse_pitr_wal_switches_forced_total 0.0",
        "tillhouse_pitr_wal_switch_last_timestamp_seconds 0.0",
    ):
        assert line in text


@pytest.mark.django_db
def test_the_backups_page_shows_the_archive_and_the_last_runs(client, manager, pitr_on, monkeypatch):
    now = timezone.now()
    status = pitr.ArchiveStatus(9, "000000010000000000000042", now, 0, "", None, 0, 0.0)
    monkeypatch.setattr(pitr, "archive_status", lambda cursor: status)
    PitrRun.objects.create(kind="diff", status="succeeded", label="20261207-013000F_20261207-013000D")
    client.force_login(manager)

    page = client.get("/ops/backups/").content.decode()

    assert "000000010000000000000042" in page and 'data-pitr="green"' in page
    assert "20261207-013000F_20261207-013000D" in page
    assert "Last PITR drill: never" in page


@pytest.mark.django_db
def test_a_drill_that_cannot_restore_is_recorded_as_failed_and_alerts(pitr_on, monkeypatch, alerts, tmp_path):
    pitr_on.PITR_DRILL_DIR = tmp_path / "drill"

    def fails(**kwargs):
        raise pitr.PitrError("pgbackrest restore failed: ERROR: [075]: no backup set found to restore")

    monkeypatch.setattr(pitr, "restore", fails)
    run = pitr_services.run_drill()
    assert run.status == PitrRun.Status.FAILED and "no backup set" in run.error
    assert run.target_time is not None and not list((tmp_path / "drill").glob("drill-*"))
    assert [event for event, _, _ in alerts] == ["pitr.drill_failed"]


@pytest.mark.django_db
def test_beat_takes_the_nightly_pgbackrest_backup_once_when_its_time_has_come(pitr_on, monkeypatch):
    pitr_on.TIME_ZONE = "UTC"
    pitr_on.PITR_BACKUP_AT = "01:30"
    taken = []

    def backup(kind):
        taken.append(kind)
        return {"label": f"20261207-013000F-{kind}", "type": kind, "info": {"size": 1024}}

    monkeypatch.setattr(pitr, "backup", backup)
    before, after = datetime(2026, 12, 7, 1, 0, tzinfo=UTC), datetime(2026, 12, 7, 1, 45, tzinfo=UTC)
    first = pitr_services.run_backup_if_due(now=before)  # nothing yet: yesterday's slot is caught up, in full
    assert first.status == PitrRun.Status.SUCCEEDED and taken == ["full"]
    PitrRun.objects.filter(pk=first.pk).update(started_at=before)
    assert pitr_services.run_backup_if_due(now=before + timedelta(minutes=15)) is None
    run = pitr_services.run_backup_if_due(now=after)  # Monday 01:30: a differential one
    assert run.label == "20261207-013000F-diff" and taken == ["full", "diff"]
    PitrRun.objects.filter(pk=run.pk).update(started_at=after)
    assert pitr_services.run_backup_if_due(now=after + timedelta(minutes=15)) is None


def _settings_of_a_process(**env) -> dict:
    """CELERY_BEAT_SCHEDULE's PITR entries as a process with this environment builds them."""
    import json
    import os
    import subprocess
    import sys

    from ops.tests.servers import ROOT

    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps({k: str(v['schedule']) for k, v in settings.CELERY_BEAT_SCHEDULE.items() if 'pitr' in k}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "posproject.settings", **env},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_beat_switches_the_wal_wherever_pitr_is_on_and_backs_up_where_pgbackrest_can_be_reached():
    assert _settings_of_a_process(PITR_ENABLED="False") == {}
    watching = _settings_of_a_process(PITR_ENABLED="True", PITR_WATCH_ONLY="True")
    assert watching == {"ops.backups.pitr_switch_wal": "20.0"}  # no pgBackRest backup or drill there
    holding = _settings_of_a_process(PITR_ENABLED="True", PITR_SWITCH_SECONDS="15")
    assert holding["ops.backups.pitr_switch_wal"] == "15.0" and "ops.backups.pitr_backup" in holding
    # compose: the backups through SQL in the db server, still no drill (it needs the data directory)
    compose = _settings_of_a_process(PITR_ENABLED="True", PITR_WATCH_ONLY="True", PITR_PGBACKREST_VIA="sql")
    assert set(compose) == {"ops.backups.pitr_switch_wal", "ops.backups.pitr_backup"}


@pytest.mark.django_db(transaction=True)
def test_the_switch_does_nothing_where_the_server_does_not_archive(pitr_on):
    """The suite's server has archive_mode off: no segment is switched, nothing is counted."""
    from django.db import connection

    before = pitr.forced_switches()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        lsn = cursor.fetchone()[0]
    assert pitr.switch_if_work_waiting() == "not archiving"
    assert pitr.forced_switches()[0] == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_walfile_name(pg_current_wal_lsn()) = pg_walfile_name(%s::pg_lsn)", [lsn])
        assert cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_lag_counts_committed_work_only_not_the_servers_own_bytes(pitr_on):
    """With the switch task's state, WAL beyond the archive that no writing transaction made is no lag (it is
    the server's own: checkpoints, running-transactions records); a write since makes the lag the time since the
    last moment everything was known archived."""
    from django.db import connection

    from ops.models import PitrRun

    with connection.cursor() as cursor:
        system, timeline, xmax, running = pitr._cluster_identity(cursor)
        checked = timezone.now() - timedelta(seconds=42)
        state = {"system": system, "timeline": timeline, "xmax": xmax, "running": running,
                 "segment": "", "checked_at": checked.isoformat()}  # fmt: skip
        idle = pitr.archive_status(cursor, state=state)
        assert idle.lag_seconds == 0 and idle.pending_bytes == 0
        assert pitr.archive_status(cursor, state=None).lag_seconds == float("inf")  # nothing ever archived here
    PitrRun.objects.create(kind="full", status="succeeded")  # a transaction that wrote
    with connection.cursor() as cursor:
        busy = pitr.archive_status(cursor, state=state)
        assert 42 <= busy.lag_seconds < 60
        # another cluster's state (a restore made a new timeline; XIDs went backwards) is ignored
        other = pitr.archive_status(cursor, state={**state, "timeline": "00000009"})
        assert other.lag_seconds == float("inf")
        gone_back = pitr.archive_status(cursor, state={**state, "xmax": xmax + 10**6})
        assert gone_back.lag_seconds == float("inf")


def test_the_archive_check_starts_at_the_backup_pgbackrest_would_restore_from_and_counts_segments_in_order():
    backups = [
        {"label": "F1", "timestamp": {"start": 100, "stop": 200}, "archive": {"start": "0" * 23 + "3"}},
        {"label": "F2", "timestamp": {"start": 900, "stop": 1000}, "archive": {"start": "0" * 23 + "9"}},
    ]
    entry = {"backup": backups}
    assert pitr.backup_for(entry, None)["label"] == "F2"  # latest: the newest backup
    assert pitr.backup_for(entry, datetime.fromtimestamp(999, tz=UTC))["label"] == "F1"  # ended before the instant
    assert pitr.backup_for(entry, datetime.fromtimestamp(1001, tz=UTC))["label"] == "F2"
    assert pitr.backup_for(entry, datetime.fromtimestamp(150, tz=UTC)) is None
    # 16 MiB segments: 256 to a log file, so ...00FF is followed by the next log file's ...0000
    last_of_log = "000000020000000A000000FF"
    assert pitr._segment_name(2, pitr._position(last_of_log) + 1) == "000000020000000B00000000"
    assert pitr._segment_name(2, pitr._position(last_of_log)) == last_of_log
