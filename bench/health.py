"""Latency of the health probes under 16 concurrent clients, next to a bare Django view in the same run.

Starts gunicorn (production settings plus one bare view: bench/health_site.py, bench/health_urls.py) against a
migrated PostgreSQL database and Redis, then runs wrk (apt-get install -y wrk) against each endpoint in interleaved
rounds (bare, live, full, bare, live, full, ...) so that a busy machine slows all three alike:

  * bare     GET /bench/bare      a view returning "ok": the floor every request pays (middleware, WSGI, gunicorn)
  * live     GET /health/live     budget: p50 and p99 within 1.2x of the bare view
  * full     GET /health          budget: p99 < 100 ms (the report is kept in the cache HEALTH_CACHE_SECONDS)

It prints, per endpoint, the median over the rounds of wrk's p50 and p99 and the requests per second, and exits
non-zero when a budget is missed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tillhouse_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/health.py --port 8250 --rounds 5 --seconds 5 --workers 4
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = {"bare": "/bench/bare", "live": "/health/live", "full": "/health"}
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_percentiles(output: str) -> dict:
    figures = {}
    for label in ("50", "99"):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        figures[f"p{label}"] = float(match.group(1)) * UNITS[match.group(2)]
    figures["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    figures["errors"] = int(non_2xx.group(1)) if non_2xx else 0
    return figures


def wait_for(url: str, deadline: float = 90) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (local server)
                return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url}")


def ensure_database(url: str) -> None:
    """Create the benchmark database if this machine has none yet (it is migrated next)."""
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8250)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="per endpoint per round")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        help="gunicorn's max_requests (0: workers are not recycled). Production recycles a worker every 2,000 "
        "requests, which at this benchmark's 2,000+ requests/s restarts each worker every few seconds: pass 2000 "
        "to see what those restarts cost",
    )
    args = parser.parse_args()

    if not shutil.which("wrk"):
        print("wrk is needed: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tillhouse_bench")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.health_site",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": env.get("SECRET_KEY") or "bench-only-secret-key-0000000000000000000000000000000000",
            "DEBUG": "False",
            "SECURE_SSL_REDIRECT": "False",
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",  # the bare view's access line would otherwise cost it a write the probes skip
            "GUNICORN_BIND": f"127.0.0.1:{args.port}",
            "WEB_CONCURRENCY": str(args.workers),
            "GUNICORN_MAX_REQUESTS": str(args.max_requests),
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-health-prom-"),
        }
    )
    python = sys.executable
    ensure_database(database_url)
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    log = open(os.devnull, "wb")  # noqa: SIM115 (closed with the server)
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "posproject.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{args.port}"
    rounds: dict[str, list[dict]] = {}
    try:
        wait_for(base + "/health/live")
        for path in ENDPOINTS.values():  # warm every worker's connections and caches
            subprocess.run(["wrk", "-t2", "-c16", "-d2s", base + path], capture_output=True, check=True)
        for _ in range(args.rounds):
            for name, path in ENDPOINTS.items():
                out = subprocess.run(
                    ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", base + path],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                rounds.setdefault(name, []).append(wrk_percentiles(out))
        results = {
            name: {key: statistics.median(r[key] for r in runs) for key in ("p50", "p99", "rps")}
            | {"errors": sum(r["errors"] for r in runs)}
            for name, runs in rounds.items()
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    print(
        f"{args.connections} connections, {args.workers} gunicorn workers (max_requests {args.max_requests}), "
        f"{args.rounds} rounds of {args.seconds} s per endpoint (medians over rounds)"
    )
    print(f"{'endpoint':<8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9} {'non-2xx':>8}")
    for name, figures in results.items():
        print(f"{name:<8} {figures['p50']:>8.2f} {figures['p99']:>8.2f} {figures['rps']:>9.0f} {figures['errors']:>8}")
    bare, live, full = results["bare"], results["live"], results["full"]
    failures = []
    for pct in ("p50", "p99"):
        ratio = live[pct] / bare[pct]
        print(f"live/bare {pct}: {ratio:.2f}x (budget 1.2x)")
        if ratio > 1.2:
            failures.append(f"live {pct} is {ratio:.2f}x the bare view")
    if full["p99"] >= 100:
        failures.append(f"/health p99 {full['p99']:.1f} ms >= 100 ms")
    if live["errors"] or bare["errors"]:
        failures.append("non-2xx answers")
    for failure in failures:
        print("OVER BUDGET:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
