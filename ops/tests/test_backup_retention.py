"""Retention and promotion: which archives stay, on a fixture set of 40 backup records."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile

from ops.backups import archive, services
from ops.backups.engines import DatabaseTarget
from ops.models import BackupRecord
from ops.tests.backup_helpers import alerts, backup_dir  # noqa: F401 - fixtures

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("UTC"))
pytestmark = pytest.mark.django_db


def make_record(kind, days_ago, *, status="succeeded", verified=True, hours=0):
    """A record with a real file in backup storage, finished days_ago before NOW."""
    finished = NOW - timedelta(days=days_ago, hours=hours)
    record = BackupRecord.objects.create(kind=kind, status=status, engine="postgresql", database="shop")
    name = f"fixture/{kind}-{record.pk}.dump"
    storage = archive.backup_storage()
    stored = storage.save(name, ContentFile(b"PGDMP fixture"))
    manifest = storage.save(name + archive.MANIFEST_SUFFIX, ContentFile(b"{}"))
    BackupRecord.objects.filter(pk=record.pk).update(
        started_at=finished - timedelta(minutes=5),
        finished_at=finished,
        file=stored if status == "succeeded" else "",
        manifest_file=manifest if status == "succeeded" else "",
        bytes=13,
        verified_at=finished if verified and status == "succeeded" else None,
    )
    return record.pk


@pytest.fixture
def forty_records(backup_dir, settings):
    settings.BACKUP_KEEP = {"daily": 7, "weekly": 4, "monthly": 3, "pre-deploy": 5}
    ids = {
        # The newest verified backup is an old daily: nothing newer has been verified since.
        "daily": [make_record("daily", d, verified=(d == 14)) for d in range(15)],
        "weekly": [make_record("weekly", 7 * w, verified=False) for w in range(6)],
        "monthly": [make_record("monthly", 30 * m, verified=False) for m in range(5)],
        "pre-deploy": [make_record("pre-deploy", d, hours=3, verified=False) for d in range(7)],
        "manual": [make_record("manual", 100 + d, verified=False) for d in range(3)],
        "failed": [make_record("daily", d, status="failed") for d in range(2)],
        "pre-restore": [make_record("pre-restore", 200 + d, verified=False) for d in range(2)],
    }
    assert BackupRecord.objects.count() == 40
    return ids


def test_retention_keeps_exactly_the_newest_of_each_kind_the_newest_verified_and_everything_manual(
    forty_records, backup_dir
):
    ids = forty_records
    pruned = services.apply_retention()

    kept = set(BackupRecord.objects.exclude(status="deleted").values_list("pk", flat=True))
    expected = (
        set(ids["daily"][:7])
        | {ids["daily"][14]}  # the newest verified backup, whatever its age
        | set(ids["weekly"][:4])
        | set(ids["monthly"][:3])
        | set(ids["pre-deploy"][:5])
        | set(ids["manual"])
        | set(ids["failed"])
        | set(ids["pre-restore"])
    )
    assert kept == expected
    assert len(pruned) == 40 - len(expected) == 13  # 7 daily, 2 weekly, 2 monthly, 2 pre-deploy
    for record in BackupRecord.objects.filter(status="deleted"):
        assert not (backup_dir / record.file).exists()
        assert not (backup_dir / record.manifest_file).exists()
    for record in BackupRecord.objects.filter(pk__in=kept, status="succeeded"):
        assert (backup_dir / record.file).exists()


def test_retention_numbers_are_configurable(forty_records, settings):
    settings.BACKUP_KEEP = {"daily": 2, "weekly": 1, "monthly": 1, "pre-deploy": 1}
    services.apply_retention()
    left = BackupRecord.objects.filter(status="succeeded")
    assert left.filter(kind="daily").count() == 3  # two newest plus the newest verified
    assert left.filter(kind="weekly").count() == left.filter(kind="monthly").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_deletes_nothing(backup_dir, settings, alerts):
    settings.BACKUP_KEEP = {"daily": 1}
    older = [make_record("daily", d) for d in (3, 2, 1)]
    broken = DatabaseTarget.from_settings()
    broken = DatabaseTarget(broken.engine, "tillhouse_bak_no_such_database", broken.host, broken.port, broken.user)

    failed = services.create_backup(kind="daily", source=broken)

    assert failed.status == "failed" and "tillhouse_bak_no_such_database" in failed.error
    assert BackupRecord.objects.filter(pk__in=older, status="succeeded").count() == 3
    assert all((backup_dir / BackupRecord.objects.get(pk=pk).file).exists() for pk in older)


@pytest.mark.django_db(transaction=True)
def test_a_successful_run_prunes_afterwards(backup_dir, settings):
    settings.BACKUP_KEEP = {"daily": 1}
    older = [make_record("daily", d) for d in (3, 2, 1)]
    fresh = services.create_backup(kind="daily")
    assert fresh.status == "succeeded"
    assert list(BackupRecord.objects.filter(kind="daily", status="succeeded")) == [fresh]
    assert BackupRecord.objects.filter(pk__in=older, status="deleted").count() == 3


def test_promotion_relabels_the_newest_daily_as_this_months_and_this_weeks_backup(backup_dir, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    monday = make_record("daily", 0)  # 2026-11-23 is a Monday
    sunday = make_record("daily", 1)

    promoted = services.promote_backups(now=NOW)

    assert [r.pk for r in promoted] == [monday]
    assert BackupRecord.objects.get(pk=monday).kind == "monthly"
    assert BackupRecord.objects.get(pk=sunday).kind == "daily"  # last week's: not this week's weekly
    tomorrow = make_record("daily", -1)
    services.promote_backups(now=NOW + timedelta(days=1, hours=1))
    assert BackupRecord.objects.get(pk=tomorrow).kind == "weekly"
    assert services.promote_backups(now=NOW + timedelta(days=1, hours=2)) == []
