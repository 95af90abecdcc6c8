"""Faults with the real services: PostgreSQL cut under a load of checkouts, Redis (the broker) down during sales, a
Celery worker SIGKILLed mid-task. Slow (real gunicorn, redis-server and Celery processes): `make test-faults` runs
them as their own pytest invocation; `make test` leaves them out."""

import contextlib
import json
import subprocess
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.test import override_settings

from billing import services
from billing.models import Payment, PrintJob, Receipt
from billing.receipts import render_job
from billing.tasks import send_print_job, sweep_print_jobs
from billing.tests import conftest as billing_fixtures
from billing.tests.printer_standin import PrinterStandin
from inventory.models import StockMove
from ops.tests.servers import TcpProxy, get, post_checkout, service_env, start_gunicorn, stop, wait_until
from orders.models import Order
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register, stocked_product
from staff.api_clients import create_api_client

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PROXY_PORT, WEB_PORT = 8310, 8311
BROKER_PORTS = iter(range(8312, 8320))  # a new port per test: no client keeps a connection to an earlier broker
PRINTER_PORTS = iter(range(8320, 8330))  # printer stand-ins on ports no other test run points a printer at
REDIS_DOWN_WEB_PORT, REDIS_DOWN_REDIS_PORT = 8341, 8342
CLIENTS = 4
LOAD_SECONDS = 15.0
CUT_AT, CUT_FOR = 5.0, 5.0
CLIENT_TIMEOUT = 10.0
FAIL_FAST = 2.5  # a checkout refused during the cut answers within this many seconds

Status = PrintJob.Status
# The billing tests' fixtures: a real Celery worker, a Printer row pointing at a stand-in.
celery_worker = billing_fixtures.celery_worker
printer_at = billing_fixtures.printer_at
wait_for = billing_fixtures.wait_for


# --- A: PostgreSQL cut for 5 s during a load of checkouts ---------------------------------------------------------


@dataclass
class Attempt:
    started: float
    elapsed: float
    status: int | None  # None: no HTTP answer (connection-level failure)
    error: str = ""
    order_uuid: str = ""
    receipt_number: int | None = None


def _checkout(token: str, register_id: int, product_id: int, *, port: int = WEB_PORT) -> tuple[int | None, dict, str]:
    status, body, _headers, error = post_checkout(port, token, register_id, product_id, timeout=CLIENT_TIMEOUT)
    return status, body, error


@pytest.fixture
def web_behind_a_cuttable_database(tmp_path):
    proxy = TcpProxy(PROXY_PORT, ("127.0.0.1", 5432)).start()
    name = connection.settings_dict["NAME"]
    env = service_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{PROXY_PORT}/{name}",
        REDIS_URL=settings.REDIS_URL,
        ALLOWED_HOSTS="127.0.0.1",
        DB_CONNECT_TIMEOUT=2,
        PROMETHEUS_MULTIPROC_DIR=tmp_path / "prometheus",
    )
    log = tmp_path / "gunicorn.log"
    server = start_gunicorn(WEB_PORT, workers=2, env=env, log_path=log)
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{WEB_PORT}/health/live")[0] == 200, deadline=90, interval=0.5)
        yield proxy
    finally:
        stop(server)
        proxy.stop()
        redis.Redis.from_url(settings.REDIS_URL).flushdb()  # receipts' print tasks nobody consumes


def test_a_database_cut_during_checkouts_fails_fast_loses_nothing_and_recovers_without_restart(
    web_behind_a_cuttable_database, location, capsys
):
    proxy = web_behind_a_cuttable_database
    register = open_register(location)
    product = stocked_product(location, on_hand="100000", price="2.50")
    token = create_api_client(name="fault-till", scope="sell", locations=[location])[1]
    status, body, error = _checkout(token, register.pk, product.pk)
    assert status == 201, (status, body, error)  # warm: both the server and the proxy carry a sale

    attempts: list[Attempt] = []
    lock = threading.Lock()
    start = time.monotonic()

    def client():
        while time.monotonic() - start < LOAD_SECONDS:
            began = time.monotonic()
            status, body, error = _checkout(token, register.pk, product.pk)
            attempt = Attempt(began - start, time.monotonic() - began, status, error or str(body.get("code", "")))
            if status == 201:
                attempt.order_uuid = body["order"]["uuid"]
                attempt.receipt_number = body["receipt"]["number"]
            else:
                time.sleep(0.05)  # a till retries after a moment, not in a tight loop
            with lock:
                attempts.append(attempt)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(CUT_AT)
    proxy.cut("refuse")
    cut_started = time.monotonic() - start
    time.sleep(CUT_FOR)
    proxy.restore()
    restored = time.monotonic() - start
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + CLIENT_TIMEOUT + 5)
    status, body, error = _checkout(token, register.pk, product.pk)  # after the load: still serving, no restart
    assert status == 201, (status, body, error)

    created = [a for a in attempts if a.status == 201]
    refused = [a for a in attempts if a.status == 503]
    no_answer = [a for a in attempts if a.status is None]
    during_cut = [a for a in attempts if cut_started <= a.started and a.started + a.elapsed <= restored]
    uuids = {a.order_uuid for a in created} | {body["order"]["uuid"]}
    found = Order.objects.filter(uuid__in=uuids, status=Order.Status.PAID).count()
    with capsys.disabled():
        print(
            f"\nPostgreSQL cut {CUT_FOR:.0f} s under {CLIENTS} clients for {LOAD_SECONDS:.0f} s: "
            f"checkouts attempted {len(attempts)}, 201 {len(created)}, 503 {len(refused)}, "
            f"no answer {len(no_answer)}, answered during the cut {len(during_cut)} "
            f"(slowest {max((a.elapsed for a in during_cut), default=0):.2f} s), "
            f"rows found {found} of {len(uuids)} (incl. the check after the load)"
        )

    # Nothing but a sale or a fast refusal: never a 500, never a hang up to the client's timeout.
    assert {a.status for a in attempts} <= {201, 503, None}, [(a.status, a.error) for a in attempts]
    assert all(a.elapsed < CLIENT_TIMEOUT - 1 for a in attempts), max(a.elapsed for a in attempts)
    assert refused or no_answer, "the cut refused nothing: it proves nothing"
    assert during_cut and all(a.status != 201 for a in during_cut)
    assert all(a.elapsed < FAIL_FAST for a in during_cut), sorted(a.elapsed for a in during_cut)[-3:]
    assert all(a.error == "unavailable" for a in refused), {a.error for a in refused}
    # It recovered without a restart: sales before the cut and after the restore went through.
    assert any(a.started + a.elapsed < cut_started for a in created)
    assert any(a.started > restored for a in created)
    assert not [a for a in attempts if a.started > restored + FAIL_FAST and a.status != 201]
    # Every 201 is a sale in the database, numbered gaplessly on the register.
    assert found == len(uuids)
    numbers = sorted(Receipt.objects.filter(register=register).values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))
    register.refresh_from_db()
    assert register.last_receipt_number == len(numbers)
    assert sorted(a.receipt_number for a in created) == sorted(
        Receipt.objects.filter(order__uuid__in={a.order_uuid for a in created}).values_list("number", flat=True)
    )
    # No partial sale: a paid order has its payment, receipt and stock moves; no payment without a paid order.
    paid = Order.objects.filter(status=Order.Status.PAID).annotate(
        n_payments=Count("payments", distinct=True), n_receipts=Count("receipts", distinct=True)
    )
    assert paid.count() == len(numbers)
    assert not paid.filter(Q(n_payments=0) | Q(n_receipts=0)).exists()
    sold = {str(u) for u in paid.values_list("uuid", flat=True)}
    moved = set(StockMove.objects.filter(reason=StockMove.Reason.SALE).values_list("reference", flat=True))
    assert sold == moved
    assert not Payment.objects.exclude(order__status=Order.Status.PAID).exists()
    assert not Order.objects.exclude(status=Order.Status.PAID).exists()


# --- B and C: the broker, the worker ------------------------------------------------------------------------------


class ThrowawayRedis:
    """A redis-server of our own (never the shared one): no snapshots, no append-only file."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "ThrowawayRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: redis.Redis.from_url(self.url).ping(), deadline=15)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None


@pytest.fixture
def broker():
    """A throwaway Redis as this process's Celery broker (workers started with REDIS_URL=broker.url use it)."""
    from posproject.celery import app

    server = ThrowawayRedis(next(BROKER_PORTS)).start()
    url = app.conf.broker_url

    def reset_pools():
        if app._pool is not None:
            with contextlib.suppress(Exception):
                app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url = server.url
    reset_pools()
    try:
        yield server
    finally:
        app.conf.broker_url = url
        reset_pools()
        server.stop()


@pytest.fixture
def standin():
    """Start a printer stand-in (billing/tests/printer_standin.py) in `mode`; stopped after the test."""
    started = []

    def start(mode: str) -> PrinterStandin:
        started.append(PrinterStandin(next(PRINTER_PORTS), mode=mode))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _status(job_id: int) -> str:
    return PrintJob.objects.values_list("status", flat=True).get(pk=job_id)


def _sale(register, cashier, product):
    return services.sell(
        register_id=register.pk,
        user=cashier,
        lines=[line(product, "1")],
        tenders=[TenderInput(tender="cash", tendered=Decimal("5.00"))],
    )


def test_with_redis_down_sales_complete_and_their_receipts_print_once_it_is_back(
    broker, celery_worker, standin, printer_at, location, cashier
):
    server = standin("print")
    register = open_register(location, printer=printer_at(server))
    product = stocked_product(location, on_hand="20", price="3.50")

    broker.stop()
    sales = [_sale(register, cashier, product) for _ in range(3)]

    jobs = [sale.print_job.pk for sale in sales]
    assert [sale.order.status for sale in sales] == [Order.Status.PAID] * 3
    assert Order.objects.filter(status=Order.Status.PAID).count() == 3
    assert [_status(pk) for pk in jobs] == [Status.QUEUED] * 3

    broker.start()
    celery_worker(REDIS_URL=broker.url)
    with override_settings(PRINT_REQUEUE_AFTER=0):
        assert sweep_print_jobs() == {"requeued": 3, "marked_uncertain": 0}

    wait_for(lambda: all(_status(pk) == Status.PRINTED for pk in jobs), message="the swept jobs to print")
    printed = server.wait_for_jobs(3)
    assert sorted(printed) == sorted(render_job(PrintJob.objects.get(pk=pk)) for pk in jobs)
    assert server.connections == 3


def test_a_worker_killed_mid_send_loses_no_receipt_and_prints_none_twice(
    broker, celery_worker, standin, printer_at, location, cashier
):
    worker = celery_worker(REDIS_URL=broker.url, PRINT_SEND_TIMEOUT=120)
    server = standin("hang")  # takes the bytes, never confirms: the worker is busy sending when it dies
    register = open_register(location, printer=printer_at(server))
    sale = _sale(register, cashier, stocked_product(location, on_hand="5", price="3.50"))
    job = sale.print_job.pk
    server.wait_for_jobs(1)
    wait_for(lambda: _status(job) == Status.SENDING, message="the job to be sending")

    worker.kill()
    with override_settings(PRINT_SENDING_STALE_AFTER=0, PRINT_REQUEUE_AFTER=0):
        assert sweep_print_jobs() == {"requeued": 0, "marked_uncertain": 1}
    assert _status(job) == Status.UNCERTAIN  # not lost: staff see it and decide whether to reprint

    broker_client = redis.Redis.from_url(broker.url)
    assert broker_client.hlen("unacked") == 1  # the killed worker's task, never acknowledged
    # A fresh worker with a short visibility timeout takes the dead worker's task back from Redis and runs it.
    celery_worker(REDIS_URL=broker.url, CELERY_VISIBILITY_TIMEOUT=1)
    wait_for(lambda: broker_client.hlen("unacked") + broker_client.llen("celery") == 0, timeout=40)
    send_print_job.delay(job)  # and a duplicate on top, as a retried enqueue would send
    wait_for(lambda: broker_client.hlen("unacked") + broker_client.llen("celery") == 0, timeout=20)

    assert _status(job) == Status.UNCERTAIN
    assert server.connections == 1 and len(server.jobs) == 1  # printed (perhaps) once, never again
    assert Order.objects.filter(pk=sale.order.pk, status=Order.Status.PAID).exists()
    with contextlib.suppress(Exception):
        broker_client.close()


# --- D: Redis (cache and broker) down under gunicorn: the web stays ready and sells ------------------------------

MONITOR_TOKEN = "faults-monitor-token-0123456789"


def test_with_redis_down_the_web_stays_ready_sells_and_the_full_report_fails_the_broker(tmp_path, location):
    """RUNBOOK §5: readiness depends on the database only. Our own redis-server is the web's cache and broker; it is
    stopped (by its process, never the shared one) while gunicorn keeps serving."""
    server = ThrowawayRedis(REDIS_DOWN_REDIS_PORT).start()
    env = service_env(
        REDIS_URL=server.url,
        ALLOWED_HOSTS="127.0.0.1",
        METRICS_BEARER_TOKEN=MONITOR_TOKEN,
        HEALTH_CACHE_SECONDS=0,
        PROMETHEUS_MULTIPROC_DIR=tmp_path / "prometheus",
    )
    web = start_gunicorn(REDIS_DOWN_WEB_PORT, workers=1, env=env, log_path=tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{REDIS_DOWN_WEB_PORT}"
    monitor = {"Authorization": f"Bearer {MONITOR_TOKEN}"}
    try:
        wait_until(lambda: get(f"{base}/health/ready")[0] == 200, deadline=90, interval=0.5)
        register = open_register(location)
        product = stocked_product(location, on_hand="10", price="2.50")
        token = create_api_client(name="redis-down-till", scope="sell", locations=[location])[1]
        before = json.loads(get(f"{base}/health", headers=monitor)[1])
        assert before["checks"]["broker:responseTime"][0]["status"] != "fail"

        server.stop()
        status, body, _ = get(f"{base}/health/ready")
        assert status == 200, body
        assert json.loads(body)["status"] != "fail"
        status, sale, error = _checkout(token, register.pk, product.pk, port=REDIS_DOWN_WEB_PORT)
        assert status == 201, (status, sale, error)
        assert Order.objects.filter(uuid=sale["order"]["uuid"], status=Order.Status.PAID).exists()
        status, body, _ = get(f"{base}/health", headers=monitor)
        report = json.loads(body)
        assert status == 503
        assert report["checks"]["broker:responseTime"][0]["status"] == "fail"
        assert report["checks"]["cache:responseTime"][0]["status"] == "fail"
        assert report["checks"]["database:responseTime"][0]["status"] != "fail"
        status, body, _ = get(f"{base}/health")  # anyone else: the status alone
        assert (status, json.loads(body)) == (503, {"status": "fail"})
    finally:
        stop(web)
        server.stop()
