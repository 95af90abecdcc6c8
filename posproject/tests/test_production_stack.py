"""The production stack as processes, the way docker-compose.prod.yml runs it: nginx (deploy/nginx.conf, TLS) in
front of gunicorn (deploy/gunicorn.conf.py, production settings), a Celery worker and one beat, on the test
PostgreSQL and Redis, and a receipt printer stand-in on a TCP port. The smoke flow an operator would try after a
deploy, then a graceful reload of gunicorn and of nginx under steady load with no failed request.

Each step prints its result (`pytest -s` shows them)."""

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import urllib3
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from posproject.tests.test_deploy_gunicorn import _gunicorn, _production_env, _stop, _wait_for, nginx_in_front

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "stack-metrics-token-" + "m" * 20
PASSWORD = "stack-pass-123"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the test's own self-signed certificate


def step(text: str) -> None:
    print(f"[stack] {text}", flush=True)


class PrinterStandIn(threading.Thread):
    """A receipt printer on a TCP port (as an ESC/POS printer on 9100): keeps every byte it is sent. On loopback
    unless told otherwise (the container stack's printer listens where its containers reach the host)."""

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__(daemon=True)
        self.server = socket.create_server((host, 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.stopped = False

    def run(self):
        self.server.settimeout(0.5)
        while not self.stopped:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                while True:
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        break
                    if not chunk:
                        break
                    self.received.extend(chunk)

    def stop(self):
        self.stopped = True
        self.server.close()


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def _celery(kind: str, tmp_path: Path, env: dict):
    args = ["worker", "--concurrency", "2", "--hostname", f"stack-{uuid.uuid4().hex[:6]}@%h"]
    if kind == "beat":
        args = ["beat", "--schedule", str(tmp_path / "celerybeat-schedule")]
    log_path = tmp_path / f"{kind}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "posproject", *args, "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, log_path
    finally:
        _stop(process)
        log.close()


def _spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _nginx(upstream: str, tmp_path: Path, http_port: int, https_port: int):
    from posproject.tests.test_deploy import _binary

    with nginx_in_front(upstream, tmp_path, http_port, https_port) as (process, config, directory):
        yield process, f"https://127.0.0.1:{https_port}", (_binary("nginx"), config, directory)


class Load(threading.Thread):
    """Steady requests (8 at a time) until stopped; counts what was answered 200 and what failed."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self.running = True
        self.lock = threading.Lock()

    def one(self):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        while self.running:
            try:
                with urllib.request.urlopen(self.url, timeout=10, context=context) as response:  # noqa: S310
                    good = response.status == 200
                    response.read()
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failed.append(str(response.status))
            except (urllib.error.URLError, OSError) as error:
                with self.lock:
                    self.failed.append(repr(error))

    def run(self):
        workers = [threading.Thread(target=self.one, daemon=True) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def stop(self):
        self.running = False
        self.join(timeout=30)


@pytest.fixture
def stack(django_db_setup, tmp_path):
    static = tmp_path / "static"
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=_production_env(STATIC_ROOT=str(static)),
        check=True,
        capture_output=True,
    )
    http_port, https_port = _spare_port(), _spare_port()
    extra = {
        # nginx passes the host without the port: the browser's origin is trusted as such (CSRF)
        "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{https_port}",
        "METRICS_BEARER_TOKEN": METRICS_TOKEN,
        "METRICS_ALLOWED_IPS": "",
        "BACKUP_DIR": str(tmp_path / "backups"),
        "PRINT_SWEEP_EVERY": "2",
        "HEALTH_CACHE_SECONDS": "0",
    }
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)  # _gunicorn builds its environment from this process's
    try:
        with _gunicorn(tmp_path, static) as (gunicorn, upstream, _):
            env = _production_env(DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, **extra)
            with (
                _celery("worker", tmp_path, env) as worker,
                _celery("beat", tmp_path, env) as beat,
                _nginx(upstream, nginx_dir, http_port, https_port) as nginx,
            ):
                yield {"gunicorn": gunicorn, "upstream": upstream, "worker": worker, "beat": beat, "nginx": nginx}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _session(base: str) -> requests.Session:
    browser = requests.Session()
    browser.verify = False
    browser.trust_env = False  # a CA bundle in the environment would override verify=False
    browser.headers["Referer"] = base + "/"
    return browser


def _csrf(browser: requests.Session, page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_production_stack_passes_the_smoke_flow_and_reloads_without_a_failed_request(stack, location, tmp_path):
    from billing.models import Printer, PrintJob, Receipt
    from ops.models import BackupRecord
    from orders.tests.helpers import open_register, stocked_product
    from staff.models import Terminal
    from staff.tests.factories import StaffProfileFactory, UserFactory

    _, base, (nginx_binary, nginx_config, nginx_dir) = stack["nginx"]
    printer_stand_in = PrinterStandIn()
    printer_stand_in.start()
    owner = UserFactory(username="stack-manager", role="Manager")
    owner.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    owner.save(update_fields=["password"])
    StaffProfileFactory(user=owner).locations.add(location)
    printer = Printer.objects.create(name="Front", connection="network", host="127.0.0.1", port=printer_stand_in.port)
    till = open_register(location, user=owner, printer=printer)
    product = stocked_product(location, on_hand="10", price="2.50")

    # 1. The sign-in page, over TLS through nginx.
    browser = _session(base)
    page = browser.get(f"{base}/accounts/login/")
    assert page.status_code == 200 and 'name="password"' in page.text
    step(f"login page through nginx over TLS: {page.status_code}")

    # 2. A manager signs in to the admin and creates an API client; its token is shown once.
    page = browser.get(f"{base}/admin/login/")
    signed_in = browser.post(
        f"{base}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": _csrf(browser, page.text), "username": owner.username, "password": PASSWORD},
    )
    assert signed_in.status_code == 200 and "/admin/logout/" in signed_in.text, signed_in.text[:500]
    form = browser.get(f"{base}/admin/staff/apiclient/add/")
    issued = browser.post(
        f"{base}/admin/staff/apiclient/add/",
        data={
            "csrfmiddlewaretoken": _csrf(browser, form.text),
            "name": "Online shop",
            "scope": "sell",
            "locations": [str(location.pk)],
            "expires_at": "",
        },
    )
    token = re.search(r'<code id="api-token"[^>]*>([^<]+)</code>', issued.text)
    assert token, issued.text[:1000]
    step("a manager created an API client in the admin; its token was shown once")

    # 3. A checkout over the API with that token; the worker prints the receipt on the TCP printer.
    api = _session(base)
    api.headers.update({"Authorization": f"Bearer {token.group(1)}", "Idempotency-Key": str(uuid.uuid4())})
    sale = api.post(
        f"{base}/api/v1/checkout/",
        json={
            "register": till.pk,
            "lines": [{"product": product.pk, "quantity": "2"}],
            "tenders": [{"tender": "cash", "tendered": "10.00"}],
        },
    )
    assert sale.status_code == 201, sale.text
    receipt_number = str(sale.json()["receipt"]["number"])
    step(f"checkout over the API: 201, receipt {receipt_number}")
    _wait_for(
        lambda: PrintJob.objects.filter(status=PrintJob.Status.PRINTED).exists() and printer_stand_in.received,
        60,
        lambda: f"the receipt to print ({list(PrintJob.objects.values_list('status', 'last_error'))})",
    )
    printed = bytes(printer_stand_in.received).decode("cp437", errors="replace")
    assert product.name[:20] in printed and "5.00" in printed and receipt_number in printed
    step(f"the worker printed the receipt on the TCP printer stand-in ({len(printer_stand_in.received)} bytes)")

    # 3b. A sale on the POS screen: the manager pairs this browser as the till's terminal, opens an order, taps the
    # product twice (one line of 2), pays cash with change; the receipt prints on the same printer.
    device = Terminal.objects.create(location=location, name="Till 1", register=till, printer=printer)
    unpaired = browser.get(f"{base}/pos/")
    assert "pair" in unpaired.text.lower(), unpaired.text[:500]
    paired = browser.post(
        f"{base}/pos/pair/direct/", data={"csrfmiddlewaretoken": _csrf(browser, unpaired.text), "terminal": device.pk}
    )
    assert paired.status_code == 200 and "/pos/pair/" not in paired.url, paired.text[:500]
    floor = browser.get(f"{base}/pos/")
    opened = browser.post(
        f"{base}/pos/orders/new/", data={"csrfmiddlewaretoken": _csrf(browser, floor.text), "channel": "retail"}
    )
    order_uuid = re.search(r"/pos/orders/([0-9a-f-]{36})/", opened.url).group(1)
    token_for_htmx = _csrf(browser, opened.text)
    for _ in range(2):
        tapped = browser.post(
            f"{base}/pos/orders/{order_uuid}/lines/",
            data={"product": product.pk},
            headers={"HX-Request": "true", "X-CSRFToken": token_for_htmx, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert tapped.status_code == 200 and product.name in tapped.text, tapped.text[:500]
    pay_page = browser.get(f"{base}/pos/orders/{order_uuid}/pay/")
    key = re.search(r'name="key" value="([^"]+)"', pay_page.text).group(1)
    paid = browser.post(
        f"{base}/pos/orders/{order_uuid}/pay/",
        data={
            "csrfmiddlewaretoken": _csrf(browser, pay_page.text),
            "key": key,
            "rows": "1",
            "tender_0": "cash",
            "amount_0": "20.00",
        },
    )
    assert paid.status_code == 200 and "/pos/receipts/" in paid.url, paid.text[:800]
    pos_receipt = Receipt.objects.get(order__uuid=order_uuid, kind=Receipt.Kind.SALE)
    assert "15.00" in paid.text  # change from 20.00 for 2 × 2.50
    _wait_for(
        lambda: str(pos_receipt.number) in bytes(printer_stand_in.received).decode("cp437", errors="replace"),
        60,
        lambda: f"the POS receipt to print ({list(PrintJob.objects.values_list('status', 'last_error'))})",
    )
    step(f"a sale on the POS screen (paired terminal, 2 taps, cash 20.00, change 15.00): receipt {pos_receipt.number}")

    # 4. A backup taken and verified by the worker, from the "Back up now" button.
    page = browser.get(f"{base}/ops/backups/")
    started = browser.post(f"{base}/ops/backups/run/", data={"csrfmiddlewaretoken": _csrf(browser, page.text)})
    assert started.status_code == 200
    _wait_for(
        lambda: BackupRecord.objects.filter(status=BackupRecord.Status.SUCCEEDED, verified_at__isnull=False).exists(),
        120,
        lambda: f"the backup ({list(BackupRecord.objects.values_list('status', 'error'))})",
    )
    step("backup taken and verified in the worker")

    # 4b. The integrity check, from the "Run now" button, run by the worker (until then /health warns "has not
    # run yet").
    from django.core.cache import cache

    from ops.integrity import LAST_REPORT_KEY, last_report

    cache.delete(LAST_REPORT_KEY)  # another test's report must not stand in for this run's
    page = browser.get(f"{base}/ops/integrity/")
    browser.post(f"{base}/ops/integrity/", data={"csrfmiddlewaretoken": _csrf(browser, page.text)})
    _wait_for(lambda: last_report() is not None, 60, "the integrity check to report")
    assert last_report()["violations"] == [], last_report()["violations"]
    step("integrity check run by the worker from the ops page: no violations")

    # 5. /health: 200 with every check passing, for the monitor holding the token.
    report = api.get(f"{base}/health", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).json()
    not_passing = {key: c[0] for key, c in report["checks"].items() if c[0]["status"] != "pass"}
    assert report["status"] == "pass", not_passing
    step(f"/health: pass, {len(report['checks'])} checks")

    # 6. /metrics: refused without the token, served with it (nginx never serves it: straight to gunicorn).
    upstream = stack["upstream"]
    assert requests.get(f"{upstream}/metrics", timeout=10).status_code == 403
    metrics = requests.get(f"{upstream}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert metrics.status_code == 200 and "process_resident_memory_bytes{pid=" in metrics.text
    assert browser.get(f"{base}/metrics").status_code == 404
    step("/metrics: 403 without the token, 200 with it (each worker's process_* by pid); 404 through nginx")

    # 7. Exactly one beat, and it schedules: the print sweep it sends every 2 s reaches the worker.
    beat, beat_log = stack["beat"]
    _, worker_log = stack["worker"]
    assert beat.poll() is None
    _wait_for(lambda: "billing.sweep_print_jobs" in worker_log.read_text(), 30, "the beat's sweep to reach the worker")
    assert beat_log.read_text().count("beat: Starting") == 1
    step("one beat runs; its scheduled print sweep reached the worker")

    # 8. Graceful reloads under steady load: gunicorn (HUP: new workers, old ones finish) and nginx (reload).
    load = Load(f"{base}/health/live")
    load.start()
    time.sleep(2)
    gunicorn = stack["gunicorn"]
    gunicorn.send_signal(signal.SIGHUP)
    time.sleep(6)
    subprocess.run(
        [nginx_binary, "-c", str(nginx_config), "-p", f"{nginx_dir}/", "-s", "reload"], check=True, capture_output=True
    )
    time.sleep(4)
    load.stop()
    assert load.ok > 50
    assert load.failed == []
    step(f"graceful reload of gunicorn and nginx under load: {load.ok} answered, {len(load.failed)} failed")
    printer_stand_in.stop()
