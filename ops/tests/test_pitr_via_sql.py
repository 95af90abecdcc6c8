"""pgBackRest run by the database server itself (PITR_PGBACKREST_VIA=sql, compose's app containers): beat's full and
differential backups reach the db container's pgBackRest through `COPY ... FROM PROGRAM`, on a cluster of the
test's own whose server runs pgBackRest with its own configuration. Marked slow: a cluster and two backups."""

import subprocess

import pytest

from ops.tests.pitr_cluster import start_cluster, stop_cluster

pytestmark = [pytest.mark.slow]


@pytest.fixture
def cluster():
    # the server's own configuration is the one Tillhouse wrote (PGBACKREST_SERVER_CONFIG, pitr_cluster)
    made = start_cluster(PITR_WATCH_ONLY="True", PITR_PGBACKREST_VIA="sql")
    yield made
    stop_cluster(made)


def _runs(cluster) -> list[tuple]:
    with cluster.connect() as conn:
        return conn.execute("SELECT kind, status, label, error FROM ops_pitrrun ORDER BY id").fetchall()


def test_full_and_differential_backups_run_in_the_database_server_and_are_recorded(cluster):
    out, _ = cluster.shop("setup", stdout=subprocess.PIPE).communicate(timeout=120)
    shop = out.strip().splitlines()[-1]

    full = cluster.manage("pitr", "backup", "--type", "full")
    cluster.shop("sell", "--shop", shop, "--every", "0.1", "--count", "5", stdout=subprocess.PIPE).communicate(60)
    diff = cluster.manage("pitr", "backup", "--type", "diff")
    status = cluster.manage("pitr", "status").stdout

    assert "pgBackRest full backup" in full.stdout and "pgBackRest diff backup" in diff.stdout
    runs = _runs(cluster)
    assert [(kind, state) for kind, state, _, _ in runs] == [("full", "succeeded"), ("diff", "succeeded")]
    assert runs[0][2].endswith("F") and runs[1][2].startswith(runs[0][2]) and runs[1][2].endswith("D")
    assert "last full:" in status and "last diff:" in status and "succeeded" in status
    # pgBackRest's own view: both backups in the repository the server's configuration names
    info = subprocess.run(
        ["runuser", "-u", "postgres", "--", "pgbackrest", f"--config={cluster.env['PGBACKREST_CONFIG']}",
         "--stanza=tillhouse", "info"], capture_output=True, text=True, check=True, cwd="/",
    ).stdout  # fmt: skip
    assert runs[0][2] in info and runs[1][2] in info


def test_a_backup_the_server_cannot_run_is_recorded_as_failed_with_the_reason(cluster):
    cluster.env["PGBACKREST_SERVER_CONFIG"] = "/nonexistent/pgbackrest.conf"
    failed = cluster.manage("pitr", "backup", "--type", "full", check=False)
    assert failed.returncode != 0
    with cluster.connect() as conn:  # a user that may not run programs in the server
        conn.execute("CREATE ROLE shop LOGIN")
        conn.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO shop")
        conn.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO shop")
    cluster.env["PGBACKREST_SERVER_CONFIG"] = cluster.env["PGBACKREST_CONFIG"]
    cluster.env["DATABASE_URL"] = cluster.env["DATABASE_URL"].replace("postgres@", "shop@")
    refused = cluster.manage("pitr", "backup", "--type", "diff", check=False)
    assert refused.returncode != 0

    runs = _runs(cluster)
    assert [(kind, state) for kind, state, _, _ in runs] == [("full", "failed"), ("diff", "failed")]
    assert "pgbackrest backup failed:" in runs[0][3] and "/nonexistent/pgbackrest.conf" in runs[0][3]
    assert "pg_execute_server_program" in runs[1][3]
