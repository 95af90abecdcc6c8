"""The nightly backup and the drill run at a local time, correctly across daylight-saving changes."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from ops.backups import schedule, services
from ops.models import BackupRecord
from ops.tests.backup_helpers import backup_dir  # noqa: F401 - fixture
from posproject.celery import app

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("day", "zone", "at", "expected_utc"),
    [
        (date(2026, 3, 28), BERLIN, time(2), datetime(2026, 3, 28, 1, 0)),  # winter: UTC+1
        (date(2026, 3, 29), BERLIN, time(2), datetime(2026, 3, 29, 1, 0)),  # 02:00 does not exist: runs at 03:00
        (date(2026, 3, 29), BERLIN, time(2, 30), datetime(2026, 3, 29, 1, 0)),  # inside the gap: as the clocks jump
        (date(2026, 3, 30), BERLIN, time(2), datetime(2026, 3, 30, 0, 0)),  # summer: UTC+2
        (date(2026, 10, 25), BERLIN, time(2, 30), datetime(2026, 10, 25, 0, 30)),  # happens twice: the first
        (date(2026, 10, 26), BERLIN, time(2), datetime(2026, 10, 26, 1, 0)),
        (date(2026, 3, 8), NEW_YORK, time(2), datetime(2026, 3, 8, 7, 0)),  # 02:00 EST→EDT gap: 03:00 EDT
        (date(2026, 11, 1), NEW_YORK, time(1, 30), datetime(2026, 11, 1, 5, 30)),  # first 01:30 (EDT)
        (date(2026, 6, 1), UTC, time(2), datetime(2026, 6, 1, 2, 0)),
    ],
)
def test_a_local_time_becomes_the_right_utc_instant_on_each_day(day, zone, at, expected_utc):
    assert schedule.scheduled_instant(day, at, zone) == expected_utc.replace(tzinfo=UTC)


def test_the_nightly_backup_is_due_once_per_local_night_across_the_spring_change():
    at = time(2)
    before = datetime(2026, 3, 29, 0, 55, tzinfo=UTC)  # 01:55 CET
    after = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    last_night = datetime(2026, 3, 28, 1, 0, 30, tzinfo=UTC)
    assert not schedule.is_due(at, last_night, now=before, zone=BERLIN)
    assert schedule.is_due(at, last_night, now=after, zone=BERLIN)
    assert not schedule.is_due(at, after, now=datetime(2026, 3, 29, 23, 0, tzinfo=UTC), zone=BERLIN)


def test_the_nightly_backup_runs_once_on_the_autumn_night_when_two_oclock_happens_twice():
    at = time(2, 30)
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, an hour later
    assert schedule.is_due(at, datetime(2026, 10, 24, 0, 30, tzinfo=UTC), now=first, zone=BERLIN)
    assert not schedule.is_due(at, first, now=second, zone=BERLIN)


def test_a_missed_night_catches_up_at_the_next_tick():
    at = time(2)
    morning = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    assert schedule.is_due(at, datetime(2026, 6, 1, 0, 1, tzinfo=UTC), now=morning, zone=BERLIN)
    assert schedule.next_slot(at, now=morning, zone=BERLIN) == datetime(2026, 6, 3, 0, 0, tzinfo=UTC)


def test_beat_ticks_the_backup_tasks_in_utc_and_the_worker_knows_them():
    app.loader.import_default_modules()
    for name in ("ops.backups.nightly", "ops.backups.drill", "ops.backups.promote", "ops.backups.retention"):
        assert settings.CELERY_BEAT_SCHEDULE[name]["task"] == name
        assert name in app.tasks
    assert "ops.backups.backup_now" in app.tasks
    assert app.conf.timezone == "UTC"


@pytest.mark.django_db(transaction=True)
def test_the_nightly_tick_takes_a_daily_backup_when_due_and_not_again(backup_dir, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.BACKUP_NIGHTLY_AT = "02:00"
    first = services.run_nightly_if_due()
    assert first is not None and first.kind in ("daily", "weekly", "monthly") and first.status == "succeeded"
    assert services.run_nightly_if_due() is None
    assert BackupRecord.objects.count() == 1
