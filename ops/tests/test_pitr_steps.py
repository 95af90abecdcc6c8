"""A point-in-time restore in the steps compose runs in different containers (deploy/restore-to.sh), on a cluster of
the test's own: `restore --step prepare` as an app container runs it (pgBackRest's `info` handed in), the db
container's `pitr-restore` (deploy/db/entrypoint.sh, run as the server's user with the cluster stopped), the server
started, `restore --step finish`. Marked slow: a cluster, a full backup, a safety dump and a recovery take minutes."""

import json
import os
import subprocess
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ops.tests.pitr_cluster import PG_BIN, _as_owner, read_sales, start_cluster, stop_cluster
from ops.tests.servers import ROOT

pytestmark = [pytest.mark.slow]


@pytest.fixture
def cluster():
    # as compose's app containers: pgBackRest and the data directory are elsewhere
    made = start_cluster(PITR_WATCH_ONLY="True")
    yield made
    stop_cluster(made)


def _pgbackrest_env(cluster) -> dict:
    """The db container's environment, as far as pgBackRest and the entrypoint read it."""
    return {
        "PATH": os.environ["PATH"],
        "PGBACKREST_CONFIG": cluster.env["PGBACKREST_CONFIG"],
        "PGBACKREST_STANZA": "tillhouse",
        "PGDATA": str(cluster.data),
    }


def _info(cluster) -> str:
    out = subprocess.run(
        _as_owner("pgbackrest", "info", "--output=json"),
        env=_pgbackrest_env(cluster), capture_output=True, text=True, check=True, cwd="/",
    )  # fmt: skip
    return out.stdout.strip()


def _db_container_restore(cluster, options: list[str]) -> subprocess.CompletedProcess:
    """The cluster stopped, then `pitr-restore <options>` of the db image's entrypoint as the server's user."""
    subprocess.run(_as_owner(str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-m", "fast", "-w", "stop"),
                   check=True, capture_output=True)  # fmt: skip
    return subprocess.run(
        _as_owner("sh", str(ROOT / "deploy" / "db" / "entrypoint.sh"), "pitr-restore", *options),
        env=_pgbackrest_env(cluster), capture_output=True, text=True, cwd="/",
    )  # fmt: skip


def _flag(cluster) -> int:
    with cluster.connect("postgres") as conn:
        if not conn.execute("SELECT to_regclass('tillhouse_maintenance')").fetchone()[0]:
            return 0
        return conn.execute("SELECT count(*) FROM tillhouse_maintenance").fetchone()[0]


def test_prepare_then_the_db_containers_restore_then_finish_give_the_sales_before_the_instant(cluster):
    out, _ = cluster.shop("setup", stdout=subprocess.PIPE).communicate(timeout=120)
    shop = out.strip().splitlines()[-1]
    cluster.manage("pitr", "backup", "--type", "full", check=True)
    seller = cluster.shop("sell", "--shop", shop, "--every", "0.2", "--count", "24", "--mark-after", "12",
                          stdout=subprocess.PIPE)  # fmt: skip
    sales, mark = read_sales(seller.communicate(timeout=300)[0].splitlines())
    assert len(sales) == 24 and mark is not None
    cluster.manage("pitr", "check")  # everything sold is archived (the switch task's job in production)
    instant = datetime.fromtimestamp(mark, tz=UTC).isoformat()
    plan_file = cluster.root / "pgbackrest" / "restore-plan.json"

    refused = cluster.manage("restore", "--step", "finish", check=False)
    assert refused.returncode != 0 and "No point-in-time restore is under way" in refused.stderr

    prepared = cluster.manage("restore", "--to", instant, "--step", "prepare", "--yes", "--pgbackrest-info",
                              _info(cluster))  # fmt: skip
    assert "safety backup taken first: " in prepared.stdout and "receipts up to 24" in prepared.stdout
    plan = json.loads(plan_file.read_text())
    assert plan["safety_backup"] and list(plan["issued"].values()) == [{"receipt": 24, "z": 0}]
    assert _flag(cluster) == 1  # maintenance stays on between the steps ...
    with cluster.connect() as conn:  # ... and the database is read-only for every new session
        assert conn.execute("SELECT current_setting('default_transaction_read_only')").fetchone()[0] == "on"
    again = cluster.manage("restore", "--to", instant, "--step", "prepare", "--yes", check=False)
    assert again.returncode != 0 and "already under way" in again.stderr

    options = cluster.manage("restore", "--step", "options").stdout.split("\n")
    options = [line for line in options if line.startswith("--")]
    assert "--type=time" in options and "--target-action=promote" in options
    # the db container's configuration is pgBackRest's default path; here it is named (archive-get needs it too)
    restored_dir = _db_container_restore(cluster, [f"--config={cluster.env['PGBACKREST_CONFIG']}", *options])
    assert restored_dir.returncode == 0, restored_dir.stderr
    assert "default_transaction_read_only = 'on'" in (cluster.data / "postgresql.auto.conf").read_text()
    try:
        cluster.start()
    except subprocess.CalledProcessError:
        pytest.fail((cluster.root / "server.log").read_text()[-3000:])

    finished = cluster.manage("restore", "--step", "finish")
    print(f"\n{prepared.stdout}\n{finished.stdout}")
    before = {s["receipt"]: s["amount"] for s in sales if s["at"] < mark}
    assert len(before) == 12
    assert set(cluster.receipts()) == set(before)  # exactly the sales before the instant
    with cluster.connect() as conn:
        counter = conn.execute("SELECT max(last_receipt_number) FROM billing_register").fetchone()[0]
        note = conn.execute(
            "SELECT reason FROM inventory_auditevent WHERE action LIKE '%%numbers%%' ORDER BY id DESC"
        ).fetchone()[0]
        runs = conn.execute("SELECT target, status, safety_backup FROM ops_pitrrun WHERE kind = 'restore'").fetchall()
        read_only = conn.execute("SELECT current_setting('default_transaction_read_only')").fetchone()[0]
    assert counter == 24  # the next receipt is 25: numbers 13-24 were printed before the restore
    assert note.startswith("receipts 13–24 were issued before the restore")
    assert runs == [(instant, "succeeded", plan["safety_backup"])]
    assert read_only == "off" and _flag(cluster) == 0 and not plan_file.exists()
    assert "default_transaction_read_only" not in (cluster.data / "postgresql.auto.conf").read_text()
    assert "numbers continued: receipts 13–24" in finished.stdout


def test_a_prepared_restore_that_pgbackrest_refuses_is_abandoned_and_leaves_maintenance(cluster):
    out, _ = cluster.shop("setup", stdout=subprocess.PIPE).communicate(timeout=120)
    shop = out.strip().splitlines()[-1]
    cluster.manage("pitr", "backup", "--type", "full")
    cluster.shop("sell", "--shop", shop, "--every", "0.1", "--count", "5", stdout=subprocess.PIPE).communicate(60)
    no_backup = cluster.manage("restore", "--to", "latest", "--step", "prepare", "--yes", "--pgbackrest-info", "[]",
                               check=False)  # fmt: skip
    assert no_backup.returncode != 0 and "no backup yet" in no_backup.stderr and _flag(cluster) == 0

    cluster.manage("restore", "--to", "latest", "--step", "prepare", "--yes", "--pgbackrest-info", _info(cluster))
    assert _flag(cluster) == 1
    # the server was not stopped: pgBackRest refuses to restore over a running cluster and changes nothing
    refused = subprocess.run(
        _as_owner("sh", str(ROOT / "deploy" / "db" / "entrypoint.sh"), "pitr-restore", "--delta", "--type=default"),
        env=_pgbackrest_env(cluster), capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert refused.returncode != 0
    assert "default_transaction_read_only" not in (cluster.data / "postgresql.auto.conf").read_text()

    aborted = cluster.manage("restore", "--step", "abort")
    assert "abandoned; maintenance off" in aborted.stdout and _flag(cluster) == 0
    with cluster.connect() as conn:
        assert conn.execute("SELECT current_setting('default_transaction_read_only')").fetchone()[0] == "off"
    assert sorted(cluster.receipts()) == [1, 2, 3, 4, 5]
    assert not (cluster.root / "pgbackrest" / "restore-plan.json").exists()


def test_latest_onto_a_cluster_made_afresh_on_a_lost_data_volume_brings_every_archived_sale_back(cluster):
    """compose's db image makes a new, empty cluster when its data volume is empty: `latest` has nothing to keep
    or archive there (its segments belong to another system), and the steps restore everything archived."""
    out, _ = cluster.shop("setup", stdout=subprocess.PIPE).communicate(timeout=120)
    shop = out.strip().splitlines()[-1]
    cluster.manage("pitr", "backup", "--type", "full")
    seller = cluster.shop("sell", "--shop", shop, "--every", "0.1", "--count", "8", stdout=subprocess.PIPE)
    sales, _ = read_sales(seller.communicate(timeout=120)[0].splitlines())
    cluster.manage("pitr", "check")  # archived (the switch task's job in production)
    conf = (cluster.data / "postgresql.conf").read_text()
    cluster.destroy()  # the data volume lost ...
    subprocess.run(_as_owner(str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "-A", "trust",
                             "--no-sync"), check=True, capture_output=True)  # fmt: skip
    (cluster.data / "postgresql.conf").write_text(conf)
    cluster.start()  # ... and a new cluster made on it, with its empty database, as the image's entrypoint does
    with cluster.connect("postgres") as conn:
        conn.execute("CREATE DATABASE tillhouse")

    prepared = cluster.manage("restore", "--to", "latest", "--step", "prepare", "--yes", "--pgbackrest-info",
                              _info(cluster), timeout=100)  # fmt: skip
    assert "safety backup" not in prepared.stdout  # nothing to keep in an empty database
    options = [o for o in cluster.manage("restore", "--step", "options").stdout.split("\n") if o.startswith("--")]
    assert "--type=default" in options
    restored_dir = _db_container_restore(cluster, [f"--config={cluster.env['PGBACKREST_CONFIG']}", *options])
    assert restored_dir.returncode == 0, restored_dir.stderr
    cluster.start()
    cluster.manage("restore", "--step", "finish")

    restored = {number: Decimal(paid) for number, paid in cluster.receipts().items()}
    assert len(sales) == 8 and restored == {s["receipt"]: Decimal(s["amount"]) for s in sales}
    assert _flag(cluster) == 0
