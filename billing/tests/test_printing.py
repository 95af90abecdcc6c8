"""The print outbox's state machine against a real TCP printer stand-in, run in this process (no worker)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from billing import printing
from billing.models import Printer, PrintJob, Receipt, StationPrinter
from billing.receipts import render_job
from billing.tests.escpos_text import read
from billing.tests.factories import PrinterFactory, RegisterFactory
from core.errors import Conflict, PermissionDenied
from inventory.tests.factories import LocationFactory, UserFactory
from orders.models import KitchenTicket
from orders.signals import kitchen_tickets_sent
from orders.tests.factories import OrderFactory, OrderLineFactory

Status = PrintJob.Status
FAST = override_settings(PRINT_CONNECT_TIMEOUT=1, PRINT_SEND_TIMEOUT=1, PRINT_MAX_ATTEMPTS=3)


def _job(receipt: Receipt) -> PrintJob:
    return receipt.print_jobs.get()


@pytest.fixture(autouse=True)
def _fast_timeouts():
    with FAST:
        yield


def test_a_receipt_job_is_written_queued_with_the_sale(standin, printer_at, sell):
    receipt = sell(printer_at(standin()))
    job = _job(receipt)
    assert (job.status, job.kind, job.is_copy, job.attempts) == (Status.QUEUED, "receipt", False, 0)


def test_a_queued_job_prints_once_and_a_second_delivery_does_nothing(standin, printer_at, sell):
    server = standin("print")
    job = _job(sell(printer_at(server)))

    assert printing.deliver_print_job(job.pk) == Status.PRINTED
    assert printing.deliver_print_job(job.pk) == "skipped"

    job.refresh_from_db()
    assert job.status == Status.PRINTED and job.attempts == 1 and job.printed_at is not None
    assert server.wait_for_jobs(1) == [render_job(job)]
    assert server.connections == 1


def test_a_refused_connection_is_retried_with_backoff_then_failed_and_the_sale_stands(standin, printer_at, sell):
    server = standin("refuse")
    receipt = sell(printer_at(server))
    job = _job(receipt)

    countdowns = []
    for _ in range(2):
        with pytest.raises(printing.RetryLater) as retry:
            printing.deliver_print_job(job.pk)
        countdowns.append(retry.value.countdown)
        job.refresh_from_db()
        assert job.status == Status.QUEUED and "refused" in job.last_error.lower()
    assert printing.deliver_print_job(job.pk) == Status.FAILED

    job.refresh_from_db()
    assert job.status == Status.FAILED and job.attempts == 3
    assert "after 3 attempts" in job.last_error
    assert countdowns[1] > countdowns[0]
    assert server.connections == 0
    assert Receipt.objects.filter(pk=receipt.pk, order__status="paid").exists()


def test_a_printer_that_resets_mid_job_leaves_it_uncertain_and_it_is_not_sent_again(standin, printer_at, sell):
    server = standin("drop", drop_after=8)
    job = _job(sell(printer_at(server)))

    assert printing.deliver_print_job(job.pk) == Status.UNCERTAIN
    assert printing.deliver_print_job(job.pk) == "skipped"

    job.refresh_from_db()
    assert job.status == Status.UNCERTAIN and "may have printed" in job.last_error
    assert server.connections == 1


def test_a_printer_that_takes_the_bytes_but_never_confirms_leaves_the_job_uncertain(standin, printer_at, sell):
    server = standin("hang")
    job = _job(sell(printer_at(server)))

    assert printing.deliver_print_job(job.pk) == Status.UNCERTAIN

    assert server.wait_for_jobs(1) == [render_job(job)]  # it did arrive: sending again would print it twice


def test_a_file_printer_receives_the_bytes(tmp_path, sell):
    device = tmp_path / "lp0"
    device.touch()
    printer = PrinterFactory(connection=Printer.Connection.FILE, device_path=str(device))
    job = _job(sell(printer))

    assert printing.deliver_print_job(job.pk) == Status.PRINTED
    assert device.read_bytes() == render_job(job)


def test_a_missing_device_file_is_a_connection_error(tmp_path, sell):
    printer = PrinterFactory(connection=Printer.Connection.FILE, device_path=str(tmp_path / "nope" / "lp0"))
    job = _job(sell(printer))

    with pytest.raises(printing.RetryLater):
        printing.deliver_print_job(job.pk)


def test_a_job_for_a_switched_off_printer_fails_with_the_reason(standin, printer_at, sell):
    server = standin()
    job = _job(sell(printer_at(server, active=False)))

    assert printing.deliver_print_job(job.pk) == Status.FAILED
    job.refresh_from_db()
    assert "switched off" in job.last_error and server.connections == 0


def test_a_receipt_on_a_till_without_a_printer_is_recorded_failed_not_lost(sell):
    job = _job(sell(None))
    assert job.status == Status.FAILED and job.last_error == "No printer is assigned."


def test_retry_countdown_doubles_and_is_capped():
    with override_settings(PRINT_RETRY_BACKOFF=2, PRINT_RETRY_BACKOFF_MAX=30):
        assert [printing.retry_countdown(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


# --- The sweeper --------------------------------------------------------------------------------------------


def test_the_sweeper_marks_a_job_stuck_in_sending_uncertain_and_never_requeues_it(standin, printer_at, sell):
    job = _job(sell(printer_at(standin())))
    PrintJob.objects.filter(pk=job.pk).update(status=Status.SENDING, sending_at=timezone.now(), attempts=1)

    with override_settings(PRINT_SENDING_STALE_AFTER=60, PRINT_REQUEUE_AFTER=0):
        assert printing.sweep_print_jobs().marked_uncertain == []  # a live send is left alone
        later = timezone.now() + timedelta(seconds=61)
        result = printing.sweep_print_jobs(now=later)

    assert result.marked_uncertain == [job.pk] and result.requeued == []
    job.refresh_from_db()
    assert job.status == Status.UNCERTAIN and "worker stopped" in job.last_error
    assert printing.deliver_print_job(job.pk) == "skipped"


def test_the_sweeper_requeues_only_jobs_queued_for_longer_than_the_backoff(standin, printer_at, sell):
    job = _job(sell(printer_at(standin())))
    with override_settings(PRINT_REQUEUE_AFTER=60):
        assert printing.sweep_print_jobs().requeued == []
        assert printing.sweep_print_jobs(now=timezone.now() + timedelta(seconds=61)).requeued == [job.pk]


# --- Staff actions ------------------------------------------------------------------------------------------


def test_problem_jobs_lists_failed_and_uncertain_jobs_at_the_location_until_dealt_with(
    location, cashier, standin, printer_at, sell
):
    failed, uncertain, printed = (_job(sell(printer_at(standin()))) for _ in range(3))
    PrintJob.objects.filter(pk=failed.pk).update(status=Status.FAILED)
    PrintJob.objects.filter(pk=uncertain.pk).update(status=Status.UNCERTAIN)
    PrintJob.objects.filter(pk=printed.pk).update(status=Status.PRINTED, printed_at=timezone.now())
    elsewhere = PrintJob.objects.create(kind="receipt", status=Status.FAILED, location=LocationFactory())

    assert set(printing.problem_jobs(location)) == {failed, uncertain}
    assert elsewhere not in printing.problem_jobs(location)

    printing.dismiss_job(uncertain.pk, cashier)
    assert list(printing.problem_jobs(location)) == [failed]


def test_retrying_a_failed_job_prints_it(cashier, standin, printer_at, sell):
    server = standin("refuse")
    job = _job(sell(printer_at(server)))
    with override_settings(PRINT_MAX_ATTEMPTS=1):
        assert printing.deliver_print_job(job.pk) == Status.FAILED
    server.set_mode("print")

    retried = printing.retry_job(job.pk, cashier)
    assert (retried.status, retried.attempts) == (Status.QUEUED, 0)
    assert printing.deliver_print_job(job.pk) == Status.PRINTED
    assert len(server.wait_for_jobs(1)) == 1


def test_an_uncertain_job_cannot_be_retried_only_reprinted_as_a_copy(cashier, standin, printer_at, sell):
    server = standin("print")
    job = _job(sell(printer_at(server, has_cash_drawer=True)))
    PrintJob.objects.filter(pk=job.pk).update(status=Status.UNCERTAIN)

    with pytest.raises(Conflict):
        printing.retry_job(job.pk, cashier)
    copy = printing.reprint(job_id=job.pk, user=cashier)

    assert copy.pk != job.pk and copy.is_copy and copy.copy_of_id == job.pk and copy.status == Status.QUEUED
    job.refresh_from_db()
    assert job.status == Status.UNCERTAIN and job.resolved_by == cashier
    assert printing.deliver_print_job(copy.pk) == Status.PRINTED
    printout = read(server.wait_for_jobs(1)[0])
    assert "COPY" in printout.text and printout.drawer_kicks == 0


def test_a_receipt_can_be_reprinted_by_its_id(cashier, standin, printer_at, sell):
    receipt = sell(printer_at(standin()))
    copy = printing.reprint(receipt_id=receipt.pk, user=cashier)
    assert copy.receipt_id == receipt.pk and copy.is_copy
    assert receipt.print_jobs.count() == 2


def test_staff_cannot_reprint_at_a_location_they_do_not_work_at(standin, printer_at, sell):
    receipt = sell(printer_at(standin()))
    stranger = UserFactory(username="elsewhere", role="Cashier")
    with pytest.raises(PermissionDenied):
        printing.reprint(receipt_id=receipt.pk, user=stranger)


# --- Kitchen tickets ----------------------------------------------------------------------------------------


def test_each_kitchen_ticket_gets_one_job_to_its_own_station_printer(location, waiter, standin, printer_at):
    grill, bar = printer_at(standin(), name="Grill"), printer_at(standin(), name="Bar")
    StationPrinter.objects.create(location=location, station="grill", printer=grill)
    StationPrinter.objects.create(location=location, station="bar", printer=bar)
    order = OrderFactory(location=location, staff=waiter)
    tickets = []
    with transaction.atomic():
        for station in ("grill", "bar", "pass"):  # "pass" shows on a kitchen display only
            ticket = KitchenTicket.objects.create(order=order, location=location, station=station, sent_by=waiter)
            OrderLineFactory(order=order, kitchen_ticket=ticket, quantity=Decimal("1"))
            tickets.append(ticket)
        kitchen_tickets_sent.send(sender=KitchenTicket, tickets=tickets, user=waiter)

    jobs = {job.kitchen_ticket.station: job for job in PrintJob.objects.filter(kind="kitchen")}
    assert set(jobs) == {"grill", "bar"}
    assert jobs["grill"].printer == grill and jobs["bar"].printer == bar
    assert all(job.location == location and job.created_by == waiter for job in jobs.values())


def test_kitchen_jobs_roll_back_with_the_send_that_wrote_them(location, waiter, standin, printer_at):
    StationPrinter.objects.create(location=location, station="grill", printer=printer_at(standin()))
    order = OrderFactory(location=location, staff=waiter)
    with pytest.raises(RuntimeError), transaction.atomic():
        ticket = KitchenTicket.objects.create(order=order, location=location, station="grill", sent_by=waiter)
        kitchen_tickets_sent.send(sender=KitchenTicket, tickets=[ticket], user=waiter)
        raise RuntimeError("the send failed")
    assert not PrintJob.objects.exists()


def test_a_register_printer_change_sends_the_reprint_to_the_new_printer(cashier, standin, printer_at, sell):
    receipt = sell(printer_at(standin()))
    new_printer = printer_at(standin(), name="New front printer")
    RegisterFactory._meta.model.objects.filter(pk=receipt.register_id).update(printer=new_printer)
    assert printing.reprint(receipt_id=receipt.pk, user=cashier).printer == new_printer


# --- Admin --------------------------------------------------------------------------------------------------


def _admin_action(client, name: str, ids):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    return client.post("/admin/billing/printjob/", {"action": name, ACTION_CHECKBOX_NAME: [str(pk) for pk in ids]})


def test_a_manager_retries_a_failed_job_and_reprints_an_uncertain_one_from_admin(
    client, manager, standin, printer_at, sell
):
    client.force_login(manager)
    failed, uncertain = (_job(sell(printer_at(standin()))) for _ in range(2))
    PrintJob.objects.filter(pk=failed.pk).update(status=Status.FAILED)
    PrintJob.objects.filter(pk=uncertain.pk).update(status=Status.UNCERTAIN)

    assert _admin_action(client, "retry", [failed.pk, uncertain.pk]).status_code == 302
    assert _admin_action(client, "reprint", [uncertain.pk]).status_code == 302

    failed.refresh_from_db()
    uncertain.refresh_from_db()
    assert failed.status == Status.QUEUED
    assert uncertain.status == Status.UNCERTAIN and uncertain.resolved_by == manager
    assert uncertain.copies.get().is_copy
    assert client.get("/admin/billing/printjob/").status_code == 200


def test_a_test_page_from_admin_prints_within_the_printer_columns(client, manager, standin, printer_at):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    client.force_login(manager)
    server = standin()
    printer = printer_at(server, columns=32)
    client.post("/admin/billing/printer/", {"action": "print_test_page", ACTION_CHECKBOX_NAME: [str(printer.pk)]})
    job = PrintJob.objects.get(printer=printer)

    assert printing.deliver_print_job(job.pk) == Status.PRINTED
    printout = read(server.wait_for_jobs(1)[0])
    assert "Accents: é è ü ñ ç ß €" in printout.text
    assert max(width for _, width in printout.lines) == 32


def test_printing_a_job_records_its_latency_and_outcome_for_prometheus(standin, printer_at, sell):
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    before = sample("tillhouse_print_latency_seconds_count", kind="receipt")
    printed_before = sample("tillhouse_print_attempts_total", kind="receipt", outcome="printed")
    job = _job(sell(printer_at(standin())))

    printing.deliver_print_job(job.pk)

    assert sample("tillhouse_print_latency_seconds_count", kind="receipt") == before + 1
    assert sample("tillhouse_print_attempts_total", kind="receipt", outcome="printed") == printed_before + 1


def test_a_job_that_cannot_be_laid_out_fails_without_reaching_the_printer(standin, printer_at):
    server = standin()
    job = PrintJob.objects.create(kind="report", printer=printer_at(server), payload={})

    with pytest.raises(ValueError, match="nothing to print"):
        printing.deliver_print_job(job.pk)

    job.refresh_from_db()
    assert job.status == Status.FAILED and "Could not lay out" in job.last_error
    assert server.connections == 0
