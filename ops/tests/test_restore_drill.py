"""The restore drill proves a backup restores: into a scratch database, counted, timed, dropped."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import pytest
from django.core.management import CommandError, call_command

from ops.backups import archive, services
from ops.models import BackupRecord, RestoreDrill
from ops.tests.backup_helpers import (  # noqa: F401 - fixtures
    RUN_TAG,
    alerts,
    backup_dir,
    database_exists,
    sell,
    throwaway_db,
)
from ops.tests.test_backup_catalogue import drop_tables

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


def change_manifest(record, **changes):
    storage = archive.backup_storage()
    manifest = archive.read_manifest(storage, record.file)
    for key, value in changes.items():
        manifest[key] = {**manifest[key], **value}
    archive.write_manifest(storage, record.file, manifest)


def ring_up(location, cashier, sales: int = 3):
    """Sales through the real checkout: receipts, payments, stock moves."""
    from billing import services as billing
    from billing import sessions
    from billing.tests.factories import RegisterFactory
    from orders.pricing import TenderInput
    from orders.tests.helpers import line, stocked_product

    register = RegisterFactory(location=location)
    sessions.open_session(register_id=register.pk, user=cashier, opening_float="100.00")
    beer = stocked_product(location, price="4.80")
    for _ in range(sales):
        billing.sell(register_id=register.pk, user=cashier, lines=[line(beer, "2")], tenders=[TenderInput("card")])


def test_a_drill_of_real_sales_passes_the_schema_money_and_smoke_checks(backup_dir, location, cashier):
    ring_up(location, cashier)
    services.create_backup(kind=BackupRecord.Kind.DAILY)

    drill = services.run_drill()

    assert drill.result == RestoreDrill.Result.PASSED, drill.error
    assert drill.counts_compared["billing_receipt"] == [3, 3]


def test_a_drill_of_a_copy_with_a_missing_table_fails_and_alerts(backup_dir, alerts, throwaway_db):
    sell(3)
    damaged = throwaway_db("damaged")
    drop_tables(damaged, ["billing_receipt"])
    record = services.create_backup(kind=BackupRecord.Kind.PRE_RESTORE, source=damaged)
    assert record.status == BackupRecord.Status.SUCCEEDED, record.error

    drill = services.run_drill(record)

    assert drill.result == RestoreDrill.Result.FAILED
    assert "billing_receipt" in drill.error
    assert alerts and alerts[-1][0] == "backup.drill_failed"


def test_a_drill_fails_and_alerts_when_the_restored_money_differs_from_the_manifest(backup_dir, alerts):
    sell(2)
    record = services.create_backup()
    change_manifest(record, money_sums={"billing_payment.amount": "0.01"})

    drill = services.run_drill(record)

    assert drill.result == RestoreDrill.Result.FAILED
    assert "billing_payment.amount 0.01→" in drill.error
    assert alerts and alerts[-1][0] == "backup.drill_failed"


def test_a_drill_fails_when_a_stock_level_no_longer_equals_its_moves(backup_dir, alerts, location, throwaway_db):
    from orders.tests.helpers import stocked_product

    product = stocked_product(location, on_hand="5")
    shop = throwaway_db("stock")
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=shop.name, autocommit=True) as conn:
        conn.execute("UPDATE inventory_stocklevel SET on_hand = on_hand + 1 WHERE product_id = %s", [product.pk])
    record = services.create_backup(source=shop)

    drill = services.run_drill(record)

    assert drill.result == RestoreDrill.Result.FAILED
    assert f"stock of product {product.pk}" in drill.error


def test_a_drill_fails_and_alerts_when_the_restored_counts_differ_from_the_manifest(backup_dir, alerts):
    sell(2)
    record = services.create_backup()
    change_manifest(record, row_counts={"billing_payment": 3})

    drill = services.run_drill(record)

    assert drill.result == RestoreDrill.Result.FAILED
    assert "billing_payment 3→2" in drill.error
    assert alerts and alerts[-1][0] == "backup.drill_failed"
    assert not database_exists(drill.target)


def test_a_drill_without_any_backup_fails_with_the_reason(backup_dir, alerts):
    drill = services.run_drill()
    assert drill.result == RestoreDrill.Result.FAILED and "no verified backup" in drill.error


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
        call_command("backup_verify", record.name)
    with pytest.raises(CommandError, match="FAILED"):
        call_command("restore_drill", record.name)


def test_a_drill_of_a_backup_older_than_the_code_migrates_the_copy_and_passes(backup_dir, throwaway_db, monkeypatch):
    from ops.tests.test_restore_command import manage

    monkeypatch.setenv("DEBUG", "True")  # the drill's `migrate` child reads its settings from the environment

    sell(2)
    older = throwaway_db("older")
    rolled_back = manage(older, backup_dir, "migrate", "billing", "0001")
    assert rolled_back.returncode == 0, rolled_back.stderr
    record = services.create_backup(source=older)

    drill = services.run_drill(record)

    assert drill.result == RestoreDrill.Result.PASSED, drill.error
    assert "billing.0002_printer_code_page_and_print_job_resolution" in drill.migrations_checked["pending_in_code"]
