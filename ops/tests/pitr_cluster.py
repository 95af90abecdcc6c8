"""A PostgreSQL cluster of the test's own, archiving with pgBackRest: started on a spare port in a temporary
directory as the `postgres` user (PostgreSQL refuses to run as root), stopped by its PID; the project's commands run
against it as child processes with DATABASE_URL and the PITR settings in their environment."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from ops.tests.servers import ROOT, service_env

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OWNER = "postgres"
DBNAME = "tillhouse"
CIPHER_PASS = "pitr-test-cipher-pass-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(*argv: str) -> list[str]:
    return ["runuser", "-u", OWNER, "--", *argv] if os.geteuid() == 0 else list(argv)


@dataclass
class Cluster:
    root: Path
    port: int
    env: dict = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def manage(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out

    def shop(self, *args: str, **popen) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "ops.tests.pitr_shop", *args], cwd=ROOT, env=self.env, text=True, **popen
        )

    def connect(self, dbname: str = DBNAME) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self) -> None:
        subprocess.run(
            _as_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.root / "server.log"), "start"),
            check=True,
            capture_output=True,
        )

    def destroy(self, *, sig: int = signal.SIGQUIT) -> float:
        """Kill the postmaster (SIGQUIT: immediate stop; SIGKILL: a crash) and delete its data directory. Returns
        when it happened."""
        pid = self.pid()
        at = time.time()
        if pid:
            os.kill(pid, sig)
            _wait_gone(pid)
        if sig == signal.SIGKILL:  # its backends outlive a SIGKILLed postmaster for a moment
            subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False) if pid else None
        shutil.rmtree(self.data, ignore_errors=True)
        return at

    def receipts(self) -> dict[int, str]:
        """{receipt number: payments of its order} in the cluster now."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT r.number, (SELECT sum(p.amount) FROM billing_payment p WHERE p.order_id = r.order_id) "
                "FROM billing_receipt r WHERE r.kind = 'sale'"
            ).fetchall()
        return {number: str(paid) for number, paid in rows}


def _wait_gone(pid: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def start_cluster(*, conf: str = "", **settings: str) -> Cluster:
    """A cluster archiving into an encrypted repository of its own; `conf`: more postgresql.conf lines (last wins)."""
    if not shutil.which("pgbackrest") or not (PG_BIN / "initdb").exists():
        pytest.fail("pgbackrest and PostgreSQL 15's server binaries are needed (make backup-tools)")
    root = Path(tempfile.mkdtemp(prefix="tillhouse-pitr-", dir="/tmp"))
    root.chmod(0o755)
    owner = pwd.getpwnam(OWNER)
    for sub in ("sock", "pgbackrest"):
        (root / sub).mkdir()
    for path in (root, root / "sock", root / "pgbackrest"):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    cluster = Cluster(root=root, port=_free_port())
    cluster.env = service_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{cluster.port}/{DBNAME}",
        DEBUG="True",
        TIME_ZONE="UTC",
        BACKUP_DIR=str(root / "backups"),
        PITR_ENABLED="True",
        PGBACKREST_CONFIG=str(root / "pgbackrest" / "pgbackrest.conf"),
        PGBACKREST_SERVER_CONFIG=str(root / "pgbackrest" / "pgbackrest.conf"),  # PITR_PGBACKREST_VIA=sql
        PGBACKREST_REPO_PATH=str(root / "pgbackrest" / "repo"),
        PGBACKREST_CIPHER_PASS=CIPHER_PASS,
        PGBACKREST_RUN_AS=OWNER,
        PGBACKREST_PG1_PATH=str(cluster.data),
        PGBACKREST_PG1_PORT=str(cluster.port),
        PGBACKREST_PG1_SOCKET_PATH=str(root / "sock"),
        PITR_PG_BIN_DIR=str(PG_BIN),
        PITR_DRILL_PORT=str(_free_port()),
        PITR_DRILL_DIR=str(root / "pgbackrest" / "drill"),
        CONN_MAX_AGE="0",
        LOG_LEVEL="WARNING",
        **settings,
    )
    try:
        _initialise(cluster, conf)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def _initialise(cluster: Cluster, extra: str = "") -> None:
    root = cluster.root
    subprocess.run(
        _as_owner(str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "--no-sync"),
        check=True,
        capture_output=True,
    )
    output = cluster.manage("pitr", "postgres-conf").stdout.splitlines()
    archiving = "".join(line + "\n" for line in output if re.match(r"^[a-z_]+ = '", line))
    with open(cluster.data / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {cluster.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root / 'sock'}'\n"
            "shared_buffers = '32MB'\nmax_connections = 40\n" + archiving + extra
        )
    cluster.start()
    with cluster.connect("postgres") as conn:
        conn.execute(f"CREATE DATABASE {DBNAME}")
    cluster.manage("migrate", "--noinput")
    cluster.manage("pitr", "setup")


def stop_cluster(cluster: Cluster) -> None:
    for data in (cluster.data, *sorted((cluster.root / "pgbackrest" / "drill").glob("drill-*"))):
        pid_file = data / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            os.kill(pid, signal.SIGQUIT)
            _wait_gone(pid)
        except ProcessLookupError:
            pass
    shutil.rmtree(cluster.root, ignore_errors=True)


def read_sales(lines: list[str]) -> tuple[list[dict], float | None]:
    """The sales a shop printed, and its mark (the instant T) if any."""
    sales, mark = [], None
    for line in lines:
        if not line.strip():
            continue
        item = json.loads(line)
        if "mark" in item:
            mark = item["mark"]
        elif "receipt" in item:
            sales.append(item)
    return sales, mark
