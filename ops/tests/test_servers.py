"""Integration tests against real processes: gunicorn (1 and 4 workers), a Celery worker, a TCP proxy we cut."""

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from ops.tests.servers import (
    TcpProxy,
    get,
    service_env,
    start_celery_worker,
    start_gunicorn,
    stop,
    wait_until,
)

PROXY_PORT, OUTAGE_PORT, METRICS_PORT = 8241, 8242, 8243
MONITOR_TOKEN = "ops-servers-monitor-token-0123456789"
MONITOR = {"Authorization": f"Bearer {MONITOR_TOKEN}"}  # the full health report, not the status alone

pytestmark = pytest.mark.slow


def _db_url(port: int = 5432) -> str:
    return f"postgres://postgres@127.0.0.1:{port}/{connection.settings_dict['NAME']}"


@pytest.fixture
def outage_server(tmp_path, db):
    proxy = TcpProxy(PROXY_PORT, ("127.0.0.1", 5432)).start()
    env = service_env(
        DATABASE_URL=_db_url(PROXY_PORT),
        HEALTH_CACHE_SECONDS=0,
        DB_CONNECT_TIMEOUT=3,
        METRICS_BEARER_TOKEN=MONITOR_TOKEN,
    )
    server = start_gunicorn(OUTAGE_PORT, workers=1, env=env, log_path=tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{OUTAGE_PORT}"
    try:
        wait_until(lambda: get(f"{base}/health/ready")[0] == 200, deadline=90, interval=0.5)
        yield base, proxy
    finally:
        stop(server)
        proxy.stop()


def _timed_get(url):
    started = time.monotonic()
    status, body, _ = get(url, timeout=10, headers=MONITOR)
    return status, json.loads(body), time.monotonic() - started


@pytest.mark.parametrize("how", ["refuse", "blackhole"])
def test_with_the_database_unreachable_probes_answer_503_within_2_s_and_recover_without_restart(outage_server, how):
    base, proxy = outage_server
    proxy.cut(how)

    for path in ("/health/ready", "/health"):
        status, body, elapsed = _timed_get(base + path)
        assert status == 503, body
        assert body["status"] == "fail"
        assert body["checks"]["database:responseTime"][0]["status"] == "fail"
        assert elapsed < 2.0, f"{path} took {elapsed:.2f} s"

    live_status, live_body, _ = _timed_get(base + "/health/live")
    assert (live_status, live_body) == (200, {"status": "pass"})

    proxy.restore()
    wait_until(lambda: get(base + "/health/ready")[0] == 200, deadline=20, interval=0.25)
    body = json.loads(get(base + "/health", headers=MONITOR)[1])
    assert body["checks"]["database:responseTime"][0]["status"] != "fail"


def _scrape(port: int) -> dict:
    status, body, _ = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def _requests_to(families: dict, view: str) -> float:
    family = families["django_http_requests_total_by_view_transport_method"]
    return sum(s.value for s in family.samples if s.name.endswith("_total") and s.labels.get("view") == view)


def _worker_pids(master: subprocess.Popen) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True)
    return {int(pid) for pid in out.stdout.split()}


def test_four_gunicorn_workers_serving_1000_requests_sum_to_1000_in_one_scrape(tmp_path, db):
    multiproc = tmp_path / "prometheus"
    env = service_env(DATABASE_URL=_db_url(), PROMETHEUS_MULTIPROC_DIR=multiproc)
    server = start_gunicorn(METRICS_PORT, workers=4, env=env, log_path=tmp_path / "gunicorn.log")
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{METRICS_PORT}/health/startup")[0] == 200, deadline=90)
        wait_until(lambda: len(_worker_pids(server)) == 4, deadline=60)

        def hit(_):
            conn = HTTPConnection("127.0.0.1", METRICS_PORT, timeout=10)
            conn.request("GET", "/health/live")
            status = conn.getresponse().status
            conn.close()
            return status

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(hit, range(1000)))
        assert statuses.count(200) == 1000

        assert _requests_to(_scrape(METRICS_PORT), "ops:health-live") == 1000
        writers = {path.stem.rsplit("_", 1)[-1] for path in multiproc.glob("counter_*.db")}
        assert len(writers) >= 2, "only one worker answered: the sum proves nothing"

        # A worker that dies takes nothing with it: its counts stay in the sum (gunicorn.conf marks it dead).
        victim = sorted(_worker_pids(server))[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(_worker_pids(server)) == 4 and victim not in _worker_pids(server), deadline=60)
        assert _requests_to(_scrape(METRICS_PORT), "ops:health-live") == 1000
    finally:
        stop(server)


@pytest.mark.django_db(transaction=True)
def test_a_request_id_appears_in_the_request_log_and_in_the_log_of_the_celery_task_it_started(
    client, manager, json_log, tmp_path
):
    log_path = tmp_path / "worker.log"
    worker = start_celery_worker(env=service_env(DATABASE_URL=_db_url()), log_path=log_path)

    def worker_lines():
        lines = []
        for raw in log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    try:
        wait_until(lambda: any("ready" in line.get("message", "") for line in worker_lines()), deadline=90)
        client.force_login(manager)
        response = client.post("/ops/integrity/", headers={"X-Request-ID": "till-7-req-000123"})
        assert response.status_code == 302

        (request_line,) = [line for line in json_log() if line["logger"] == "tillhouse.request"]
        assert request_line["request_id"] == "till-7-req-000123"
        assert request_line["path"] == "/ops/integrity/"

        task_line = wait_until(
            lambda: next(
                (
                    line
                    for line in worker_lines()
                    if line.get("message", "").startswith("integrity check finished")
                    and line.get("request_id") == "till-7-req-000123"
                ),
                None,
            ),
            deadline=60,
        )
        assert task_line["task_id"]
        assert task_line["logger"] == "tillhouse.ops.tasks"
    finally:
        stop(worker)
