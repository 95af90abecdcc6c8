"""A restore never loses a sale and never reuses a number: it runs alone (no backup or drill beside it), in
maintenance, keeps the old database until the new one is proven, puts it back on any failure, and moves every
register's counters above the numbers issued before it (audited, printed on the next Z)."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings

from billing.report_printout import report_lines
from billing.services import sell
from billing.sessions import close_session, numbers_skipped_since_last_z
from ops import integrity, maintenance
from ops.backups import restoring, services
from ops.backups.engines import DatabaseTarget, PostgresEngine
from ops.models import BackupRecord
from ops.tests.backup_helpers import (  # noqa: F401 - fixtures
    backup_dir,
    database_exists,
    drop_database,
    snapshot,
    throwaway_db,
)
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register, stocked_product
from staff.models import AuditEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _sell(register, product, user, count: int) -> list[int]:
    return [
        sell(
            register_id=register.pk, user=user, lines=[line(product)], tenders=[TenderInput(tender="card")]
        ).receipt.number
        for _ in range(count)
    ]


@pytest.fixture(autouse=True)
def migrate_runs_as_in_development(monkeypatch):
    monkeypatch.setenv("DEBUG", "True")  # the restore's `migrate` child process reads its settings from here


@pytest.fixture
def shop_with_backup(backup_dir, throwaway_db, location, cashier):
    """A shop database with 3 sales and a backup of it; then 3 more sales (receipts 4–6, printed) on the shop."""
    register = open_register(location, user=cashier)
    product = stocked_product(location, on_hand="100", price="2.50")
    assert _sell(register, product, cashier, 3) == [1, 2, 3]
    shop = throwaway_db("safety")
    backup = services.create_backup(source=shop, kind=BackupRecord.Kind.MANUAL)
    assert backup.status == BackupRecord.Status.SUCCEEDED, backup.error
    assert _sell(register, product, cashier, 3) == [4, 5, 6]
    shop = throwaway_db("safety")  # the shop as it is now: the backup is three sales behind
    return shop, backup, register


def _one_value(target: DatabaseTarget, query: str, params=()):
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=target.name) as conn:
        return conn.execute(query, params).fetchone()[0]


def test_after_restoring_an_earlier_backup_the_counters_continue_above_every_number_issued(shop_with_backup):
    shop, backup, register = shop_with_backup

    summary = services.restore_backup(backup.name, target=shop, confirmed=True)

    assert _one_value(shop, "SELECT max(number) FROM billing_receipt WHERE register_id = %s", [register.pk]) == 3
    assert _one_value(shop, "SELECT last_receipt_number FROM billing_register WHERE id = %s", [register.pk]) == 6
    reason = _one_value(
        shop,
        "SELECT reason FROM inventory_auditevent WHERE action = %s AND object_id = %s",
        [restoring.JUMP_ACTION, str(register.pk)],
    )
    assert reason.startswith("receipts 4–6 were issued before the restore of ")
    assert summary.numbers_continued == [reason]
    assert summary.safety_backup and maintenance.read_flag(shop.name) is None


def test_restoring_an_older_backup_onto_a_dropped_database_continues_above_every_later_backup(shop_with_backup):
    shop, older, register = shop_with_backup  # older: receipts 1–3; the shop has issued 4–6 since
    newer = services.create_backup(source=shop, kind=BackupRecord.Kind.MANUAL)
    assert newer.status == BackupRecord.Status.SUCCEEDED, newer.error
    drop_database(shop.name)

    summary = services.restore_backup(older.name, target=shop)

    assert _one_value(shop, "SELECT max(number) FROM billing_receipt WHERE register_id = %s", [register.pk]) == 3
    assert _one_value(shop, "SELECT last_receipt_number FROM billing_register WHERE id = %s", [register.pk]) == 6
    reason = _one_value(
        shop,
        "SELECT reason FROM inventory_auditevent WHERE action = %s AND object_id = %s",
        [restoring.JUMP_ACTION, str(register.pk)],
    )
    assert reason.startswith("receipts 4–6 were issued before the restore of ")
    assert summary.numbers_continued == [reason]
    assert not summary.safety_backup  # nothing was there to keep


def test_the_next_z_shows_the_numbers_a_restore_skipped_and_the_integrity_check_accepts_them(
    location, cashier, manager
):
    register = open_register(location, user=cashier)
    product = stocked_product(location, on_hand="100", price="2.50")
    assert _sell(register, product, cashier, 3) == [1, 2, 3]
    # What a restore of a backup taken after receipt 3 does when 4–6 had been issued before it.
    jumps = restoring.continue_counters(
        DatabaseTarget.from_settings(), {register.pk: {"receipt": 6, "z": 0}}, backup="tillhouse-test.dump"
    )
    assert [(j.first, j.last) for j in jumps] == [(4, 6)]

    assert _sell(register, product, cashier, 1) == [7]
    assert integrity.check_receipt_numbers() == []
    session = register.sessions.get(status="open")
    z = close_session(session_id=session.pk, user=cashier, denominations={"50": 1}, approver=manager)

    assert z.data["numbers_skipped"] == [AuditEvent.objects.get(action=restoring.JUMP_ACTION).reason]
    printed = " ".join(report_lines(z.data, copy=False, columns=48))
    assert "receipts 4–6 were issued before the restore of" in printed
    assert numbers_skipped_since_last_z(register) == []  # shown once, on the next Z only


class _Paused:
    """A progress that stops the restore at its "Restoring" step until released (to look at it mid-way)."""

    def __init__(self):
        self.reached, self.release = threading.Event(), threading.Event()

    def start(self, label, total=None):
        if label == "Restoring":
            self.reached.set()
            assert self.release.wait(60)

    def advance(self, n):
        pass

    def finish(self):
        pass


def test_while_a_restore_runs_backups_and_drills_are_refused_and_the_database_takes_no_writes(shop_with_backup):
    shop, backup, _ = shop_with_backup
    paused = _Paused()
    outcome = {}

    def run():
        try:
            outcome["summary"] = services.restore_backup(backup.name, target=shop, confirmed=True, progress=paused)
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    restore = threading.Thread(target=run)
    restore.start()
    try:
        assert paused.reached.wait(60), outcome
        with pytest.raises(services.BackupInProgress):
            services.create_backup(source=shop)
        with pytest.raises(services.BackupInProgress), services.backup_lock(shop, purpose="drill"):
            pass
        assert maintenance.read_flag(shop.name) is not None
        with (
            psycopg.connect(host="127.0.0.1", user="postgres", dbname=shop.name) as conn,
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
        ):
            conn.execute("UPDATE billing_register SET last_receipt_number = 0")
    finally:
        paused.release.set()
        restore.join(120)
    assert "summary" in outcome, outcome
    assert maintenance.read_flag(shop.name) is None
    assert _one_value(shop, "SHOW default_transaction_read_only") == "off"


@pytest.mark.parametrize("purpose", ["backup", "drill"])
def test_a_restore_is_refused_while_a_backup_or_a_drill_runs(shop_with_backup, purpose):
    shop, backup, _ = shop_with_backup
    before = snapshot(shop)

    with services.backup_lock(shop, purpose=purpose), pytest.raises(services.BackupInProgress):
        services.restore_backup(backup.name, target=shop, confirmed=True)

    assert snapshot(shop) == before
    assert maintenance.read_flag(shop.name) is None


def test_a_restore_that_fails_after_the_swap_puts_the_old_database_back_and_leaves_maintenance(
    shop_with_backup, monkeypatch
):
    shop, backup, register = shop_with_backup
    before = snapshot(shop)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "posproject.no_such_settings")  # the migrate step will fail

    with pytest.raises(services.BackupError, match="migrate failed"):
        services.restore_backup(backup.name, target=shop, confirmed=True)

    assert snapshot(shop) == before
    assert _one_value(shop, "SELECT last_receipt_number FROM billing_register WHERE id = %s", [register.pk]) == 6
    assert not database_exists(f"{shop.name}_replaced") and not database_exists(f"{shop.name}_restoring")
    assert maintenance.read_flag(shop.name) is None
    assert _one_value(shop, "SHOW default_transaction_read_only") == "off"


def test_a_restore_whose_counts_do_not_match_changes_nothing_and_leaves_maintenance(shop_with_backup):
    shop, backup, _ = shop_with_backup
    before = snapshot(shop)
    manifest = services.archive.read_manifest(services.archive.backup_storage(), backup.file)
    manifest["row_counts"]["billing_receipt"] = 99
    services.archive.write_manifest(services.archive.backup_storage(), backup.file, manifest)

    with pytest.raises(services.BackupError, match="row counts differ"):
        services.restore_backup(backup.file, target=shop, confirmed=True)

    assert snapshot(shop) == before
    assert maintenance.read_flag(shop.name) is None
    assert _one_value(shop, "SHOW default_transaction_read_only") == "off"


def test_maintenance_left_on_by_a_dead_restore_is_shown_and_left_by_hand(throwaway_db):
    shop = throwaway_db("stuck")
    maintenance.set_flag(shop.name, "restore of a backup started 03:00 UTC")
    restoring.set_read_only(PostgresEngine(shop), shop.name, True)

    shown = _manage(shop, "maintenance")
    left = _manage(shop, "maintenance", "off")

    assert shown.returncode == 0 and "in maintenance since" in shown.stdout, shown.stderr
    assert left.returncode == 0 and "out of maintenance" in left.stdout, left.stderr
    assert maintenance.read_flag(shop.name) is None
    assert _one_value(shop, "SHOW default_transaction_read_only") == "off"
    assert "not in maintenance" in _manage(shop, "maintenance").stdout


def _manage(target: DatabaseTarget, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.update(DATABASE_URL=target.url(), DEBUG="True", LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_restore_is_refused_while_the_old_database_of_an_interrupted_one_is_left(shop_with_backup):
    shop, backup, _ = shop_with_backup
    left = f"{shop.name}_replaced"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{left}"')
    try:
        before = snapshot(shop)
        with pytest.raises(services.RestoreRefused, match="interrupted restore"):
            services.restore_backup(backup.name, target=shop, confirmed=True)
        assert database_exists(left) and snapshot(shop) == before
    finally:
        drop_database(left)
