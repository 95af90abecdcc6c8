"""End to end: sales commit on PostgreSQL, jobs go through the real Redis to a real Celery worker, which prints to a
TCP printer stand-in. These start subprocesses and take seconds each."""

import socket
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings

from billing import printing
from billing.models import PrintJob, Receipt, StationPrinter
from billing.receipts import render_job
from billing.tests.conftest import wait_for
from billing.tests.escpos_text import read
from orders.models import KitchenTicket
from orders.signals import kitchen_tickets_sent
from orders.tests.factories import OrderFactory, OrderLineFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Status = PrintJob.Status
CLOSED_PORT = 8231  # nothing listens here: a Redis that is down


def _status(job_id: int) -> str:
    return PrintJob.objects.values_list("status", flat=True).get(pk=job_id)


@contextmanager
def redis_down_for_this_process():
    """Point this process's Celery producer at a port where nothing listens, as if Redis were down, then back."""
    from posproject.celery import app

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", CLOSED_PORT)) != 0, "the closed port is in use"
    url = app.conf.broker_url

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url = url
        reset_pools()


def test_a_sales_receipt_arrives_at_the_printer_exactly_once(celery_worker, standin, printer_at, sell):
    celery_worker()
    server = standin("print")
    receipt = sell(printer_at(server))
    job = receipt.print_jobs.get()

    wait_for(lambda: _status(job.pk) == Status.PRINTED, message="the receipt to print")
    from billing.tasks import send_print_job

    send_print_job.delay(job.pk)  # a duplicate delivery of the same task
    with override_settings(PRINT_REQUEUE_AFTER=0):
        assert printing.sweep_print_jobs().requeued == []
    wait_for(lambda: not _broker_backlog(), message="the duplicate task to be consumed")

    assert server.wait_for_jobs(1) == [render_job(PrintJob.objects.get(pk=job.pk))]
    assert server.connections == 1
    assert PrintJob.objects.get(pk=job.pk).attempts == 1


def _broker_backlog() -> int:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    return client.llen("celery") + client.hlen("unacked")


def test_a_dead_printer_is_retried_then_failed_and_the_sale_still_stands(celery_worker, standin, printer_at, sell):
    celery_worker(PRINT_MAX_ATTEMPTS=3)
    server = standin("refuse")
    receipt = sell(printer_at(server))
    job = receipt.print_jobs.get()

    wait_for(lambda: _status(job.pk) == Status.FAILED, message="the job to fail")

    job.refresh_from_db()
    assert job.attempts == 3 and "refused" in job.last_error.lower()
    assert server.connections == 0
    assert Receipt.objects.filter(pk=receipt.pk, order__status="paid", order__payments__amount=Decimal("13.00"))
    assert list(printing.problem_jobs(receipt.register.location)) == [job]


def test_a_job_written_while_redis_is_down_prints_once_the_sweeper_runs(celery_worker, standin, printer_at, sell):
    server = standin("print")
    printer = printer_at(server)
    with redis_down_for_this_process():
        receipt = sell(printer)  # commits; enqueueing on commit fails and is logged
    job = receipt.print_jobs.get()
    assert _status(job.pk) == Status.QUEUED
    assert Receipt.objects.filter(pk=receipt.pk).exists()  # the sale stands

    celery_worker()
    assert _broker_backlog() == 0  # nothing reached Redis: only the row remembers the job
    with override_settings(PRINT_REQUEUE_AFTER=0):
        assert printing.sweep_print_jobs().requeued == [job.pk]

    wait_for(lambda: _status(job.pk) == Status.PRINTED, message="the swept job to print")
    assert server.wait_for_jobs(1) == [render_job(PrintJob.objects.get(pk=job.pk))]


def test_a_worker_killed_mid_send_leaves_the_job_uncertain_and_it_is_never_printed_again(
    celery_worker, standin, printer_at, sell
):
    worker = celery_worker(PRINT_SEND_TIMEOUT=120)
    server = standin("hang")  # takes the bytes, never confirms
    job = sell(printer_at(server)).print_jobs.get()
    server.wait_for_jobs(1)
    assert _status(job.pk) == Status.SENDING

    worker.kill()
    with override_settings(PRINT_SENDING_STALE_AFTER=0, PRINT_REQUEUE_AFTER=0):
        result = printing.sweep_print_jobs()
    assert result.marked_uncertain == [job.pk] and result.requeued == []

    celery_worker()  # a fresh worker; the killed one's task is still unacknowledged in Redis
    from billing.tasks import send_print_job

    send_print_job.delay(job.pk)  # as if Redis redelivered it
    wait_for(lambda: _broker_backlog() <= 1, message="the redelivered task to be consumed")  # the dead one's
    assert _status(job.pk) == Status.UNCERTAIN
    assert server.connections == 1 and len(server.jobs) == 1


def test_a_reprint_of_an_uncertain_receipt_arrives_marked_copy(celery_worker, cashier, standin, printer_at, sell):
    celery_worker()
    server = standin("drop", drop_after=8)
    receipt = sell(printer_at(server))
    job = receipt.print_jobs.get()
    wait_for(lambda: _status(job.pk) == Status.UNCERTAIN, message="the dropped job to be uncertain")

    server.set_mode("print")
    copy = printing.reprint(job_id=job.pk, user=cashier)
    wait_for(lambda: _status(copy.pk) == Status.PRINTED, message="the copy to print")

    first, second = server.wait_for_jobs(2)
    assert len(first) == 8  # what the printer took before it dropped
    assert read(second).text.count("COPY") == 2
    assert list(printing.problem_jobs(receipt.register.location)) == []


def test_kitchen_tickets_reach_their_station_printer_only(celery_worker, location, waiter, standin, printer_at):
    celery_worker()
    grill_server, bar_server = standin("print"), standin("print")
    StationPrinter.objects.create(location=location, station="grill", printer=printer_at(grill_server, name="G"))
    StationPrinter.objects.create(location=location, station="bar", printer=printer_at(bar_server, name="B"))
    order = OrderFactory(location=location, staff=waiter)
    with transaction.atomic():
        tickets = []
        for station, dish in (("grill", "Ribeye steak"), ("bar", "Negroni")):
            ticket = KitchenTicket.objects.create(order=order, location=location, station=station, sent_by=waiter)
            OrderLineFactory(order=order, kitchen_ticket=ticket, name=dish, quantity=Decimal("2"))
            tickets.append(ticket)
        kitchen_tickets_sent.send(sender=KitchenTicket, tickets=tickets, user=waiter)

    wait_for(lambda: PrintJob.objects.filter(status=Status.PRINTED).count() == 2, message="both tickets to print")
    (grill_ticket,) = grill_server.wait_for_jobs(1)
    (bar_ticket,) = bar_server.wait_for_jobs(1)
    assert "Ribeye" in read(grill_ticket).text and "Negroni" not in read(grill_ticket).text
    assert "Negroni" in read(bar_ticket).text and "Ribeye" not in read(bar_ticket).text


def test_a_counter_sale_through_checkout_prints_its_receipt_once_and_kicks_the_drawer(
    celery_worker, location, cashier, standin, printer_at
):
    from billing import services
    from orders.pricing import TenderInput
    from orders.tests.helpers import line, open_register, stocked_product

    celery_worker()
    server = standin("print")
    register = open_register(location, printer=printer_at(server, has_cash_drawer=True, columns=32))
    product = stocked_product(location, on_hand="5", price="4.50", name="Flat white")

    sale = services.sell(
        register_id=register.pk,
        user=cashier,
        lines=[line(product, "2")],
        tenders=[TenderInput("cash", tendered=Decimal("10"))],
    )
    job = sale.receipt.print_jobs.get()
    wait_for(lambda: _status(job.pk) == Status.PRINTED, message="the receipt to print")

    (printed,) = server.wait_for_jobs(1)
    printout = read(printed)
    assert printout.drawer_kicks == 1
    assert "2 x Flat white" in printout.text and "9.00" in printout.text and "Change" in printout.text
    assert all(width <= 32 for _, width in printout.lines)


def test_sending_an_order_to_the_kitchen_prints_each_station_ticket_on_its_printer(
    celery_worker, location, waiter, standin, printer_at
):
    from orders import services as orders_services
    from orders.tests.helpers import line, station_product

    celery_worker()
    grill_server, bar_server = standin("print"), standin("print")
    StationPrinter.objects.create(location=location, station="grill", printer=printer_at(grill_server, name="G"))
    StationPrinter.objects.create(location=location, station="bar", printer=printer_at(bar_server, name="B"))
    steak = station_product(location, "grill", name="Ribeye steak")
    drink = station_product(location, "bar", name="Negroni")
    order = orders_services.open_order(location_id=location.pk, user=waiter)
    orders_services.add_lines(order.pk, user=waiter, lines=[line(steak, note="medium rare"), line(drink)])

    tickets = orders_services.send_to_kitchen(order.pk, user=waiter)
    assert len(tickets) == 2
    wait_for(lambda: PrintJob.objects.filter(status=Status.PRINTED).count() == 2, message="both tickets to print")

    (grill_ticket,) = grill_server.wait_for_jobs(1)
    (bar_ticket,) = bar_server.wait_for_jobs(1)
    assert "Ribeye" in read(grill_ticket).text and "medium rare" in read(grill_ticket).text
    assert "Negroni" not in read(grill_ticket).text
    assert "Negroni" in read(bar_ticket).text and "Ribeye" not in read(bar_ticket).text
