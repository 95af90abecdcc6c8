"""A PostgreSQL cluster of a test's own (Debian's server binaries), on a spare port in a directory of its own, and a
streaming replica of it made with pg_basebackup. PostgreSQL will not run as root: started by root, every command
runs as the postgres user, who owns the directory."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise FileNotFoundError("PostgreSQL server binaries (Debian's postgresql package) are not installed")
    return found[-1].parent


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, **kwargs)


class Cluster:
    def __init__(self, port: int, directory: Path | None = None):
        self.port = port
        self.root = directory or Path(tempfile.mkdtemp(prefix="tillhouse-pg-"))
        self.data = self.root / "data"
        self.bin = _bindir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _settings(self) -> str:
        return (
            f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
            "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\nsynchronous_commit = off\n"
            "full_page_writes = off\nshared_buffers = 64MB\n"
        )

    def create(self) -> "Cluster":
        _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(self._settings())
        return self

    def replica(self, port: int) -> "Cluster":
        """A streaming replica of this (running) cluster on `port`: pg_basebackup -R, then its own port."""
        standby = Cluster(port)
        _as_postgres(
            [str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast"]
        )  # fmt: skip
        with open(standby.data / "postgresql.conf", "a") as conf:
            conf.write(standby._settings())
        return standby

    def start(self) -> "Cluster":
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start"])
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def sql(self, statement: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-At", "-c", statement],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return out.stdout.strip()

    def wait_until_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.sql("SELECT 1")
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
