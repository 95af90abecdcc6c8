"""Point-in-time recovery, end to end (issue 21's acceptance): a cluster of the test's own archiving with pgBackRest
(encrypted repository), sales through the real checkout service, the cluster destroyed, `manage.py restore --to`.

These tests take minutes (300 sales over 3 minutes is the specification): they are marked slow."""

import signal
import subprocess
import time
from datetime import UTC, datetime

import pytest

from ops.tests.pitr_cluster import read_sales, start_cluster, stop_cluster

pytestmark = [pytest.mark.slow]

RPO_SECONDS = 60


@pytest.fixture
def cluster():
    made = start_cluster()
    yield made
    stop_cluster(made)


def _shop(cluster) -> str:
    out, _ = cluster.shop("setup", stdout=subprocess.PIPE).communicate(timeout=120)
    return out.strip().splitlines()[-1]


def _loss(sales: list[dict], restored: dict[int, str], destroyed_at: float) -> tuple[list[dict], float]:
    """Sales answered but missing after the restore, and how many seconds of sales that is (0: none)."""
    missing = [s for s in sales if s["receipt"] not in restored]
    return missing, (destroyed_at - min(s["at"] for s in missing)) if missing else 0.0


def test_restore_to_an_instant_gives_exactly_the_sales_before_it_and_latest_loses_under_a_minute(cluster):
    shop = _shop(cluster)
    cluster.manage("pitr", "backup", "--type", "full")
    # 300 sales over 3 minutes through billing.services.sell; the instant T is noted between sale 200 and 201.
    seller = cluster.shop(
        "sell", "--shop", shop, "--every", "0.6", "--count", "300", "--mark-after", "200", stdout=subprocess.PIPE
    )
    out, _ = seller.communicate(timeout=400)
    assert seller.returncode == 0
    sales, mark = read_sales(out.splitlines())
    assert len(sales) == 300 and mark is not None
    destroyed_at = cluster.destroy(sig=signal.SIGQUIT)  # immediate stop, then the data directory deleted

    latest = cluster.manage("restore", "--to", "latest", "--yes")
    restored = cluster.receipts()
    missing, seconds = _loss(sales, restored, destroyed_at)
    print(f"\nrestore --to latest after an immediate stop: {len(restored)} of {len(sales)} sales back, "
          f"{len(missing)} lost = {seconds:.1f} s of sales\n{latest.stdout}")  # fmt: skip
    assert seconds <= RPO_SECONDS
    assert set(restored) == {s["receipt"] for s in sales} - {s["receipt"] for s in missing}
    assert all(restored[s["receipt"]] == s["amount"] for s in sales if s["receipt"] in restored)
    issued_before = max(restored)

    instant = datetime.fromtimestamp(mark, tz=UTC).isoformat()
    to_t = cluster.manage("restore", "--to", instant, "--yes")  # the cluster is up: maintenance, safety copy
    before = {s["receipt"]: s["amount"] for s in sales if s["at"] < mark}
    assert len(before) == 200
    restored = cluster.receipts()
    print(f"restore --to {instant}: {len(restored)} sales, expected exactly {len(before)}\n{to_t.stdout}")
    assert restored == before  # the same receipt numbers with the same payment sums, none after T
    assert "safety backup taken first" in to_t.stdout
    with cluster.connect() as conn:
        counter = conn.execute("SELECT max(last_receipt_number) FROM billing_register").fetchone()[0]
        jumps = conn.execute("SELECT count(*) FROM inventory_auditevent WHERE action LIKE '%%numbers%%'").fetchone()[0]
        runs = conn.execute("SELECT kind, status FROM ops_pitrrun WHERE kind = 'restore'").fetchall()
        flag = conn.execute("SELECT current_setting('default_transaction_read_only')").fetchone()[0]
    assert counter == issued_before  # the next receipt continues above every number the replaced cluster issued
    assert jumps >= 1 and ("restore", "succeeded") in runs and flag == "off"

    drill = cluster.manage("pitr", "drill", "--at", datetime.fromtimestamp(mark - 30, tz=UTC).isoformat())
    print(drill.stdout)
    assert "passed" in drill.stdout


def test_a_crash_under_steady_sales_loses_at_most_a_minute_of_them(cluster):
    shop = _shop(cluster)
    cluster.manage("pitr", "backup", "--type", "full")
    seller = cluster.shop("sell", "--shop", shop, "--every", "0.25", stdout=subprocess.PIPE)
    time.sleep(75)
    crashed_at = cluster.destroy(sig=signal.SIGKILL)  # the server killed, its data directory gone
    time.sleep(1)
    seller.terminate()
    out, _ = seller.communicate(timeout=30)
    sales, _ = read_sales(out.splitlines())
    answered = [s for s in sales if s["at"] <= crashed_at]
    assert len(answered) > 100

    cluster.manage("restore", "--to", "latest", "--yes")
    restored = cluster.receipts()
    missing, seconds = _loss(answered, restored, crashed_at)
    print(f"\ncrash (SIGKILL) under {len(answered) / 75:.1f} sales/s: {len(missing)} of {len(answered)} answered "
          f"sales lost = {seconds:.1f} s of sales (RPO {RPO_SECONDS} s)")  # fmt: skip
    assert seconds <= RPO_SECONDS
    assert all(restored[s["receipt"]] == s["amount"] for s in answered if s["receipt"] in restored)
