"""Backups of a real PostgreSQL database: what a manager relies on when the server dies."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import hashlib
import logging
import os
import subprocess
import threading

import pytest

from ops.backups import archive, services
from ops.backups.engines import BackupError, DatabaseTarget, check_versions
from ops.models import BackupRecord
from ops.tests.backup_helpers import (  # noqa: F401 - fixtures
    alerts,
    backup_dir,
    database_exists,
    drop_database,
    sell,
    snapshot,
    throwaway_db,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_database_with_sales_backed_up_dropped_and_restored_has_identical_counts_and_money(backup_dir, throwaway_db):
    sell(12)
    shop = throwaway_db("sales")
    before_counts, before_money = snapshot(shop)
    assert before_counts["billing_payment"] == 12

    record = services.create_backup(kind=BackupRecord.Kind.MANUAL, source=shop)
    assert record.status == BackupRecord.Status.SUCCEEDED, record.error
    drop_database(shop.name)

    services.restore_backup(record.name, target=shop, migrate=False)

    after_counts, after_money = snapshot(shop)
    assert after_counts == before_counts
    assert after_money == before_money
    assert after_money["billing_payment.amount"] == "186.6000"  # numeric(…, 4): 12 × 10.05 + (0 + 1 + … + 11)
    assert record.row_counts == before_counts


def test_each_backup_has_a_manifest_with_versions_counts_migrations_size_and_checksum(backup_dir):
    sell(3)
    record = services.create_backup(kind=BackupRecord.Kind.DAILY)

    manifest = archive.read_manifest(archive.backup_storage(), record.file)
    stored = (backup_dir / record.file).read_bytes()
    assert manifest["sha256"] == hashlib.sha256(stored).hexdigest() == record.sha256
    assert manifest["bytes"] == len(stored)
    assert stored.startswith(b"PGDMP")
    assert manifest["engine"] == "postgresql"
    assert manifest["server_version"] and manifest["client_version"].startswith("pg_dump")
    assert manifest["row_counts"]["billing_payment"] == 3
    assert "0001_initial" in manifest["migration_state"]["ops"]
    assert manifest["kind"] == "daily" and manifest["started_at"] and manifest["finished_at"]
    assert record.verified_at is not None


@pytest.mark.parametrize("damage", ["truncate", "tamper"])
def test_a_truncated_or_tampered_archive_fails_verification_and_the_drill(backup_dir, alerts, damage):
    sell(3)
    record = services.create_backup()
    path = backup_dir / record.file
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))

    result = services.verify_backup(record)
    drill = services.run_drill(record)

    assert not result.ok and "sha256" in result.problems[0]
    assert drill.result == "failed" and "does not match its manifest" in drill.error
    assert not database_exists(drill.target)
    assert {a[0] for a in alerts} >= {"backup.verify_failed", "backup.drill_failed"}


def test_bad_credentials_leave_a_failed_record_with_the_reason_and_delete_nothing(backup_dir, alerts):
    earlier = services.create_backup()
    wrong = DatabaseTarget.from_settings()
    wrong = DatabaseTarget(wrong.engine, wrong.name, wrong.host, wrong.port, "no_such_role", "not-the-password")

    failed = services.create_backup(source=wrong)

    assert failed.status == BackupRecord.Status.FAILED
    assert "no_such_role" in failed.error and "not-the-password" not in failed.error
    assert (backup_dir / earlier.file).exists()
    assert BackupRecord.objects.get(pk=earlier.pk).status == BackupRecord.Status.SUCCEEDED
    assert alerts[-1][0] == "backup.failed" and "not-the-password" not in alerts[-1][1]


def test_a_missing_pg_dump_binary_leaves_a_failed_record_naming_it(backup_dir, alerts, tmp_path, monkeypatch):
    earlier = services.create_backup()
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))

    failed = services.create_backup()

    assert failed.status == BackupRecord.Status.FAILED
    assert "pg_dump was not found" in failed.error
    assert (backup_dir / earlier.file).exists()


def test_a_full_disk_fails_the_backup_removes_its_partial_archive_and_keeps_older_ones(backup_dir, settings, alerts):
    sell(3)
    earlier = services.create_backup()
    settings.BACKUP_MAX_BYTES = 4096  # the quota: this dump is bigger

    failed = services.create_backup()

    assert failed.status == BackupRecord.Status.FAILED
    assert "BACKUP_MAX_BYTES" in failed.error
    files = sorted(p.name for p in backup_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == sorted([earlier.file.split("/")[-1], earlier.manifest_file.split("/")[-1]])


def test_an_unwritable_backup_directory_fails_the_backup_with_the_reason(backup_dir, settings, tmp_path, alerts):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "backups")},
        },
    }

    failed = services.create_backup()

    assert failed.status == BackupRecord.Status.FAILED
    assert "not a directory" in failed.error.lower()


def test_the_password_goes_to_pg_dump_through_the_environment_never_its_command_line(backup_dir, monkeypatch):
    seen = []
    real_popen = subprocess.Popen

    def watching_popen(argv, *args, **kwargs):
        seen.append((list(argv), dict(kwargs.get("env") or {})))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", watching_popen)
    base = DatabaseTarget.from_settings()
    with_password = DatabaseTarget(base.engine, base.name, "127.0.0.1", base.port, "postgres", "pw-Secret-42")

    record = services.create_backup(source=with_password)

    assert record.status == BackupRecord.Status.SUCCEEDED, record.error
    dumps = [(argv, env) for argv, env in seen if os.path.basename(argv[0]) == "pg_dump" and "--version" not in argv]
    assert dumps
    for argv, env in dumps:
        assert not any("pw-Secret-42" in part for part in argv)
        assert env["PGPASSWORD"] == "pw-Secret-42"


def test_client_and_server_major_versions_must_match():
    check_versions("pg_dump (PostgreSQL) 15.20", "15.4")
    with pytest.raises(BackupError, match="pg_dump is PostgreSQL 14 but the server is 15"):
        check_versions("pg_dump (PostgreSQL) 14.9", "15.20 (Debian 15.20-0+deb12u1)")


def test_a_second_trigger_while_a_backup_runs_is_refused_and_logged(backup_dir, caplog):
    target = DatabaseTarget.from_settings()
    with (
        services.backup_lock(target),
        caplog.at_level(logging.WARNING, logger="tillhouse.backups"),
        pytest.raises(services.BackupInProgress),
    ):
        services.create_backup()
    assert "refused" in caplog.text
    assert not BackupRecord.objects.exists()
    assert services.create_backup().status == BackupRecord.Status.SUCCEEDED  # free again afterwards


def test_two_concurrent_triggers_make_exactly_one_dump(backup_dir):
    sell(20)
    start = threading.Barrier(2)
    outcomes = []

    def trigger():
        start.wait()
        try:
            outcomes.append(services.create_backup().status)
        except services.BackupInProgress:
            outcomes.append("refused")

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["refused", "succeeded"]
    assert BackupRecord.objects.count() == 1
    assert len(list(backup_dir.rglob("*.dump"))) == 1
