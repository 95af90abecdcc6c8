"""Backup, restore and restore-drill times on a ~1 GB PostgreSQL database, next to raw pg_dump -Fc / pg_restore.

Creates a throwaway database (tillhouse_bak_bench), migrates it, fills it with --size-mb of payment-like rows via
generate_series, then in the same run times:

  * raw `pg_dump -Fc -f FILE`                          vs  `ops.backups.services.create_backup()`
    (ours also counts every table in the dump's snapshot, streams through sha256, re-reads the stored archive,
    lists it and writes the manifest);
  * raw `createdb` + `pg_restore -d DB FILE`           vs  `restore_backup()` into an empty database
    (ours also checks the archive's sha256 first, restores into a side database, compares per-table counts
    with the manifest and renames it into place; migrations are not run);
  * the restore drill (`run_drill()`): its measured RTO.

Each pair runs --rounds times, alternating, and the medians are compared. Budget: ours ≤ 1.15× raw for backup and
restore, drill RTO < 120 s. Everything it creates (databases, archives) is removed at the end.

    .venv/bin/python bench/backup.py                 # ~1 GB
    .venv/bin/python bench/backup.py --size-mb 200   # quicker
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_RATIO = 1.15
BUDGET_RTO_S = 120.0
BYTES_PER_ROW = 140  # measured on PostgreSQL 15 for the row below, including its primary key index


def psql(sql: str, *, db: str = "postgres", base: list[str]) -> str:
    out = subprocess.run([*base, "-d", db, "-Atqc", sql], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def payment_table_sql(rows: int) -> list[str]:
    """The statements that add `bench_payment`, `rows` payment-like rows (about BYTES_PER_ROW each) with a primary
    key, vacuumed and analysed (bench/pitr.py builds its database with them too)."""
    fill = f"""
        CREATE TABLE bench_payment AS
        SELECT g AS id, md5(g::text) AS reference,
               (((g::bigint * 7919) % 100000) / 100.0)::numeric(12, 2) AS amount,
               timestamptz '2026-01-01' + g * interval '1 second' AS created_at,
               CASE WHEN g % 3 = 0 THEN 'card' WHEN g % 3 = 1 THEN 'cash' ELSE 'voucher' END AS tender,
               repeat(chr(97 + (g % 26)), (g % 40)) AS note
        FROM generate_series(1, {int(rows)}) AS g
    """  # noqa: S608 - our own numbers
    return [fill, "ALTER TABLE bench_payment ADD PRIMARY KEY (id)", "VACUUM ANALYZE bench_payment"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the generated table (default 1024)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--name", default="tillhouse_bak_bench")
    args = parser.parse_args()

    base = ["psql", "-h", args.host, "-U", args.user, "-v", "ON_ERROR_STOP=1"]
    env_pg = {**os.environ, "PGHOST": args.host, "PGUSER": args.user}
    work = Path(tempfile.mkdtemp(prefix="tillhouse-bench-backup-"))
    scratch = [args.name, f"{args.name}_raw", f"{args.name}_ours", f"{args.name}_ours_restoring"]

    def drop_all():
        for db in scratch:
            psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', base=base)
        drills = f"SELECT datname FROM pg_database WHERE datname LIKE '{args.name}_drill_%'"  # noqa: S608
        for db in psql(drills, base=base).split():
            psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', base=base)

    try:
        drop_all()
        psql(f'CREATE DATABASE "{args.name}"', base=base)
        url = f"postgres://{args.user}@{args.host}:5432/{args.name}"
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
        env.update(DATABASE_URL=url, LOG_LEVEL="WARNING", DEBUG="True")
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)

        rows = args.size_mb * 1024 * 1024 // BYTES_PER_ROW
        generate = time.perf_counter()
        for statement in payment_table_sql(rows):
            psql(statement, db=args.name, base=base)
        size = int(psql(f"SELECT pg_database_size('{args.name}')", base=base))
        print(
            f"database {args.name}: {rows:,} rows, {size / 2**20:,.0f} MiB, generated in "
            f"{time.perf_counter() - generate:.0f} s"
        )

        os.environ.update(
            DATABASE_URL=url,
            BACKUP_DIR=str(work / "backups"),
            BACKUP_SCRATCH_DB_PREFIX=f"{args.name}_drill_",
            LOG_LEVEL="WARNING",
            DEBUG="True",
        )
        os.environ.pop("PYTEST_VERSION", None)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posproject.settings")
        import django

        django.setup()
        from ops.backups import services
        from ops.backups.engines import DatabaseTarget
        from ops.models import BackupRecord

        raw_dump = work / "raw.dump"
        results = {"raw_dump": [], "ours_dump": [], "raw_restore": [], "ours_restore": []}
        record = None
        for _ in range(args.rounds):
            raw_dump.unlink(missing_ok=True)
            results["raw_dump"].append(
                timed(
                    lambda: subprocess.run(["pg_dump", "-Fc", "-f", str(raw_dump), args.name], env=env_pg, check=True)
                )
            )

            def ours():
                nonlocal record
                record = services.create_backup(kind=BackupRecord.Kind.MANUAL)
                assert record.status == "succeeded", record.error

            results["ours_dump"].append(timed(ours))

            psql(f'DROP DATABASE IF EXISTS "{args.name}_raw"', base=base)

            def raw_restore():
                subprocess.run(["createdb", f"{args.name}_raw"], env=env_pg, check=True)
                subprocess.run(["pg_restore", "-d", f"{args.name}_raw", str(raw_dump)], env=env_pg, check=True)

            results["raw_restore"].append(timed(raw_restore))
            psql(f'DROP DATABASE IF EXISTS "{args.name}_raw" WITH (FORCE)', base=base)

            target = DatabaseTarget.from_settings().with_name(f"{args.name}_ours")
            results["ours_restore"].append(
                timed(lambda: services.restore_backup(record.name, target=target, migrate=False))  # noqa: B023
            )
            psql(f'DROP DATABASE IF EXISTS "{args.name}_ours" WITH (FORCE)', base=base)

        drill = services.run_drill(record)
        assert drill.result == "passed", drill.error
        medians = {k: statistics.median(v) for k, v in results.items()}
        dump_ratio = medians["ours_dump"] / medians["raw_dump"]
        restore_ratio = medians["ours_restore"] / medians["raw_restore"]

        print(f"archive: {record.bytes / 2**20:,.0f} MiB (raw pg_dump file {raw_dump.stat().st_size / 2**20:,.0f} MiB)")
        print(f"{'step':<28}{'raw (s)':>10}{'ours (s)':>10}{'ratio':>8}   runs")
        print(
            f"{'backup':<28}{medians['raw_dump']:>10.1f}{medians['ours_dump']:>10.1f}{dump_ratio:>8.2f}   "
            f"raw {results['raw_dump']} ours {results['ours_dump']}"
        )
        print(
            f"{'restore':<28}{medians['raw_restore']:>10.1f}{medians['ours_restore']:>10.1f}{restore_ratio:>8.2f}   "
            f"raw {results['raw_restore']} ours {results['ours_restore']}"
        )
        print(f"{'restore drill (RTO)':<28}{'':>10}{drill.duration_seconds:>10.1f}")
        ok = dump_ratio <= BUDGET_RATIO and restore_ratio <= BUDGET_RATIO and drill.duration_seconds < BUDGET_RTO_S
        print("within budget" if ok else "OVER BUDGET")
        return 0 if ok else 1
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up yet
            pass
        drop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
