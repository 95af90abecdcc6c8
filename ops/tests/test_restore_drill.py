"""The restore drill proves a backup restores: into a scratch database, counted, timed, dropped."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import pytest
from django.core.management import CommandError, call_command

from ops.backups import services
from ops.models import BackupRecord, RestoreDrill
from ops.tests.backup_helpers import RUN_TAG, alerts, backup_dir, database_exists, sell  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_drill_restores_the_newest_backup_compares_counts_records_the_rto_and_drops_the_scratch_database(
    backup_dir,
):
    sell(5)
    record = services.create_backup(kind=BackupRecord.Kind.DAILY)

    drill = services.run_drill()

    assert drill.result == RestoreDrill.Result.PASSED, drill.error
    assert drill.backup == record
    assert drill.target.startswith(f"tillhouse_bak_{RUN_TAG}drill_")
    assert not database_exists(drill.target)
    assert drill.duration_seconds > 0
    assert drill.counts_compared["billing_payment"] == [5, 5]
    assert drill.migrations_checked == {"differs_from_manifest": [], "pending_in_code": []}


def test_a_drill_fails_and_alerts_when_the_restored_counts_differ_from_the_manifest(backup_dir, alerts):
    sell(2)
    record = services.create_backup()
    record.row_counts = {**record.row_counts, "billing_payment": 3}
    record.save(update_fields=["row_counts"])

    drill = services.run_drill(record)

    assert drill.result == RestoreDrill.Result.FAILED
    assert "billing_payment 3→2" in drill.error
    assert alerts and alerts[-1][0] == "backup.drill_failed"
    assert not database_exists(drill.target)


def test_a_drill_without_any_backup_fails_with_the_reason(backup_dir, alerts):
    drill = services.run_drill()
    assert drill.result == RestoreDrill.Result.FAILED and "no successful backup" in drill.error


def test_restore_drill_and_backup_verify_commands_report_the_outcome(backup_dir, capsys):
    sell(2)
    call_command("backup", kind="daily")
    call_command("backup_verify", "latest")
    call_command("restore_drill")
    out = capsys.readouterr().out
    assert "succeeded" in out and "OK: sha256" in out and "passed" in out and "RTO" in out

    record = BackupRecord.objects.get()
    (backup_dir / record.file).write_bytes(b"PGDMP but not really")
    with pytest.raises(CommandError, match="FAILED verification"):
        call_command("backup_verify", str(record.pk))
    with pytest.raises(CommandError, match="FAILED"):
        call_command("restore_drill", str(record.pk))
