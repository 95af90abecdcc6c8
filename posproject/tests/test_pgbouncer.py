"""Tillhouse behind PgBouncer in transaction pooling mode: PgBouncer (Debian's) on a spare port in front of the test
PostgreSQL, and the checkout concurrency and idempotency tests run again through it, in their own pytest process
with `DATABASE_TRANSACTION_POOLING=True`. PgBouncer's own statistics show the transactions went through it."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from posproject.tests.test_deploy import _binary
from posproject.tests.test_deploy_gunicorn import ROOT, _stop
from posproject.tests.test_production_stack import _spare_port

pytestmark = pytest.mark.slow

THROUGH_IT = ["billing/tests/test_checkout_concurrency.py", "orders/tests/test_idempotency.py"]


def _psql(port: int, sql: str) -> str:
    out = subprocess.run(
        [_binary("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "pgbouncer", "-At", "-F", "|",
         "-c", sql],
        capture_output=True,
        text=True,
        timeout=10,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def pgbouncer():
    binary = _binary("pgbouncer")
    db = connection.settings_dict
    port = _spare_port()
    # PgBouncer will not run as root: started as root it switches to the postgres user (-u), who must be able to
    # write its log and pid file, so its directory is its own rather than under pytest's private tmp directory.
    directory = Path(tempfile.mkdtemp(prefix="tillhouse-pgbouncer-"))
    (directory / "users.txt").write_text(f'"{db["USER"]}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory}/users.txt\nadmin_users = {db['USER']}\n"
        "pool_mode = transaction\nmax_client_conn = 300\ndefault_pool_size = 20\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {directory}/pgbouncer.log\npidfile = {directory}/pgbouncer.pid\n"
    )
    command = [binary, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        for name in ("users.txt", "pgbouncer.ini"):
            shutil.chown(directory / name, "postgres")
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _psql(port, "SHOW VERSION")
                break
            except AssertionError:
                assert process.poll() is None, (directory / "pgbouncer.log").read_text()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield port, directory
    finally:
        _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


def test_the_checkout_concurrency_and_idempotency_tests_pass_through_pgbouncer_in_transaction_mode(pgbouncer):
    port, directory = pgbouncer
    assert "pool_mode = transaction" in (directory / "pgbouncer.ini").read_text()
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "PYTEST_CURRENT_TEST"}}
    env.update(
        {
            "TEST_DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{port}/postgres",
            "TEST_DB_NAME": f"{db['NAME']}_via_pgbouncer",
            "TEST_REDIS_URL": settings.REDIS_URL,
            "DATABASE_TRANSACTION_POOLING": "True",
        }
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--create-db", *THROUGH_IT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    print(f"[pgbouncer] through PgBouncer (transaction pooling): {summary}")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary

    stats = {row.split("|")[0]: row.split("|") for row in _psql(port, "SHOW STATS").splitlines()}
    test_database = stats[f"{db['NAME']}_via_pgbouncer"]
    transactions = int(test_database[1])  # total_xact_count
    assert transactions > 100, test_database
    print(f"[pgbouncer] {transactions} transactions through PgBouncer to the test database")
