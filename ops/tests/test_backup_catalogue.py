"""The catalogue of backups lives with the backups: names, `latest`, and the commands with the database gone.

Each command runs as an operator runs it: `manage.py ...` in its own process, against a throwaway database.
"""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import re

import pytest
from psycopg import sql

from ops.tests.backup_helpers import (  # noqa: F401 - fixtures
    admin_conn,
    backup_dir,
    drop_database,
    sell,
    snapshot,
    throwaway_db,
)
from ops.tests.test_restore_command import manage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DISASTER = ["billing_payment", "billing_receipt", "inventory_stockmove", "orders_orderline"]


def drop_tables(target, tables):
    with admin_conn() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [target.name],
        )
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=target.name, autocommit=True) as conn:
        for table in tables:
            conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.Identifier(table)))


def business(counts: dict) -> dict:
    return {t: n for t, n in counts.items() if not t.startswith(("ops_", "django_", "axes_"))}


def listed(output: str) -> dict[str, str]:
    """backup_list's rows by name (the first column), without the '<- latest' mark."""
    rows = {}
    for line in output.splitlines()[1:]:
        if line.strip() and not line.startswith("("):
            name = line.split()[0]
            rows[name] = line.replace("<- latest", "").rstrip()
    return rows


def latest_of(output: str) -> str:
    return next(line.split()[0] for line in output.splitlines() if line.rstrip().endswith("<- latest"))


def test_after_a_disaster_a_second_restore_latest_brings_back_the_same_good_backup_not_the_safety_copy(
    backup_dir, throwaway_db
):
    sell(5)
    shop = throwaway_db("disaster")
    taken = manage(shop, backup_dir, "backup", "--kind", "daily")
    assert taken.returncode == 0, taken.stderr
    good = snapshot(shop)
    drop_tables(shop, DISASTER)

    first = manage(shop, backup_dir, "restore", "latest", "--yes")
    assert first.returncode == 0, first.stderr
    assert business(snapshot(shop)[0]) == business(good[0])
    second = manage(shop, backup_dir, "restore", "latest", "--yes")

    assert second.returncode == 0, second.stderr
    counts, money = snapshot(shop)
    assert business(counts) == business(good[0]) and counts["billing_payment"] == 5
    assert money == good[1]
    restored = re.search(r"Restored (\S+) into", second.stdout).group(1)
    assert restored == re.search(r"Restored (\S+) into", first.stdout).group(1)
    assert restored.endswith("-daily")
    listing = manage(shop, backup_dir, "backup_list").stdout
    assert latest_of(listing) == restored
    safety = [name for name, row in listed(listing).items() if "safety copy" in row]
    assert len(safety) == 2  # both kept and listed, neither chosen


def test_backup_list_and_restore_by_name_work_with_the_database_dropped_and_names_keep_their_meaning(
    backup_dir, throwaway_db
):
    sell(4)
    shop = throwaway_db("dropped")
    assert manage(shop, backup_dir, "backup", "--kind", "daily").returncode == 0
    before = snapshot(shop)
    sell(2)
    with admin_conn() as admin:  # the second backup sees six payments: a different archive under another name
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [shop.name],
        )
    assert manage(shop, backup_dir, "backup").returncode == 0
    listing = manage(shop, backup_dir, "backup_list")
    assert listing.returncode == 0, listing.stderr
    rows = listed(listing.stdout)
    daily = next(name for name in rows if name.endswith("-daily"))
    assert len(rows) == 2

    drop_database(shop.name)
    dropped_listing = manage(shop, backup_dir, "backup_list")
    assert dropped_listing.returncode == 0, dropped_listing.stderr
    assert listed(dropped_listing.stdout) == rows
    restored = manage(shop, backup_dir, "restore", daily, "--yes")

    assert restored.returncode == 0, restored.stderr
    assert f"Restored {daily} into" in restored.stdout
    assert "safety backup" not in restored.stdout  # nothing was there to keep
    counts, money = snapshot(shop)
    assert business(counts) == business(before[0]) and counts["billing_payment"] == 4
    assert money == before[1]
    after = listed(manage(shop, backup_dir, "backup_list").stdout)
    assert after == rows  # same names, same archives (size, time, kind) after the restore
    again = manage(shop, backup_dir, "restore", daily, "--yes")
    assert again.returncode == 0, again.stderr
    assert snapshot(shop)[0]["billing_payment"] == 4


def test_a_number_is_no_backup_name_and_the_refusal_says_where_the_names_are(backup_dir, throwaway_db):
    sell(1)
    shop = throwaway_db("number")
    assert manage(shop, backup_dir, "backup").returncode == 0
    refused = manage(shop, backup_dir, "restore", "1", "--yes")
    assert refused.returncode == 1
    assert "backup_list" in refused.stderr and "Traceback" not in refused.stderr


def one_sentence(result) -> str:
    """The command failed with exactly one error line and no traceback; returns that line."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("CommandError: ")]
    assert len(errors) == 1, result.stderr
    sentence = errors[0].removeprefix("CommandError: ")
    assert sentence.endswith("."), sentence
    return sentence


def test_with_the_database_gone_backup_and_drill_fail_in_one_sentence_while_list_verify_and_restore_work(
    backup_dir, throwaway_db
):
    sell(2)
    shop = throwaway_db("gone")
    assert manage(shop, backup_dir, "backup", "--kind", "daily").returncode == 0
    drop_database(shop.name)

    assert shop.name in one_sentence(manage(shop, backup_dir, "backup"))
    assert shop.name in one_sentence(manage(shop, backup_dir, "restore_drill"))
    assert manage(shop, backup_dir, "backup_list").returncode == 0
    verified = manage(shop, backup_dir, "backup_verify", "latest")
    assert verified.returncode == 0, verified.stderr
    restored = manage(shop, backup_dir, "restore", "latest", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert snapshot(shop)[0]["billing_payment"] == 2


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("postgres://no_such_role_tillhouse@127.0.0.1:5432/{name}", id="refused-credentials"),
        pytest.param("postgres://postgres@127.0.0.1:1/{name}", id="server-unreachable"),
    ],
)
def test_a_database_that_refuses_or_cannot_be_reached_fails_each_command_in_one_sentence(
    backup_dir, throwaway_db, server
):
    sell(1)
    shop = throwaway_db("creds")
    assert manage(shop, backup_dir, "backup").returncode == 0
    name = next(iter(listed(manage(shop, backup_dir, "backup_list").stdout)))
    url = server.format(name=shop.name)

    for args in (("backup",), ("restore", name, "--yes"), ("restore_drill",)):
        sentence = one_sentence(manage(url, backup_dir, *args))
        assert "no_such_role_tillhouse" in sentence or "Connection refused" in sentence, sentence
    assert manage(url, backup_dir, "backup_list").returncode == 0  # the catalogue needs no database
    assert snapshot(shop)[0]["billing_payment"] == 1


def test_a_missing_archive_fails_restore_verify_and_drill_in_one_sentence(backup_dir, throwaway_db):
    sell(1)
    shop = throwaway_db("missing")
    assert manage(shop, backup_dir, "backup", "--kind", "daily").returncode == 0
    name = next(iter(listed(manage(shop, backup_dir, "backup_list").stdout)))
    archive = next(p for p in backup_dir.rglob("*.dump"))
    archive.unlink()

    assert "ARCHIVE MISSING" in manage(shop, backup_dir, "backup_list").stdout
    for args in (("restore", name, "--yes"), ("backup_verify", name), ("restore_drill", name)):
        sentence = one_sentence(manage(shop, backup_dir, *args))
        assert "missing" in sentence or "not in backup storage" in sentence, sentence
    assert "no verified backup" in one_sentence(manage(shop, backup_dir, "restore", "latest", "--yes"))


def test_backup_storage_that_cannot_be_read_fails_each_command_in_one_sentence(backup_dir, throwaway_db, tmp_path):
    sell(1)
    shop = throwaway_db("storage")
    not_a_directory = tmp_path / "backups-is-a-file"
    not_a_directory.write_text("")

    for args in (("backup_list",), ("backup",), ("restore", "latest", "--yes"), ("restore_drill",)):
        sentence = one_sentence(manage(shop, not_a_directory, *args))
        assert "storage" in sentence.lower(), sentence
