"""gunicorn with deploy/gunicorn.conf.py, against the test database and Redis: readiness, metrics across workers,
and a graceful stop that lets a request in flight finish."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(8280, 8290)
# django_db: so that pytest-django sets the test database up (and migrates it) even when only this file runs.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _free_port(exclude=()) -> int:
    for port in PORTS:
        if port in exclude:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS}")


def _get(url, headers=None, timeout=10):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a local test server
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a local test server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what() if callable(what) else what}")


def _production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    env.update({"DEBUG": "False", "SECRET_KEY": "gunicorn-test-" + "x" * 50, "ALLOWED_HOSTS": "127.0.0.1", **extra})
    return env


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """As the Dockerfile does at build: production pages need the hashed-files manifest."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=_production_env(STATIC_ROOT=str(root)),
        check=True,
        capture_output=True,
    )
    return root


@contextmanager
def _gunicorn(tmp_path: Path, static_root: Path):
    """gunicorn with the production config and production settings, on the test database."""
    port = _free_port()
    db = connection.settings_dict
    test_database = db["NAME"]  # the fixtures depend on django_db_setup, which points NAME at the test database
    env = _production_env()
    env.update(
        {
            "STATIC_ROOT": str(static_root),
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{test_database}",
            "REDIS_URL": settings.REDIS_URL,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_GRACEFUL_TIMEOUT": "20",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
            "TEST_INFLIGHT_MARKER": str(tmp_path / "in-flight"),
            # as docker-compose.prod.yml: behind nginx
            "SECURE_PROXY_SSL_HEADER_ENABLED": "True",
            "PROXY_CLIENT_IP_HEADER": "X-Real-IP",
        }
    )
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "posproject.tests.slow_wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def answers():
        assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
        try:
            return _get(f"{base}/health/live", timeout=1)[0] == 200
        except OSError:
            return False

    try:
        _wait_for(answers, 60, "gunicorn to answer")
        yield process, base, tmp_path
    finally:
        _stop(process)
        log.close()


def _stop(process):
    """SIGTERM, so that the arbiter takes its workers (and their listening sockets) down with it; then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, static_root, tmp_path_factory):
    with _gunicorn(tmp_path_factory.mktemp("gunicorn"), static_root) as server:
        yield server


@pytest.fixture
def gunicorn_to_stop(django_db_setup, static_root, tmp_path):
    with _gunicorn(tmp_path, static_root) as server:
        yield server


def test_gunicorn_with_the_production_config_reports_ready(gunicorn):
    _, base, _ = gunicorn
    answers = []

    def ready():
        # A cold worker's first checks (each has a 1 s limit) can miss on a loaded machine: ask until it is ready.
        answers.append(_get(f"{base}/health/ready"))
        return answers[-1][0] == 200

    _wait_for(ready, 60, lambda: f"/health/ready to answer 200 (last: {answers[-1:]})")

    body = json.loads(answers[-1][1])
    assert body["status"] in {"pass", "warn"}  # warn is still ready (the ops health contract)
    assert {"database:responseTime", "migrations:pending"} <= set(body["checks"])
    assert "cache:responseTime" not in body["checks"]  # readiness is what serving sales needs: the database


def test_metrics_are_served_in_prometheus_format_for_all_workers(gunicorn):
    _, base, tmp_path = gunicorn
    for _ in range(10):
        _get(f"{base}/health/live")

    status, body = _get(f"{base}/metrics")

    assert status == 200
    assert "# TYPE" in body
    assert "django_http_requests_total_by_view_transport_method" in body
    assert list((tmp_path / "prometheus").glob("*.db")), "workers write their metrics into the multiprocess dir"


def test_sigterm_lets_a_request_in_flight_finish_then_gunicorn_exits_cleanly(gunicorn_to_stop):
    process, base, tmp_path = gunicorn_to_stop
    result = {}

    def slow_request():
        result["response"] = _get(f"{base}/health/live", headers={"X-Test-Delay": "3"}, timeout=30)

    client = threading.Thread(target=slow_request)
    client.start()
    _wait_for((tmp_path / "in-flight").exists, 20, "the slow request to reach a worker")

    process.send_signal(signal.SIGTERM)
    client.join(timeout=30)

    status, body = result["response"]
    assert status == 200, body
    assert json.loads(body) == {"status": "pass"}  # Django answered it, after the SIGTERM
    assert process.wait(timeout=30) == 0
    with pytest.raises(OSError):
        _get(f"{base}/health/live", timeout=2)


# --- nginx in front, as in production ---------------------------------------------------------------------------


@contextmanager
def nginx_in_front(upstream: str | list[str], tmp_path: Path, http_port: int, https_port: int):
    """deploy/nginx.conf on loopback ports, proxying to `upstream` (http://host:port; several: nginx's round robin
    over them), with a throwaway certificate. Yields (process, config path, its directory)."""
    from posproject.tests.test_deploy import _binary, _nginx_config_on_loopback

    nginx = _binary("nginx")
    config = _nginx_config_on_loopback(tmp_path)
    upstreams = [upstream] if isinstance(upstream, str) else upstream
    servers = " ".join(f"server {each.removeprefix('http://')};" for each in upstreams)
    text = config.read_text().replace("server 127.0.0.1:8280;", servers)
    text = text.replace("listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;")
    text = text.replace(
        "listen 443 ssl http2 default_server;", f"listen 127.0.0.1:{https_port} ssl http2 default_server;"
    )
    text = "\n".join(line for line in text.splitlines() if "listen [::]" not in line)
    text = text.replace("pid /var/run/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    text = text.replace("access_log /dev/stdout json;", f"access_log {tmp_path}/access.log json;")
    config.write_text(text)
    # Workers started by root run as nobody, who cannot write the cache under pytest's private tmp directory.
    directives = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
    log = (tmp_path / "nginx.log").open("w")
    process = subprocess.Popen(
        [nginx, "-c", str(config), "-p", f"{tmp_path}/", "-e", "stderr", "-g", directives],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{http_port}/nginx-health", process, tmp_path), 20, "nginx")
        yield process, config, tmp_path
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="module")
def nginx(gunicorn, tmp_path_factory):
    """nginx in front of the gunicorn above."""
    _, base, _ = gunicorn
    upstream_port = int(base.rsplit(":", 1)[1])
    http_port = _free_port(exclude={upstream_port})
    https_port = _free_port(exclude={upstream_port, http_port})
    tmp_path = tmp_path_factory.mktemp("nginx")
    with nginx_in_front(base, tmp_path, http_port, https_port):
        yield f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", tmp_path


def _answers(url, process, tmp_path) -> bool:
    assert process.poll() is None, (tmp_path / "nginx.log").read_text()
    try:
        return _get(url, timeout=1)[0] == 200
    except OSError:
        return False


def _https(url, method="GET", data=None, headers=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_nginx_redirects_plain_http_to_https(nginx):
    http, _, _ = nginx
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"{http}/accounts/login/", timeout=5)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"].startswith("https://")


def test_through_nginx_pages_carry_each_security_header_once_and_a_request_id(nginx):
    _, https, tmp_path = nginx

    status, headers, _ = _https(f"{https}/accounts/login/", headers={"X-Request-ID": "trace-me-0123456789"})

    assert status == 200
    for name, value in {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }.items():
        assert headers.get_all(name) == [value], name
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "trace-me-0123456789" in headers.get_all("X-Request-ID")[0]
    # nginx writes the access-log line once the request is finalised, which can be just after the client has
    # the response: poll for it with a deadline.
    deadline = time.monotonic() + 5
    while "trace-me-0123456789" not in (tmp_path / "access.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "trace-me-0123456789" in (tmp_path / "access.log").read_text()


def test_nginx_hides_metrics_and_refuses_oversized_bodies(nginx):
    _, https, _ = nginx

    assert _https(f"{https}/metrics")[0] == 404
    assert _https(f"{https}/api/v1/products/", method="POST", data=b"x" * (3 * 1024 * 1024))[0] == 413


def test_nginx_serves_static_files_with_long_caching(nginx):
    _, https, _ = nginx

    status, headers, _ = _https(f"{https}/static/css/tillhouse.css")

    assert status == 200
    assert "max-age=31536000" in headers["Cache-Control"]
