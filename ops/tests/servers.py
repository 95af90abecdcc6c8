"""Real servers the ops tests start on their own ports: a TCP proxy that can be cut, gunicorn, a Celery worker."""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_DB_URL = "postgres://postgres@127.0.0.1:5432/{name}"


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`. `cut("refuse")` closes the port; `cut("blackhole")` keeps accepting
    connections but never answers (a dead network); `restore()` forwards again."""

    def __init__(self, port: int, target: tuple[str, int]):
        self.port, self.target = port, target
        self.mode = "forward"
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self):
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener.settimeout(0.2)
        self._running = True
        self._acceptor = threading.Thread(target=self._accept_loop, args=(self._listener,), daemon=True)
        self._acceptor.start()
        return self

    def _accept_loop(self, listener):
        while self._running and self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "refuse":  # accepted while the listener was closing: refused all the same
                client.close()
                continue
            with self._lock:
                self._sockets.append(client)
            if self.mode == "blackhole":
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self.mode != "forward":  # cut while this connection was being set up
                    for s in (client, upstream):
                        s.close()
                    continue
                self._sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, destination):
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, destination):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _drop_connections(self):
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def cut(self, mode: str = "refuse"):
        # Stop taking connections first, then drop the open ones: a client that reconnects in between must not get
        # a live connection that outlives the cut.
        with self._lock:
            self.mode = mode
        if mode == "refuse":
            listener, self._listener = self._listener, None
            listener.close()
            self._acceptor.join()  # a blocked accept() keeps the port listening until its timeout
        self._drop_connections()

    def restore(self):
        self.mode = "forward"
        if self._listener is None:
            self.start()

    def stop(self):
        self._running = False
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            self._acceptor.join()
        self._drop_connections()


def service_env(**overrides) -> dict:
    """Environment of a server process run against the test database and Redis db (not a test process)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "PYTEST_CURRENT_TEST"}}
    env.update(
        {
            "DATABASE_URL": TEST_DB_URL.format(name=os.environ.get("TEST_DB_NAME") or "test_postgres"),
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
            "SECRET_KEY": "ops-tests-secret-key-not-used-anywhere-else-0000000000000000",
            "DEBUG": "False",
            "SECURE_SSL_REDIRECT": "False",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def start_gunicorn(port: int, *, workers: int, env: dict, log_path: Path) -> subprocess.Popen:
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "posproject.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def start_celery_worker(*, env: dict, log_path: Path) -> subprocess.Popen:
    log = log_path.open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "posproject",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(url: str, *, timeout: float = 5.0, headers: dict | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (local test server)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (local test server)
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def wait_until(predicate, *, deadline: float = 30.0, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy; returns it, or raises after `deadline` seconds."""
    end = time.monotonic() + deadline
    last_error = None
    while time.monotonic() < end:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"condition not met within {deadline} s (last error: {last_error!r})")


def post_checkout(
    port: int, token: str, register_id: int, product_id: int, *, timeout: float
) -> tuple[int | None, dict, dict, str]:
    """One API checkout of one unit by card with a fresh Idempotency-Key: (status, body, headers, error); status
    None and the error's name when no HTTP answer came (connection-level failure)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/api/v1/checkout/",
            body=json.dumps(
                {"register": register_id, "lines": [{"product": product_id}], "tenders": [{"tender": "card"}]}
            ),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )
        response = conn.getresponse()
        raw = response.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw[:300].decode(errors="replace")}
        return response.status, body, dict(response.getheaders()), ""
    except (OSError, http.client.HTTPException) as exc:
        return None, {}, {}, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
