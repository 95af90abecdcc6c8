"""Point-in-time recovery under load (issue 21): the archive lag during the checkout benchmark, and the RTO of
`restore --to latest` for a ~1 GB database plus an hour of WAL at that rate.

Runs on a PostgreSQL 15 cluster of its own (a spare port, a temporary directory, archive_mode on, an encrypted
pgBackRest repository beside it: the PITR acceptance tests' cluster, ops/tests/pitr_cluster.py), with the app's
settings pointed at it. The forced WAL switch runs all along as beat runs it: `ops.backups.pitr_switch_wal`, called
every PITR_SWITCH_SECONDS in a thread.

1. Archive lag under load: bench/checkout.py's load — wrk at 16 clients on POST /api/v1/checkout/ through gunicorn
   with the production settings — for --seconds, sampling every second the lag as /health reports it
   (`ops.health.check_pitr()`, pitr:archiveLag) and pg_stat_archiver. When the API does not reach 150 checkouts/s
   on this machine it says so and also drives the checkout as raw SQL with pgbench (bench/pitr_pgbench.sql:
   bench/checkout_pgbench.sql's writes plus the stock ledger's moves, which the restore checks) at --rate (default
   160/s) for --seconds. Prints checkouts/s, WAL bytes per checkout (pg_stat_wal), the lag's max and p95.
   Target: lag <= 60 s.
2. RTO: adds a generated table (bench/backup.py's) until the database is --size-gb, takes a full pgBackRest
   backup, then writes WAL equal to --wal-minutes of checkouts at the measured rate (at least 150/s) times the API's
   WAL bytes per checkout, quickly, with the pgbench checkout script; waits until all of it is archived; stops the
   cluster immediately (SIGQUIT) and deletes its data directory; times `manage.py restore --to latest --yes` (the
   product's restore: pgBackRest restore, WAL replay, migrate, counters, checks) and checks that every order is
   back. Prints the RTO and its steps (the restore's own timings). Target: RTO < 300 s.

Exits 1 when a target is missed. Needs pgbackrest, PostgreSQL 15's server binaries, wrk and pgbench, Redis; runs
as root (the cluster runs as `postgres`) or as the postgres user.

    .venv/bin/python bench/pitr.py                                             # full: 1 GB, 60 min of WAL, 120 s
    .venv/bin/python bench/pitr.py --size-gb 0.05 --wal-minutes 2 --seconds 20   # a quick trial
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.backup import BYTES_PER_ROW, payment_table_sql  # noqa: E402
from bench.checkout import need, prepare, run_wrk, start_server, wait_until_up  # noqa: E402
from ops.tests.pitr_cluster import start_cluster, stop_cluster  # noqa: E402

TARGET_PER_S = 150
TARGET_LAG_S = 60
TARGET_RTO_S = 300
CLIENTS = 16
# the cluster's postgresql.conf after the acceptance tests' (last wins): a server sized for a shop, not a test
CONF = "shared_buffers = '256MB'\nmax_connections = 100\nmax_wal_size = '2GB'\n"


class SwitchLoop(threading.Thread):
    """beat's `pitr_switch_wal`, every PITR_SWITCH_SECONDS, until stopped; counts what it answered."""

    def __init__(self, every: float):
        super().__init__(daemon=True)
        self.every, self.stopping, self.answers = every, threading.Event(), {}

    def run(self):
        from django.db import connections

        from ops.backups.tasks import pitr_switch_wal

        while not self.stopping.wait(self.every):
            try:
                answer = pitr_switch_wal()
            except Exception as exc:  # counted and shown: beat would log it and try again at the next tick
                answer = f"error: {exc}"[:80]
            self.answers[answer] = self.answers.get(answer, 0) + 1
        connections.close_all()

    def stop(self):
        self.stopping.set()
        self.join(timeout=60)


class Sampler(threading.Thread):
    """Every second: pitr:archiveLag as /health reports it, and pg_stat_archiver."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.stopping, self.samples, self.errors = cluster, threading.Event(), [], 0

    def run(self):
        from ops.health import check_pitr

        with self.cluster.connect("postgres") as conn:
            while not self.stopping.is_set():
                mark = time.monotonic()
                # the lag as /health reports it (None: nothing archived yet, an unbounded lag)
                try:
                    lag = next(o for o in check_pitr() if o.key == "pitr:archiveLag").value
                except Exception:  # the check did not answer (its statement timeout under load): counted
                    self.errors += 1
                    self.stopping.wait(max(0.0, 1.0 - (time.monotonic() - mark)))
                    continue
                archived, failed = conn.execute("SELECT archived_count, failed_count FROM pg_stat_archiver").fetchone()
                self.samples.append(
                    {"lag": float("inf") if lag is None else float(lag), "archived": archived, "failed": failed}
                )
                self.stopping.wait(max(0.0, 1.0 - (time.monotonic() - mark)))

    def stop(self) -> dict:
        self.stopping.set()
        self.join(timeout=30)
        lags = sorted(s["lag"] for s in self.samples)
        return {
            "samples": len(lags),
            "max": lags[-1] if lags else float("inf"),
            "p95": lags[max(0, round(len(lags) * 0.95) - 1)] if lags else float("inf"),
            "median": statistics.median(lags) if lags else float("inf"),
            "segments": self.samples[-1]["archived"] - self.samples[0]["archived"] if self.samples else 0,
            "failures": self.samples[-1]["failed"] - self.samples[0]["failed"] if self.samples else 0,
            "unanswered": self.errors,
        }


def wal_and_orders(cluster) -> tuple[int, int]:
    """(WAL bytes written since the statistics were reset, orders in the database)."""
    with cluster.connect() as conn:
        wal = int(conn.execute("SELECT wal_bytes FROM pg_stat_wal").fetchone()[0])
        orders = conn.execute("SELECT count(*) FROM orders_order").fetchone()[0]
    return wal, orders


def pgbench_argv(pgbench: str, cluster, data: dict, *options: str) -> list[str]:
    return [
        pgbench, "-n", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-c", str(CLIENTS), "-j", "2",
        *options, "-f", str(ROOT / "bench/pitr_pgbench.sql"),
        "-D", f"pmin={data['pmin']}", "-D", f"pmax={data['pmax']}", "-D", f"loc={data['location']}",
        "-D", f"staff={data['staff']}", "-D", f"session={data['session']}", "tillhouse",
    ]  # fmt: skip


def lag_phase(what: str, cluster, load, finish=None) -> dict:
    """Run `load()` (returns the client's own figures) while sampling, then `finish()` (ending the load's database
    sessions flushes their WAL statistics); the phase's figures."""
    wal0, orders0 = wal_and_orders(cluster)
    sampler = Sampler(cluster)
    started = time.monotonic()
    sampler.start()
    try:
        client = load()
    finally:
        seconds = time.monotonic() - started
        lag = sampler.stop()
        if finish is not None:
            finish()
            time.sleep(1)  # the ended sessions' backends exit and flush their statistics
    wal1, orders1 = wal_and_orders(cluster)
    sold = orders1 - orders0
    result = {
        "what": what,
        "per_s": client.get("per_s", sold / seconds),
        "p50_ms": client.get("p50_ms"),
        "p99_ms": client.get("p99_ms"),
        "failed": client.get("failed", 0),
        "sold": sold,
        "wal_per_checkout": (wal1 - wal0) / sold if sold else 0.0,
        **lag,
    }
    print(
        f"{what}: {result['per_s']:.1f} checkouts/s ({sold} orders, {result['failed']} failed"
        + (f", p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms" if result["p99_ms"] is not None else "")
        + "), "
        f"{result['wal_per_checkout'] / 1024:.1f} KiB WAL per checkout; archive lag max {lag['max']:.1f} s, "
        f"p95 {lag['p95']:.1f} s, median {lag['median']:.1f} s over {lag['samples']} samples"
        + (f" ({lag['unanswered']} unanswered)" if lag["unanswered"] else "")
        + "; "
        f"{lag['segments']} segments archived, {lag['failures']} archive failures",
        flush=True,
    )
    return result


def api_load(args, cluster, env: dict, data: dict, wrk: str) -> dict:
    workers = args.workers or (os.cpu_count() or 1) * 2 + 1
    log_path = Path(tempfile.mkstemp(prefix="bench-pitr-gunicorn-", suffix=".log")[1])
    with log_path.open("w") as log:
        server = start_server(args.port, env, workers, log)
        try:
            wait_until_up(args.port, data)
            run_wrk(wrk, args.port, 8, 3, data)  # warm-up, not counted

            def stop_server():
                if server.poll() is None:
                    os.killpg(server.pid, signal.SIGTERM)
                    server.wait(timeout=30)

            result = lag_phase(
                f"API, gunicorn {workers} workers, wrk {CLIENTS} clients, {args.seconds} s",
                cluster,
                lambda: run_wrk(wrk, args.port, CLIENTS, args.seconds, data),
                finish=stop_server,
            )
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    if result["per_s"] < TARGET_PER_S or result["failed"]:
        print(f"gunicorn's log: {log_path}")
    else:
        log_path.unlink()
    return result


def sql_load(args, cluster, data: dict, pgbench: str) -> dict:
    def load():
        out = subprocess.run(
            pgbench_argv(pgbench, cluster, data, "-R", str(args.rate), "-T", str(args.seconds)),
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            sys.exit(f"pgbench failed ({out.returncode}): {out.stderr[-1000:]}")
        return {"per_s": float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))}

    return lag_phase(f"raw SQL, pgbench {CLIENTS} clients at --rate {args.rate}/s, {args.seconds} s", cluster, load)


def fill(cluster, size_gb: float) -> None:
    with cluster.connect() as conn:
        have = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        rows = max(0, int(size_gb * 2**30) - have) // BYTES_PER_ROW
        mark = time.monotonic()
        if rows:
            for statement in payment_table_sql(rows):
                conn.execute(statement)
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    print(f"database: {size / 2**20:,.0f} MiB ({rows:,} generated rows added in {time.monotonic() - mark:.0f} s)")


def generate_wal(cluster, data: dict, pgbench: str, target_bytes: int) -> dict:
    """The pgbench checkout as fast as it goes until pg_stat_wal counts `target_bytes` more WAL."""
    wal0, orders0 = wal_and_orders(cluster)
    with cluster.connect() as conn:
        lsn0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    mark = time.monotonic()
    bench = subprocess.Popen(
        pgbench_argv(pgbench, cluster, data, "-T", "36000"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    reached = False
    try:
        with cluster.connect() as conn:
            while not reached and bench.poll() is None:
                time.sleep(1)
                reached = int(conn.execute("SELECT wal_bytes FROM pg_stat_wal").fetchone()[0]) - wal0 >= target_bytes
    finally:
        if bench.poll() is None:
            bench.send_signal(signal.SIGINT)
        _, err = bench.communicate(timeout=60)
    if not reached:
        sys.exit(f"pgbench stopped before the WAL was written ({bench.returncode}): {err[-500:]}")
    seconds = time.monotonic() - mark
    wal1, orders1 = wal_and_orders(cluster)
    with cluster.connect() as conn:
        span = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn0]).fetchone()[0]
    return {"bytes": wal1 - wal0, "span": int(span), "orders": orders1 - orders0, "seconds": seconds}


def parse_timings(stdout: str) -> dict[str, float]:
    return {step: float(s) for step, s in re.findall(r"^\s+([a-z_]+)\s+([\d.]+)s$", stdout, re.MULTILINE)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=1.0, help="database size for the RTO (default 1)")
    parser.add_argument("--wal-minutes", type=float, default=60.0, help="minutes of checkouts' WAL (default 60)")
    parser.add_argument("--seconds", type=int, default=120, help="length of each load run (default 120)")
    parser.add_argument("--rate", type=int, default=160, help="pgbench's checkouts/s when it drives the load")
    parser.add_argument("--sql-load", action="store_true", help="drive the raw-SQL load even if the API reaches 150/s")
    parser.add_argument("--port", type=int, default=8211)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: its config's)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="cache and print-job broker")
    args = parser.parse_args()
    wrk, pgbench = need("wrk", "wrk"), need("pgbench", "postgresql-client")

    started = time.monotonic()
    with open("/proc/loadavg") as f:
        print(f"load average before: {' '.join(f.read().split()[:3])}", flush=True)
    os.environ["REDIS_URL"] = args.redis_url  # the cluster's settings (service_env) take it from here
    os.environ["TEST_REDIS_URL"] = args.redis_url
    cluster = start_cluster(conf=CONF)
    switches = None
    try:
        print(f"cluster on port {cluster.port} set up in {time.monotonic() - started:.0f} s", flush=True)
        os.environ.update(cluster.env, DJANGO_SETTINGS_MODULE="posproject.settings")
        import django

        django.setup()
        from django.conf import settings
        from django.db import connections

        from ops.backups import pitr
        from ops.backups.engines import DatabaseTarget

        data = prepare(clients=CLIENTS)
        connections.close_all()
        target = DatabaseTarget.from_settings()
        pitr.switch_and_wait_archived(target)  # a steady start: everything so far archived, then beat's loop
        switches = SwitchLoop(settings.PITR_SWITCH_SECONDS)
        switches.start()
        print(f"forced WAL switch every {settings.PITR_SWITCH_SECONDS} s (PITR_SWITCH_SECONDS)", flush=True)

        # 1. the archive lag under load
        web_env = {k: v for k, v in cluster.env.items() if k != "CONN_MAX_AGE"}  # production's persistent ones
        web_env.update(DEBUG="False", ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="False")
        phases = [api_load(args, cluster, web_env, data, wrk)]
        api = phases[0]
        if api["per_s"] < TARGET_PER_S:
            print(f"the API reached {api['per_s']:.1f} checkouts/s here, under {TARGET_PER_S}/s: the same writes "
                  f"as raw SQL with pgbench at {args.rate}/s too", flush=True)  # fmt: skip
        if api["per_s"] < TARGET_PER_S or args.sql_load:
            phases.append(sql_load(args, cluster, data, pgbench))
        _drop_queued_print_jobs(args.redis_url)
        at_rate = [p for p in phases if p["per_s"] >= TARGET_PER_S]
        lag_ok = bool(at_rate) and all(p["max"] <= TARGET_LAG_S and p["failures"] == 0 for p in at_rate)

        # 2. RTO: ~size-gb, a full backup, wal-minutes of WAL at the rate, the cluster destroyed, restore --to latest
        fill(cluster, args.size_gb)
        mark = time.monotonic()
        pitr.switch_and_wait_archived(target, deadline=3600)  # the generated table's WAL pushed before the backup
        print(f"its WAL archived {time.monotonic() - mark:.0f} s later", flush=True)
        mark = time.monotonic()
        cluster.manage("pitr", "backup", "--type", "full", timeout=3600)
        print(f"full pgBackRest backup in {time.monotonic() - mark:.0f} s", flush=True)
        rate = max(TARGET_PER_S, api["per_s"])
        wanted = int(api["wal_per_checkout"] * rate * args.wal_minutes * 60)
        print(f"WAL of {args.wal_minutes:g} min at {rate:.1f} checkouts/s x {api['wal_per_checkout'] / 1024:.1f} KiB "
              f"(the API's) = {wanted / 2**20:,.0f} MiB to write", flush=True)  # fmt: skip
        wal = generate_wal(cluster, data, pgbench, wanted)
        print(f"written: {wal['bytes'] / 2**20:,.0f} MiB of WAL records ({wal['span'] / 2**20:,.0f} MiB of WAL "
              f"segments), {wal['orders']:,} pgbench checkouts in {wal['seconds']:.0f} s", flush=True)  # fmt: skip
        mark = time.monotonic()
        switches.stop()
        pitr.switch_and_wait_archived(target, deadline=3600)
        print(f"archive caught up {time.monotonic() - mark:.0f} s after the WAL was written", flush=True)
        _, orders = wal_and_orders(cluster)
        connections.close_all()
        cluster.destroy(sig=signal.SIGQUIT)  # immediate stop, data directory deleted
        mark = time.monotonic()
        restored = cluster.manage("restore", "--to", "latest", "--yes", timeout=3600, check=False)
        rto = time.monotonic() - mark
        if restored.returncode != 0:
            print(restored.stdout, restored.stderr)
            print(f"restore --to latest FAILED after {rto:.1f} s")
            return 1
        _, back = wal_and_orders(cluster)
        steps = parse_timings(restored.stdout)
        print(f"RTO: restore --to latest {rto:.1f} s (target < {TARGET_RTO_S} s); {back:,} of {orders:,} orders back")
        for step, seconds in steps.items():
            print(f"  {step:<20} {seconds:8.1f} s")
        rto_ok = rto < TARGET_RTO_S and back == orders

        print()
        for p in phases:
            lag_met = p["max"] <= TARGET_LAG_S and p["failures"] == 0
            verdict = (
                ("OK" if lag_met else "MISSED")
                if p["per_s"] >= TARGET_PER_S
                else (
                    f"lag {'within' if lag_met else 'over'} {TARGET_LAG_S} s, but under {TARGET_PER_S}/s: not counted"
                )
            )
            print(f"archive lag, {p['what']}: {p['per_s']:.1f}/s, max {p['max']:.1f} s, p95 {p['p95']:.1f} s "
                  f"(target <= {TARGET_LAG_S} s at >= {TARGET_PER_S}/s): {verdict}")  # fmt: skip
        if not at_rate:
            print(f"archive lag: no load reached {TARGET_PER_S}/s: MISSED")
        print(f"forced switches: {switches.answers}")
        print(f"RTO {rto:.1f} s for {args.size_gb:g} GB + {args.wal_minutes:g} min of WAL "
              f"(target < {TARGET_RTO_S} s): {'OK' if rto_ok else 'MISSED'}")  # fmt: skip
        with open("/proc/loadavg") as f:
            print(f"load average after: {' '.join(f.read().split()[:3])}; {time.monotonic() - started:.0f} s in all")
        return 0 if lag_ok and rto_ok else 1
    finally:
        if switches is not None and switches.is_alive():
            switches.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up yet
            pass
        stop_cluster(cluster)


def _drop_queued_print_jobs(redis_url: str) -> None:
    """No printing worker runs during the bench: drop the receipts it queued (their rows stay `queued`)."""
    import redis

    redis.Redis.from_url(redis_url).delete("celery")


if __name__ == "__main__":
    sys.exit(main())
