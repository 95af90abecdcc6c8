"""Fixtures and helpers for the backup tests: a private backup directory, throwaway databases named
tillhouse_bak_*, GnuPG key pairs, an S3-compatible server (moto) and an alert collector."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import connections
from psycopg import sql

from ops.backups.engines import DatabaseTarget, PostgresEngine

# Throwaway databases carry this tag, so two checkouts can run the backup tests on one server at once.
RUN_TAG = "".join(c for c in os.environ.get("TILLHOUSE_TEST_TAG", "") if c.isalnum() or c == "_")

ALERTS: list[tuple[str, str, dict]] = []


def collect_alert(event: str, message: str, data: dict) -> None:
    ALERTS.append((event, message, data))


@pytest.fixture
def alerts(settings):
    settings.NOTIFIER = "ops.tests.backup_helpers.collect_alert"
    ALERTS.clear()
    yield ALERTS
    ALERTS.clear()


@pytest.fixture
def backup_dir(settings, tmp_path):
    """Backups of this test go to its own directory; drills restore into tillhouse_bak_drill_<id>."""
    location = tmp_path / "backups"
    settings.BACKUP_DIR = location
    settings.STORAGES = {
        **{k: v for k, v in settings.STORAGES.items() if k != "backups_offsite"},
        "backups": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(location)}},
    }
    settings.BACKUP_SCRATCH_DB_PREFIX = f"tillhouse_bak_{RUN_TAG}drill_"
    settings.BACKUP_GPG_PUBLIC_KEY = ""
    settings.BACKUP_GPG_PRIVATE_KEY = ""
    settings.BACKUP_MAX_BYTES = 0
    settings.BACKUP_PG_BIN_DIR = ""
    return location


def admin_conn():
    return psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)


def drop_database(name: str) -> None:
    assert name.startswith("tillhouse_bak_")
    with admin_conn() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_exists(name: str) -> bool:
    with admin_conn() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def clone_test_database(name: str) -> DatabaseTarget:
    """A copy of the (migrated, filled) test database under a throwaway name."""
    source = DatabaseTarget.from_settings()
    connections.close_all()
    drop_database(name)
    with admin_conn() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [source.name],
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source.name))
        )
    return source.with_name(name)


@pytest.fixture
def throwaway_db():
    """Call with a suffix; every tillhouse_bak_<suffix> made this way is dropped afterwards."""
    made = []

    def make(suffix: str) -> DatabaseTarget:
        name = f"tillhouse_bak_{RUN_TAG}{suffix}"
        made.append(name)
        return clone_test_database(name)

    yield make
    for name in made:
        drop_database(name)
        drop_database(f"{name}_restoring")


def sell(count: int = 12):
    """Orders with lines and card payments, through the project's factories (the ORM)."""
    from billing.models import Payment
    from billing.tests.factories import CashSessionFactory
    from orders.tests.factories import OrderLineFactory

    session = CashSessionFactory()
    for i in range(count):
        order = OrderLineFactory(order__location=session.register.location).order
        Payment.objects.create(
            order=order,
            session=session,
            tender="card",
            amount=Decimal("10.05") + i,
            tendered=Decimal("10.05") + i,
            change=Decimal("0"),
            tip=Decimal("1.10"),
            rounding=Decimal("0"),
            created_by=session.opened_by,
        )


def snapshot(target: DatabaseTarget) -> tuple[dict, dict]:
    engine = PostgresEngine(target)
    return engine.row_counts(), engine.money_sums()


@pytest.fixture(scope="session")
def gpg_keys(tmp_path_factory):
    """Two key pairs (the backup key and an unrelated one) exported to files: {name: (public, private)}."""
    if not shutil.which("gpg"):
        pytest.fail("gpg is required (make backup-tools installs it)")
    root = tmp_path_factory.mktemp("gpg")
    keys = {}
    for name in ("backup", "other"):
        home = root / f"home-{name}"
        home.mkdir(mode=0o700)
        base = ["gpg", "--batch", "--quiet", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", ""]
        uid = f"Tillhouse {name} <{name}@example.invalid>"
        subprocess.run([*base, "--quick-generate-key", uid, "default", "default", "never"], check=True)
        public, private = root / f"{name}.pub.asc", root / f"{name}.key.asc"
        public.write_bytes(subprocess.run([*base, "--armor", "--export"], check=True, capture_output=True).stdout)
        private.write_bytes(
            subprocess.run([*base, "--armor", "--export-secret-keys"], check=True, capture_output=True).stdout
        )
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
        keys[name] = (str(public), str(private))
    return keys


MOTO_PORT = 8261


@pytest.fixture(scope="session")
def s3_server():
    """moto in server mode on 127.0.0.1:8261: a real HTTP S3 endpoint for django-storages and boto3."""
    moto = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    proc = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(MOTO_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", MOTO_PORT), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{MOTO_PORT}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def offsite_bucket(settings, s3_server, backup_dir):
    import uuid

    import boto3

    bucket = f"tillhouse-bak-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "s3", endpoint_url=s3_server, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "backups_offsite": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "location": "tillhouse",
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "file_overwrite": False,
            },
        },
    }
    return client, bucket
