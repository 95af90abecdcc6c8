"""Fixtures for billing tests: printer stand-ins on 127.0.0.1 and a real Celery worker on the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import transaction

from billing.models import Payment, Printer, PrintJob, Receipt
from billing.printing import queue_print_job
from billing.tests.factories import CashSessionFactory, PrinterFactory, RegisterFactory
from billing.tests.printer_standin import PrinterStandin
from inventory.tests.factories import ProductFactory
from orders.tests.factories import OrderFactory, OrderLineFactory

STANDIN_PORTS = range(9200, 9220)
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    for port in STANDIN_PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for a printer stand-in")


@pytest.fixture
def standin():
    """Start printer stand-ins: `standin("print")`, `standin("refuse")`, … Stopped after the test."""
    started = []

    def start(mode: str = "print", **kwargs) -> PrinterStandin:
        server = PrinterStandin(_free_port(), mode=mode, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def printer_at(db):
    """A Printer row pointing at a stand-in."""

    def make(server: PrinterStandin, **kwargs) -> Printer:
        return PrinterFactory(host=server.host, port=server.port, **kwargs)

    return make


@pytest.fixture
def sell(location, cashier):
    """Ring up and pay a small cash sale on a till whose receipt printer is `printer`, as the checkout does: order,
    payment, receipt and its print job in one transaction. Returns the receipt."""

    def sale(printer, *, tender: str = "cash") -> Receipt:
        with transaction.atomic():
            register = RegisterFactory(location=location, printer=printer)
            session = CashSessionFactory(register=register, opened_by=cashier)
            order = OrderFactory(location=location, staff=cashier, status="paid")
            product = ProductFactory(name="Crème brûlée", price=Decimal("6.50"))
            OrderLineFactory(
                order=order,
                product=product,
                quantity=Decimal("2"),
                line_total=Decimal("13.00"),
                tax_amount=Decimal("2.17"),
            )
            order.subtotal = order.total = order.paid_total = Decimal("13.00")
            order.tax_total = Decimal("2.17")
            order.save()
            change = Decimal("7.00") if tender == "cash" else Decimal("0")
            Payment.objects.create(
                order=order,
                session=session,
                tender=tender,
                amount=Decimal("13.00"),
                tendered=Decimal("13.00") + change,
                change=change,
                created_by=cashier,
            )
            register.last_receipt_number += 1
            register.save()
            receipt = Receipt.objects.create(
                register=register, number=register.last_receipt_number, order=order, session=session
            )
            queue_print_job(kind=PrintJob.Kind.RECEIPT, printer=printer, location=location, receipt=receipt)
        return receipt

    return sale


def wait_for(condition, *, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll `condition` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


class Worker:
    def __init__(self, process: subprocess.Popen, hostname: str, log: Path):
        self.process = process
        self.hostname = hostname
        self.log = log

    def kill(self) -> None:
        """SIGKILL: what the OOM killer or a pulled plug does; no cleanup, no acknowledgement."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def celery_worker(django_db_setup, tmp_path):
    """Start real `celery -A posproject worker --pool=solo` processes on this run's test database and Redis db.

    Call it with extra environment (e.g. PRINT_MAX_ATTEMPTS="3"); it returns once the worker answers a ping.
    """
    from posproject.celery import app

    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # no tasks left over from an earlier run
    workers = []

    def start(**env_overrides) -> Worker:
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION" and not k.startswith("PYTEST_")}
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=settings.REDIS_URL,
            SECRET_KEY="worker-under-test-" + "x" * 40,
            DEBUG="False",
            PUBLIC_BASE_URL=settings.PUBLIC_BASE_URL,  # the receipts it prints carry the QR code the test expects
            PRINT_CONNECT_TIMEOUT="1",
            PRINT_RETRY_BACKOFF="1",
            PRINT_RETRY_BACKOFF_MAX="2",
        )
        env.update({k: str(v) for k, v in env_overrides.items()})
        hostname = f"print-test-{len(workers)}-{os.getpid()}@localhost"
        log = tmp_path / f"worker-{len(workers)}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "posproject",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                hostname,
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        worker = Worker(process, hostname, log)
        workers.append(worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"worker exited:\n{worker.output()}")
            if app.control.ping(destination=[hostname], timeout=0.5):
                return worker
        raise AssertionError(f"worker did not start:\n{worker.output()}")

    yield start
    for worker in workers:
        worker.stop()
