"""The embedded SQLite database (make run) is backed up with the online backup API and restored."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import sqlite3

import pytest

from ops.backups import services
from ops.backups.engines import DatabaseTarget, SqliteEngine
from ops.tests.backup_helpers import backup_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def make_shop(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE django_migrations (id integer primary key, app text, name text, applied text)")
    conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('billing', '0001_initial', 'now')")
    conn.execute("CREATE TABLE billing_payment (id integer primary key, amount decimal)")
    conn.executemany("INSERT INTO billing_payment (amount) VALUES (?)", [(f"{i}.25",) for i in range(50)])
    conn.commit()
    return conn  # left open, as a running app would


def test_a_live_sqlite_database_is_backed_up_and_restored_with_the_same_rows(backup_dir, tmp_path):
    live = make_shop(tmp_path / "shop.sqlite3")
    shop = DatabaseTarget(engine="sqlite", name=str(tmp_path / "shop.sqlite3"))

    record = services.create_backup(source=shop)
    assert record.status == "succeeded", record.error
    assert record.row_counts == {"billing_payment": 50, "django_migrations": 1}
    live.execute("DELETE FROM billing_payment")
    live.commit()

    summary = services.restore_backup(record.name, target=shop, confirmed=True, migrate=False)

    assert summary.safety_backup_id is not None
    assert SqliteEngine(shop).row_counts() == {"billing_payment": 50, "django_migrations": 1}
    assert live.execute("SELECT sum(amount) FROM billing_payment").fetchone()[0] == pytest.approx(1237.5)


def test_restoring_a_non_empty_sqlite_database_needs_confirmation(backup_dir, tmp_path):
    make_shop(tmp_path / "shop.sqlite3").close()
    shop = DatabaseTarget(engine="sqlite", name=str(tmp_path / "shop.sqlite3"))
    record = services.create_backup(source=shop)
    with pytest.raises(services.RestoreRefused):
        services.restore_backup(record.name, target=shop, migrate=False)
