"""Reads from a real PostgreSQL streaming replica: the test makes a cluster of its own and a replica of it
(pg_basebackup, standby mode) on spare ports, and runs Tillhouse against both in a process of its own
(replica_case.py). Reports, product search and the kitchen board read from the replica (its own statistics count
the scans); a line added writes to the primary only, and the search right after it reads from the primary
(read-your-writes); with the replica stopped, the same screens answer from the primary."""

import json
import os
import subprocess
import sys

import pytest

from posproject.tests.pg_cluster import Cluster
from posproject.tests.test_deploy_gunicorn import ROOT
from posproject.tests.test_production_stack import _spare_port

pytestmark = pytest.mark.slow

DATABASE = "tillhouse_replica_case"


@pytest.fixture
def primary_and_replica():
    primary = Cluster(_spare_port())
    replica = None
    try:
        primary.create().start()
        primary.wait_until_ready()
        primary.sql(f"CREATE DATABASE {DATABASE}")
        replica = primary.replica(_spare_port()).start()
        replica.wait_until_ready()
        yield primary, replica
    finally:
        if replica is not None:
            replica.remove()
        primary.remove()


def _case(phase: str, primary: Cluster, replica: Cluster) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "PYTEST_CURRENT_TEST"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "posproject.settings",
            "DATABASE_URL": primary.url(DATABASE),
            "DATABASE_REPLICA_URL": replica.url(DATABASE),
            "REPLICA_CHECK_SECONDS": "0",  # ask the replica before every marked read: the test stops it
            "REDIS_URL": "",
            "DEBUG": "True",
            "LOG_LEVEL": "ERROR",
            "PYTHONPATH": str(ROOT),
        }
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "posproject/tests/replica_case.py"), phase],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _scans_on(replica: Cluster) -> int:
    return int(
        replica.sql(
            "SELECT COALESCE(SUM(seq_scan + COALESCE(idx_scan, 0)), 0) FROM pg_stat_user_tables "
            "WHERE relname LIKE 'billing_%' OR relname LIKE 'inventory_%' OR relname LIKE 'orders_%'",
            DATABASE,
        )
    )


def test_reports_search_and_the_kitchen_board_read_from_the_replica_and_writes_never(primary_and_replica):
    primary, replica = primary_and_replica
    assert _case("setup", primary, replica) == {"ok": True}
    assert replica.sql("SELECT pg_is_in_recovery()") == "t"
    scans_before = _scans_on(replica)

    visits = {visit["screen"]: visit for visit in _case("screens", primary, replica)["visits"]}

    for screen in ("sales report", "product search", "kitchen board"):
        assert visits[screen]["status"] == 200, visits[screen]
        assert visits[screen]["replica"] > 0, visits[screen]
    assert visits["product search"]["found_cola"]
    assert visits["add a line"]["status"] == 200 and visits["add a line"]["replica"] == 0, visits["add a line"]
    after_write = visits["search just after a write"]
    assert after_write["status"] == 200 and after_write["replica"] == 0 and after_write["found_cola"], after_write
    scans_after = _scans_on(replica)
    assert scans_after > scans_before
    print(
        "[replica] "
        + "; ".join(
            f"{v['screen']}: {v['replica']} on the replica, {v['primary']} on the primary" for v in visits.values()
        )
        + f"; the replica's own statistics: {scans_after - scans_before} table scans"
    )

    replica.stop("immediate")
    down = {visit["screen"]: visit for visit in _case("down", primary, replica)["visits"]}

    for screen in ("sales report", "product search", "kitchen board", "add a line"):
        assert down[screen]["status"] == 200 and down[screen]["primary"] > 0, down[screen]
    assert down["product search"]["found_cola"]
    print("[replica] stopped: every screen answered 200 from the primary")
