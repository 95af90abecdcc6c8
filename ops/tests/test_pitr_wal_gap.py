"""A WAL segment missing from the repository, or corrupted in it: `restore --to` refuses before it stops or rewrites
anything (issue 21's acceptance), naming the segment and the time the archive reaches; the old cluster keeps
running with every sale, maintenance is off again, the refused run is recorded. On a cluster of the test's own (an
encrypted repository); marked slow: a cluster, a full backup and a safety dump per case take a minute or two."""

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ops.tests.pitr_cluster import read_sales, start_cluster, stop_cluster

pytestmark = [pytest.mark.slow]


@pytest.fixture
def cluster():
    made = start_cluster()
    yield made
    stop_cluster(made)


def _sell(cluster, shop: str, count: int, mark_after: int = 0) -> tuple[list[dict], float | None]:
    seller = cluster.shop("sell", "--shop", shop, "--every", "0.2", "--count", str(count),
                          "--mark-after", str(mark_after), stdout=subprocess.PIPE)  # fmt: skip
    sales, mark = read_sales(seller.communicate(timeout=120)[0].splitlines())
    assert len(sales) == count
    cluster.manage("pitr", "check")  # the segment switched and archived (the switch task's job in production)
    return sales, mark


def _segments(cluster) -> list[Path]:
    """The archived WAL segments' files in the repository, oldest first (no backup labels or history files)."""
    files = (cluster.root / "pgbackrest" / "repo" / "archive" / "tillhouse").glob("*/*/*")
    return sorted((f for f in files if len(f.name.split("-")[0]) == 24), key=lambda f: f.name)


def _state(cluster) -> dict:
    with cluster.connect() as conn:
        newest = conn.execute("SELECT max(number) FROM billing_receipt").fetchone()[0]
        read_only = conn.execute("SELECT current_setting('default_transaction_read_only')").fetchone()[0]
        system = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0]
        timeline = conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()[0]
    with cluster.connect("postgres") as conn:
        flagged = 0
        if conn.execute("SELECT to_regclass('tillhouse_maintenance')").fetchone()[0]:
            flagged = conn.execute("SELECT count(*) FROM tillhouse_maintenance").fetchone()[0]
    return {"pid": cluster.pid(), "system": system, "timeline": timeline, "newest": newest, "read_only": read_only,
            "maintenance": flagged}  # fmt: skip


def _history_with_a_damaged_segment(cluster) -> tuple[list[dict], Path, float, float]:
    """Sales, a full backup, three more batches each closing its segment; returns every sale, the segment file
    holding the second batch, a moment after the third batch and one between the first two sales after the
    backup (before the damaged segment)."""
    out, _ = cluster.shop("setup", stdout=subprocess.PIPE).communicate(timeout=120)
    shop = out.strip().splitlines()[-1]
    sales, _ = _sell(cluster, shop, 3)
    cluster.manage("pitr", "backup", "--type", "full")
    first, mark = _sell(cluster, shop, 3, mark_after=1)
    before_second = {f.name for f in _segments(cluster)}
    second, _ = _sell(cluster, shop, 3)
    damaged = next(f for f in _segments(cluster) if f.name not in before_second)
    third, _ = _sell(cluster, shop, 3)
    time.sleep(1)
    assert mark is not None
    return sales + first + second + third, damaged, time.time(), mark


def _assert_refused_and_untouched(cluster, out, segment: str, before: dict, sales: list[dict]) -> None:
    print(f"\n{out.stdout}\n{out.stderr}")
    assert out.returncode != 0
    assert f"WAL segment {segment}" in out.stderr and "the archive reaches" in out.stderr
    assert "nothing was stopped or rewritten" in out.stderr
    assert _state(cluster) == before  # the same server process, system, timeline and newest sale; no maintenance
    assert sorted(cluster.receipts()) == sorted(s["receipt"] for s in sales)
    with cluster.connect() as conn:
        refused = conn.execute(
            "SELECT target, error FROM ops_pitrrun WHERE kind = 'restore' AND status = 'failed' ORDER BY id DESC"
        ).fetchone()
    assert refused is not None and segment in refused[1]


def test_a_segment_missing_from_the_repository_stops_the_restore_before_anything_is_rewritten(cluster):
    sales, damaged, after, _ = _history_with_a_damaged_segment(cluster)
    segment = damaged.name[:24]
    damaged.unlink()
    before = _state(cluster)
    assert before["maintenance"] == 0 and before["read_only"] == "off" and before["newest"] == 12

    latest = cluster.manage("restore", "--to", "latest", "--yes", check=False)
    _assert_refused_and_untouched(cluster, latest, segment, before, sales)
    assert "is missing from the repository" in latest.stderr

    instant = datetime.fromtimestamp(after, tz=UTC).isoformat()
    to_instant = cluster.manage("restore", "--to", instant, "--yes", check=False)
    _assert_refused_and_untouched(cluster, to_instant, segment, before, sales)


def test_a_corrupted_segment_in_the_repository_stops_the_restore_before_anything_is_rewritten(cluster):
    sales, damaged, _, _ = _history_with_a_damaged_segment(cluster)
    segment = damaged.name[:24]
    data = bytearray(damaged.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    damaged.write_bytes(bytes(data))
    before = _state(cluster)

    latest = cluster.manage("restore", "--to", "latest", "--yes", check=False)
    _assert_refused_and_untouched(cluster, latest, segment, before, sales)
    assert "is corrupt" in latest.stderr


def test_a_gap_after_the_instant_does_not_stop_a_restore_to_it(cluster):
    """The archive needs to reach the instant only: a segment missing after it refuses nothing."""
    sales, damaged, _, mark = _history_with_a_damaged_segment(cluster)
    damaged.unlink()
    instant = datetime.fromtimestamp(mark, tz=UTC).isoformat()

    restored = cluster.manage("restore", "--to", instant, "--yes")
    print(f"\n{restored.stdout}")
    assert "archive_check" in restored.stdout
    assert set(cluster.receipts()) == {s["receipt"] for s in sales if s["at"] < mark} == {1, 2, 3, 4}
