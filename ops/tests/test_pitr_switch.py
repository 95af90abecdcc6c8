"""Beat's forced WAL switch (ops.backups.pitr.switch_if_work_waiting) on a cluster of the test's own whose
archive_timeout is off: with steady sales, committed work reaches the archive within the RPO; while the shop is
idle, nothing is switched. The end-to-end test runs a real Celery worker with its beat (marked slow: minutes)."""

import subprocess
import sys
import time

import pytest

from ops.backups import pitr
from ops.backups.engines import DatabaseTarget
from ops.tests.pitr_cluster import read_sales, start_cluster, stop_cluster
from ops.tests.servers import ROOT, stop

RPO_SECONDS = 60
SELLING_SECONDS = 130
IDLE_SECONDS = 45


def _segment_end(walfile: str) -> int:
    log, seg = int(walfile[8:16], 16), int(walfile[16:24], 16)
    return log * 0x100000000 + (seg + 1) * pitr.WAL_SEGMENT_BYTES


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@pytest.fixture
def cluster():
    # archive_timeout off: only the switch task can bound the recovery point (as where the checkpointer's timer
    # does not fire).
    made = start_cluster(conf="archive_timeout = 0\n", PITR_WATCH_ONLY="True", PITR_SWITCH_SECONDS="20")
    yield made
    stop_cluster(made)


def _worker_with_beat(cluster, tmp_path) -> subprocess.Popen:
    log = (tmp_path / "celery.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "posproject", "worker", "-B", "--concurrency=2", "--loglevel=INFO",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "-s", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=cluster.env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _probe(conn, target) -> dict:
    row = conn.execute(
        "SELECT pg_current_wal_lsn()::text, coalesce(last_archived_wal, ''), archived_count, "
        "pg_snapshot_xmax(pg_current_snapshot())::text FROM pg_stat_archiver"
    ).fetchone()
    with conn.cursor() as cursor:
        status = pitr.archive_status(cursor, state=pitr.load_switch_state(target))
    return {"at": time.time(), "lsn": _lsn(row[0]), "archived": row[1][:24], "count": row[2], "xmax": row[3],
            "lag": status.lag_seconds}  # fmt: skip


@pytest.mark.slow
def test_with_steady_sales_work_reaches_the_archive_within_a_minute_and_idle_makes_no_segments(cluster, tmp_path):
    out, _ = cluster.shop("setup", stdout=subprocess.PIPE).communicate(timeout=120)
    shop = out.strip().splitlines()[-1]
    target = DatabaseTarget(engine="postgresql", name="tillhouse", host="127.0.0.1", port=str(cluster.port),
                            user="postgres", password="")  # fmt: skip
    cluster.manage("pitr", "check")  # as deploy.sh does: a first segment archived (until then the lag is unknown)
    forced_before = pitr.forced_switches()[0]
    worker = _worker_with_beat(cluster, tmp_path)
    seller = None
    samples: list[dict] = []
    try:
        with cluster.connect("postgres") as conn:
            seller = cluster.shop(
                "sell", "--shop", shop, "--every", "0.5", "--count", str(SELLING_SECONDS * 2), stdout=subprocess.PIPE
            )
            while seller.poll() is None:
                samples.append(_probe(conn, target) | {"selling": True})
                time.sleep(1.0)
            sold_at = time.time()
            # the last sales reach the archive with the next tick, then the shop is idle
            while time.time() < sold_at + 30:
                samples.append(_probe(conn, target) | {"selling": False})
                time.sleep(1.0)
            idle_from = _probe(conn, target)
            time.sleep(IDLE_SECONDS)
            idle_to = _probe(conn, target)
    finally:
        stop(worker)
        if seller is not None:
            stop(seller)
    sales, _ = read_sales((seller.stdout.read() if seller.stdout else "").splitlines())
    assert len(sales) == SELLING_SECONDS * 2

    lags = []  # for each sample taken while selling: how long until the archive held everything written by then
    for i, sample in enumerate(s for s in samples if s["selling"]):
        done = next((later["at"] for later in samples if later["at"] >= sample["at"] and later["archived"]
                     and _segment_end(later["archived"]) >= sample["lsn"]), None)  # fmt: skip
        assert done is not None, f"WAL written by sample {i} was never archived: {sample}"
        lags.append(done - sample["at"])
    product_lag = max(s["lag"] for s in samples if s["selling"])
    forced = pitr.forced_switches()[0] - forced_before
    segments = samples[-1]["count"] - samples[0]["count"]
    print(f"\n{len(sales)} sales over {SELLING_SECONDS} s, archive_timeout off: WAL archived within "
          f"{max(lags):.1f} s at most (median {sorted(lags)[len(lags) // 2]:.1f} s); product's lag at most "
          f"{product_lag:.1f} s; {forced} forced switches, {segments} segments archived; idle {IDLE_SECONDS} s: "
          f"{idle_to['count'] - idle_from['count']} segments")  # fmt: skip
    assert max(lags) <= RPO_SECONDS
    assert product_lag <= RPO_SECONDS
    assert forced >= SELLING_SECONDS // 20 - 1  # the task did it (archive_timeout is off, no segment filled)
    # idle: no transaction wrote, so nothing was switched and the lag is 0 despite the server's own few bytes
    assert idle_to["xmax"] == idle_from["xmax"]
    assert idle_to["count"] == idle_from["count"]
    assert idle_to["lag"] == 0 and idle_from["lag"] == 0


def _archiver(cluster) -> tuple[str, int, int]:
    with cluster.connect("postgres") as conn:
        return conn.execute(
            "SELECT coalesce(last_archived_wal, ''), archived_count, failed_count FROM pg_stat_archiver"
        ).fetchone()


def _until(condition, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.mark.slow
def test_the_switch_closes_a_segment_only_for_new_work_and_never_piles_segments_up_while_pushes_fail(cluster):
    cluster.manage("pitr", "check")
    switch = lambda: cluster.manage("pitr", "switch").stdout.strip().splitlines()[-1]  # noqa: E731
    ready = lambda: len(list((cluster.data / "pg_wal" / "archive_status").glob("*.ready")))  # noqa: E731
    with cluster.connect() as shop, cluster.connect("postgres") as admin:
        shop.execute("CREATE TABLE scratch (x int)")
        # committed work: one segment closed and archived; nothing written since: nothing closed
        shop.execute("INSERT INTO scratch VALUES (1)")
        archived = _archiver(cluster)[1]
        assert switch() == "switched"
        _until(lambda: _archiver(cluster)[1] > archived, "the forced segment to be archived")
        archived = _archiver(cluster)[1]
        assert switch() == "idle"
        time.sleep(2)
        assert _archiver(cluster)[1] == archived and ready() == 0

        # pushes fail: the one forced segment waits, later work does not make more of them
        admin.execute("ALTER SYSTEM SET archive_command = 'false'")
        admin.execute("SELECT pg_reload_conf()")
        time.sleep(1)
        shop.execute("INSERT INTO scratch VALUES (2)")
        assert switch() == "switched"
        _until(lambda: _archiver(cluster)[2] > 0, "the push to fail")
        for n in range(3, 6):
            shop.execute("INSERT INTO scratch VALUES (%s)", [n])
            assert switch() == "waiting"
        assert ready() == 1

        # pushes work again: the waiting segment goes, then the work written meanwhile is closed and goes too
        admin.execute("ALTER SYSTEM RESET archive_command")
        admin.execute("SELECT pg_reload_conf()")
        _until(lambda: ready() == 0, "the waiting segment to be archived")
        assert switch() == "switched"
        _until(lambda: ready() == 0 and _archiver(cluster)[1] >= archived + 2, "the new segment to be archived")
    status = cluster.manage("pitr", "status").stdout
    assert "forced WAL switches:" in status
