"""A restore run while four tills sell through gunicorn (issue 16): no sale answered 201 is lost (each is in the
restored database or in the pre-restore safety copy), writes during the restore are refused with 503
`maintenance`, no (register, receipt number) pair belongs to two sales, and numbers go on above the highest one
issued. Slow (gunicorn, pg_dump, pg_restore): `make test-faults`."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection, connections

from ops.tests.backup_helpers import RUN_TAG, drop_database
from ops.tests.servers import get, post_checkout, service_env, start_gunicorn, stop, wait_until
from orders.tests.helpers import open_register, stocked_product
from staff.api_clients import create_api_client

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

CLIENTS = 4
SELL_BEFORE_BACKUP, SELL_AFTER_BACKUP, SELL_AFTER_RESTORE = 2.0, 3.0, 3.0
CLIENT_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Attempt:
    started: float
    finished: float
    status: int | None
    code: str = ""
    order_uuid: str = ""
    receipt_number: int | None = None
    retry_after: str = ""


def _checkout(port: int, token: str, register_id: int, product_id: int) -> Attempt:
    began = time.monotonic()
    status, body, headers, error = post_checkout(port, token, register_id, product_id, timeout=CLIENT_TIMEOUT)
    if status is None:
        return Attempt(began, time.monotonic(), None, code=error.split(":")[0])
    attempt = Attempt(began, time.monotonic(), status, retry_after=headers.get("Retry-After", ""))
    if status == 201:
        attempt.order_uuid, attempt.receipt_number = body["order"]["uuid"], body["receipt"]["number"]
    else:
        attempt.code = str(body.get("code", body.get("raw", "")[:100]))
    return attempt


def _manage(database_url: str, backup_dir: Path, *args) -> subprocess.CompletedProcess:
    env = service_env(DATABASE_URL=database_url, BACKUP_DIR=str(backup_dir), DEBUG="True", LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _sales(dbname: str, register_id: int) -> dict[str, int]:
    """{order uuid: receipt number} of the register's sales in `dbname`."""
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=dbname) as conn:
        rows = conn.execute(
            "SELECT o.uuid::text, r.number FROM billing_receipt r JOIN orders_order o ON o.id = r.order_id "
            "WHERE r.register_id = %s AND r.kind = 'sale'",
            [register_id],
        ).fetchall()
    return dict(rows)


def _safety_file(restore_output: str, backup_dir: Path) -> str:
    """The archive of the safety copy the restore names (by its backup name)."""
    named = re.search(r"safety backup taken first: (\S+)", restore_output)
    assert named, restore_output
    archives = [p for p in backup_dir.glob(f"**/{named.group(1)}.*") if not p.name.endswith(".manifest.json")]
    assert len(archives) == 1, archives
    return str(archives[0].relative_to(backup_dir))


@pytest.fixture
def web(tmp_path):
    port = _free_port()
    name = connection.settings_dict["NAME"]
    database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
    backup_dir = tmp_path / "backups"
    env = service_env(
        DATABASE_URL=database_url,
        REDIS_URL=settings.REDIS_URL,
        ALLOWED_HOSTS="127.0.0.1",
        DB_CONNECT_TIMEOUT=2,
        MAINTENANCE_CHECK_SECONDS=0.5,
        MAINTENANCE_RETRY_AFTER=5,
        BACKUP_DIR=backup_dir,
        PROMETHEUS_MULTIPROC_DIR=tmp_path / "prometheus",
    )
    server = start_gunicorn(port, workers=2, env=env, log_path=tmp_path / "gunicorn.log")
    safety_db = f"tillhouse_bak_{RUN_TAG}safety_copy"
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{port}/health/live")[0] == 200, deadline=90, interval=0.5)
        yield port, database_url, backup_dir, safety_db
    finally:
        stop(server)
        drop_database(safety_db)
        redis.Redis.from_url(settings.REDIS_URL).flushdb()  # receipts' print tasks nobody consumes


def test_a_restore_while_four_tills_sell_loses_no_sale_and_reuses_no_receipt_number(web, location, capsys):
    port, database_url, backup_dir, safety_db = web
    register = open_register(location)
    product = stocked_product(location, on_hand="1000000", price="2.50")
    token = create_api_client(name="restore-till", scope="sell", locations=[location])[1]
    assert _checkout(port, token, register.pk, product.pk).status == 201  # warm

    attempts: list[Attempt] = []
    lock, stop_selling = threading.Lock(), threading.Event()

    def till():
        while not stop_selling.is_set():
            attempt = _checkout(port, token, register.pk, product.pk)
            with lock:
                attempts.append(attempt)
            if attempt.status != 201:
                time.sleep(0.05)

    tills = [threading.Thread(target=till) for _ in range(CLIENTS)]
    for thread in tills:
        thread.start()
    try:
        time.sleep(SELL_BEFORE_BACKUP)
        backup = _manage(database_url, backup_dir, "backup", "--kind", "daily")
        assert backup.returncode == 0, backup.stderr
        time.sleep(SELL_AFTER_BACKUP)  # these sales are in no backup yet: only the safety copy will hold them
        restore_started = time.monotonic()
        restore = _manage(database_url, backup_dir, "restore", "latest", "--yes")
        restore_ended = time.monotonic()
        assert restore.returncode == 0, restore.stderr
        time.sleep(SELL_AFTER_RESTORE)
    finally:
        stop_selling.set()
        for thread in tills:
            thread.join(CLIENT_TIMEOUT + 5)
    connections.close_all()  # the restore ended this process's session too

    # The safety copy, restored into its own database to be read.
    safety_file = _safety_file(restore.stdout, backup_dir)
    drop_database(safety_db)
    copied = _manage(
        f"postgres://postgres@127.0.0.1:5432/{safety_db}", backup_dir, "restore", str(backup_dir / safety_file)
    )
    assert copied.returncode == 0, copied.stderr

    created = [a for a in attempts if a.status == 201]
    refused = [a for a in attempts if a.status == 503]
    maintenance = [a for a in refused if a.code == "maintenance"]
    restored, safety = _sales(connection.settings_dict["NAME"], register.pk), _sales(safety_db, register.pk)
    lost = [a.order_uuid for a in created if a.order_uuid not in restored and a.order_uuid not in safety]
    with capsys.disabled():
        print(
            f"\nRestore under {CLIENTS} tills: {restore_ended - restore_started:.1f} s; attempts {len(attempts)}, "
            f"201 {len(created)}, 503 maintenance {len(maintenance)}, other 503 {len(refused) - len(maintenance)}, "
            f"no answer {sum(a.status is None for a in attempts)}; sales in the restored database {len(restored)}, "
            f"in the safety copy {len(safety)}, answered 201 but in neither {len(lost)}"
        )
        print(restore.stdout)

    # Every sale answered 201 is in the restored database or in the safety copy, key by key.
    assert lost == []
    # Nothing but sales and refusals; writes during the restore were refused as maintenance, with a Retry-After.
    assert {a.status for a in attempts} <= {201, 503}, {(a.status, a.code) for a in attempts}
    assert {a.code for a in refused} <= {"maintenance", "unavailable"}, {a.code for a in refused}
    assert maintenance and all(a.retry_after == "5" for a in maintenance)
    # No (register, number) pair belongs to two sales: not on paper (the answers) and not across the databases.
    numbers = [a.receipt_number for a in created]
    assert len(numbers) == len(set(numbers))
    owners: dict[int, set[str]] = {}
    for sales in (restored, safety):
        for order_uuid, number in sales.items():
            owners.setdefault(number, set()).add(order_uuid)
    assert {n: u for n, u in owners.items() if len(u) > 1} == {}
    # The restore went back in time (sales after the backup are only in the safety copy) and numbers went on
    # above the highest one issued before it.
    highest_before = max(safety.values())
    after = sorted(number for order_uuid, number in restored.items() if order_uuid not in safety)
    assert set(safety) - set(restored), "the restore went back no sales: it proves nothing"
    assert after and after[0] == highest_before + 1, (highest_before, after[:5])
    assert any(a.started > restore_ended for a in created)
    assert "numbers continued: receipts" in restore.stdout
    assert os.path.exists(backup_dir / safety_file)
