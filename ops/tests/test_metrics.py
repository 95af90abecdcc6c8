import os
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from billing.models import CashSession, Payment, PrintJob, ReceiptEmail, Refund
from billing.tests.factories import CashSessionFactory
from inventory.models import StockLevel
from inventory.tests.factories import ProductFactory
from ops.metrics import BusinessCollector
from ops.models import BackupRecord, RestoreDrill
from orders.models import Order, OrderLine
from orders.tests.factories import OrderFactory, OrderLineFactory


def _samples(content: bytes) -> dict:
    samples = {}
    for family in text_string_to_metric_families(content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.mark.django_db
def test_metrics_are_served_to_an_allowed_address(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    samples = _samples(response.content)
    assert _value(samples, "tillhouse_business_metrics_up") == 1
    assert any(name.startswith("django_http_requests") for name, _ in samples)


@pytest.mark.django_db
def test_metrics_are_refused_to_other_addresses(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.django_db
def test_a_bearer_token_opens_metrics_from_anywhere_and_a_wrong_one_does_not(client, settings):
    settings.METRICS_BEARER_TOKEN = "scrape-token-0123456789"
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert ok.status_code == 200
    wrong = client.get("/metrics", REMOTE_ADDR="127.0.0.1", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403


@pytest.mark.django_db
def test_the_allow_list_takes_networks(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_business_figures_are_computed_from_the_database(client, location, manager):
    session = CashSessionFactory(register__location=location, opened_by=manager)
    paid = OrderFactory(location=location, staff=manager)
    Order.objects.filter(pk=paid.pk).update(
        status=Order.Status.PAID, total=Decimal("12.50"), paid_total=Decimal("12.50")
    )
    Payment.objects.create(order=paid, session=session, tender="cash", amount=Decimal("12.50"), created_by=manager)
    Refund.objects.create(
        order=paid,
        session=session,
        tender="cash",
        amount=Decimal("2.50"),
        reason="cold",
        created_by=manager,
        approved_by=manager,
    )
    OrderFactory(location=location, staff=manager)  # open
    line = OrderLineFactory(order=OrderFactory(location=location, staff=manager))
    OrderLine.objects.filter(pk=line.pk).update(status=OrderLine.Status.VOIDED)
    product = ProductFactory(reorder_point=Decimal("5"))
    StockLevel.objects.create(product=product, location=location, on_hand=Decimal("2"))
    PrintJob.objects.create(kind="receipt", location=location, status=PrintJob.Status.FAILED)
    backup = BackupRecord.objects.create(kind="daily", status="succeeded", engine="postgresql", bytes=4096)
    finished = timezone.now()
    BackupRecord.objects.filter(pk=backup.pk).update(finished_at=finished)
    RestoreDrill.objects.create(backup=backup, target="scratch", result="passed", duration_seconds=42.5)

    samples = _samples(client.get("/metrics").content)

    assert _value(samples, "tillhouse_sales_amount_total", tender="cash") == 12.5
    assert _value(samples, "tillhouse_sales_total") == 1
    assert _value(samples, "tillhouse_orders", status="open") == 2
    assert _value(samples, "tillhouse_orders", status="paid") == 1
    assert _value(samples, "tillhouse_orders", status="voided") == 0
    assert _value(samples, "tillhouse_cash_sessions_open") == CashSession.objects.filter(status="open").count() == 1
    assert _value(samples, "tillhouse_refunds_total") == 1
    assert _value(samples, "tillhouse_refunds_amount_total") == 2.5
    assert _value(samples, "tillhouse_voids_total", kind="line") == 1
    assert _value(samples, "tillhouse_stock_items_below_reorder_point") == 1
    assert _value(samples, "tillhouse_print_jobs", status="failed") == 1
    assert _value(samples, "tillhouse_backup_last_success_timestamp_seconds") == pytest.approx(finished.timestamp())
    assert _value(samples, "tillhouse_backup_last_size_bytes") == 4096
    assert _value(samples, "tillhouse_restore_drill_last_success") == 1
    assert _value(samples, "tillhouse_restore_drill_last_rto_seconds") == 42.5


@pytest.mark.django_db
def test_no_business_label_grows_with_orders_users_or_products(location, manager):
    for _ in range(3):
        OrderLineFactory(order=OrderFactory(location=location, staff=manager))
    label_values = {}
    for family in BusinessCollector().collect():
        for sample in family.samples:
            for label, value in sample.labels.items():
                label_values.setdefault(label, set()).add(value)
    assert set(label_values) <= {"tender", "status", "kind"}
    allowed = set(Payment.Tender.values) | set(Order.Status.values) | set(PrintJob.Status.values) | {"order", "line"}
    allowed |= set(ReceiptEmail.Status.values)
    assert set().union(*label_values.values()) <= allowed


def test_business_metrics_report_down_instead_of_breaking_the_scrape_without_a_database():
    # No django_db mark: every query raises, as it would with the database gone.
    (up,) = list(BusinessCollector().collect())
    assert up.name == "tillhouse_business_metrics_up"
    assert up.samples[0].value == 0


@pytest.mark.django_db
def test_drill_and_print_series_exist_before_the_first_drill_or_print(client):
    """An absence alert (no drill for 8 days, print failures rising) needs the series to exist from the start."""
    samples = _samples(client.get("/metrics").content)
    assert _value(samples, "tillhouse_restore_drill_last_timestamp_seconds") == 0
    assert ("tillhouse_restore_drill_last_success", ()) not in samples  # no drill is not a failed drill
    assert _value(samples, "tillhouse_backup_last_success_timestamp_seconds") == 0
    for outcome in ("printed", "failed", "uncertain"):  # counted by this process since it started: 0 or more
        assert _value(samples, "tillhouse_print_attempts_total", kind="receipt", outcome=outcome) >= 0


WORKER = """
import os, sys, time
from prometheus_client import Counter
Counter("tillhouse_worker_requests", "requests").inc()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.django_db
def test_in_multiprocess_mode_every_live_worker_has_its_process_metrics(tmp_path, monkeypatch):
    import subprocess
    import sys

    from ops.metrics import render_metrics

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "ready"
        samples = _samples(render_metrics())
        assert _value(samples, "tillhouse_worker_requests_total") == 1
        for pid in (worker.pid, os.getpid()):
            assert _value(samples, "process_resident_memory_bytes", pid=str(pid)) > 1_000_000
            assert _value(samples, "process_start_time_seconds", pid=str(pid)) > 0
            assert _value(samples, "process_open_fds", pid=str(pid)) >= 3
    finally:
        worker.kill()
        worker.wait()
    # A worker that has gone is no longer described.
    samples = _samples(render_metrics())
    assert ("process_resident_memory_bytes", (("pid", str(worker.pid)),)) not in samples


@pytest.mark.django_db
def test_receipt_emails_are_counted_by_state(client, location, manager):
    from billing.models import Receipt

    session = CashSessionFactory(register__location=location, opened_by=manager)
    order = OrderFactory(location=location, staff=manager)
    receipt = Receipt.objects.create(register=session.register, number=1, order=order, session=session)
    ReceiptEmail.objects.create(receipt=receipt, location=location, to_address="a@example.com", status="failed")

    samples = _samples(client.get("/metrics").content)

    assert _value(samples, "tillhouse_receipt_emails", status="failed") == 1
    assert _value(samples, "tillhouse_receipt_emails", status="sent") == 0
