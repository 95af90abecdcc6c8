"""The print outbox (DESIGN.md §3.7): jobs are rows written in the business transaction; Celery sends them.

A job moves queued → sending → printed | failed | uncertain, each step a compare-and-swap on its status, so that a
job is sent by one worker at a time and a task delivered twice does nothing the second time.

- Nothing written yet (connection refused, connect timeout, unknown host): the job goes back to `queued` and the
  task retries with backoff; after PRINT_MAX_ATTEMPTS it is `failed`. Staff may retry a failed job.
- Bytes may have reached the printer (timeout or reset after the first byte was written, a worker killed while the
  job was `sending`): the job is `uncertain` and is never sent again automatically, because the receipt may be on
  the counter already. Staff look, then reprint it (a new job that prints COPY) or dismiss it.
- A job left `queued` (the broker was down at commit, a task was lost) is re-enqueued by the beat sweeper.

A network printer counts as printed when it has read everything and closed its end: we half-close after writing
and wait for its close (what the CUPS socket backend does), so a printer that stops reading is noticed.
"""

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, F, QuerySet
from django.utils import timezone
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import File, Network
from prometheus_client import Counter, Histogram

from billing.models import Printer, PrintJob, StationPrinter
from billing.printer_targets import NetworkTarget, TargetRefused, TargetUnresolved, check_printer
from core.errors import Conflict, NotFound
from core.sql import insert_rows
from staff.access import check_location

logger = logging.getLogger(__name__)

PRINT_LATENCY = Histogram(
    "tillhouse_print_latency_seconds",
    "Seconds from a print job being written to its printer confirming it, by kind.",
    ["kind"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
PRINT_OUTCOMES = Counter(
    "tillhouse_print_attempts",
    "Print attempts by kind and outcome (printed, retry, failed, uncertain).",
    ["kind", "outcome"],
)
# Every series exists from the start at 0, so that `increase()` sees the first failure and absence alerts can fire.
for _kind in PrintJob.Kind.values:
    PRINT_LATENCY.labels(_kind)
    for _outcome in ("printed", "retry", "failed", "uncertain"):
        PRINT_OUTCOMES.labels(_kind, _outcome)

Status = PrintJob.Status
PROBLEM_STATUSES = (Status.FAILED, Status.UNCERTAIN)


class PrinterUnreachable(Exception):
    """Nothing reached the printer: sending again cannot print twice."""


class PrinterNotAllowed(Exception):
    """The printer's host:port or device path is not one a printer may have (billing.printer_targets): nothing
    was sent, and sending again would not help."""


class DeliveryUncertain(Exception):
    """Some bytes may have reached the printer: sending again could print twice."""


class RetryLater(Exception):
    """The job went back to `queued` after a connection error; the caller should retry it after `countdown`."""

    def __init__(self, message: str, *, countdown: int):
        super().__init__(message)
        self.countdown = countdown


# --- Writing jobs -------------------------------------------------------------------------------------------


def printer_for(*, receipt=None, kitchen_ticket=None, z_report=None) -> Printer | None:
    """The printer a document goes to today: its register's printer, or its kitchen station's."""
    if receipt is not None:
        return receipt.register.printer
    if kitchen_ticket is not None:
        station = (
            StationPrinter.objects.select_related("printer")
            .filter(location_id=kitchen_ticket.location_id, station=kitchen_ticket.station)
            .first()
        )
        return station.printer if station else None
    if z_report is not None:
        return z_report.register.printer
    return None


_LOOK_UP = object()


def new_print_job(
    *,
    kind: str,
    printer=None,
    printer_id=_LOOK_UP,
    location=None,
    receipt=None,
    kitchen_ticket=None,
    z_report=None,
    is_copy: bool = False,
    payload: dict | None = None,
    user=None,
    copy_of: PrintJob | None = None,
) -> PrintJob:
    """An unsaved print job (see queue_print_job), for a caller that inserts it with other rows and then calls
    hand_over(job)."""
    if printer is not None:
        printer_id = printer.pk
    elif printer_id is _LOOK_UP:
        printer = printer_for(receipt=receipt, kitchen_ticket=kitchen_ticket, z_report=z_report)
        printer_id = printer.pk if printer else None
    return PrintJob(
        kind=kind,
        printer_id=printer_id,
        location=location,
        receipt=receipt,
        kitchen_ticket=kitchen_ticket,
        z_report=z_report,
        is_copy=is_copy,
        payload=payload or {},
        created_by=user,
        copy_of=copy_of,
        status=Status.QUEUED if printer_id else Status.FAILED,
        last_error="" if printer_id else "No printer is assigned.",
    )


def hand_over(job: PrintJob) -> None:
    """Once the transaction that wrote `job` commits, hand it to a worker (a job with no printer stays failed)."""
    if job.printer_id:
        transaction.on_commit(lambda: _enqueue(job.pk))


def queue_print_job(**kwargs) -> PrintJob:
    """Write a print job in the caller's transaction and hand it to a worker once that transaction commits.

    Takes new_print_job's arguments. With no `printer`, the register's (receipt, Z report) or the station's (kitchen
    ticket) is used; a caller that already holds the register's row passes its `printer_id` instead (None: the
    register has no printer). If there is none the job is written `failed` with the reason, so staff see it and can
    retry once a printer is assigned. If the broker is down at commit time the row stays `queued` and the beat
    sweeper sends it later: a job is never lost with the sale.
    """
    job = new_print_job(**kwargs)
    insert_rows([job])
    hand_over(job)
    return job


def _enqueue(job_id: int) -> bool:
    from billing.tasks import send_print_job

    if send_print_job.app.conf.task_always_eager:
        send_after_response(job_id)
        return True
    try:  # one quick retry at most: with the broker down the till must not wait, the sweeper sends it later
        send_print_job.apply_async((job_id,), retry_policy={"max_retries": 1, "interval_start": 0.2})
    except Exception:  # broker down: the sweeper re-enqueues queued jobs
        logger.warning("print job %s left queued: could not hand it to a worker", job_id, exc_info=True)
        return False
    return True


# Without a broker (`make run`: Celery eager) a task runs in the web process, in the request that committed the job:
# a printer that accepts and never reads would hold the response for PRINT_CONNECT_TIMEOUT + PRINT_SEND_TIMEOUT.
# So jobs are sent by a few threads of this process, after the response (a dead printer holds one of them, not the
# others' receipts). The row is still the outbox: a job no thread reached (the process stopped) stays `queued`, and
# one more thread sweeps every PRINT_SWEEP_EVERY seconds, as beat would with a broker.
EAGER_SENDERS = 4
_eager_jobs: queue.SimpleQueue = queue.SimpleQueue()
_eager_threads: list[threading.Thread] = []
_eager_threads_lock = threading.Lock()


def send_after_response(job_id: int) -> None:
    """Hand a job to this process's sender threads (started on first use); one makes a single attempt, as an eager
    task does, and the job ends printed, failed or uncertain."""
    with _eager_threads_lock:
        if not _eager_threads:
            targets = [_send_eagerly_forever] * EAGER_SENDERS + [_sweep_eagerly_forever]
            for i, target in enumerate(targets):
                thread = threading.Thread(target=target, name=f"print-sender-{i}", daemon=True)
                thread.start()
                _eager_threads.append(thread)
    _eager_jobs.put(job_id)


def _send_eagerly_forever() -> None:
    from billing.tasks import send_print_job

    while True:
        job_id = _eager_jobs.get()
        try:
            send_print_job.apply((job_id,), throw=True)
        except Exception:  # the row says what happened (deliver_print_job marks it); serve the next job
            logger.exception("print job %s: sending it in the web process failed", job_id)
        finally:
            connections.close_all()  # this thread's own: none stays open while it waits


def _sweep_eagerly_forever() -> None:
    from billing.tasks import send_print_job

    while True:  # first at once: jobs an earlier process left queued
        try:
            if send_print_job.app.conf.task_always_eager:  # still without a broker (tests switch it on and off)
                sweep_print_jobs()
        except Exception:
            logger.exception("print sweeper in the web process failed")
        finally:
            connections.close_all()
        time.sleep(settings.CELERY_BEAT_SCHEDULE["billing.sweep_print_jobs"]["schedule"])


def on_kitchen_tickets_sent(sender, *, tickets, user=None, **kwargs) -> None:
    """One kitchen job per ticket, to its station's printer, in the transaction that sent the tickets.

    A station with no printer (a kitchen display only) gets no job.
    """
    for ticket in tickets:
        printer = printer_for(kitchen_ticket=ticket)
        if printer is None:
            logger.info("kitchen ticket %s: station %r has no printer", ticket.pk, ticket.station)
            continue
        queue_print_job(
            kind=PrintJob.Kind.KITCHEN,
            printer=printer,
            location=ticket.location,
            kitchen_ticket=ticket,
            user=user,
        )


# --- Sending ------------------------------------------------------------------------------------------------


def send_bytes(printer: Printer, data: bytes) -> None:
    """Deliver `data` to a printer, with PRINT_CONNECT_TIMEOUT to connect and PRINT_SEND_TIMEOUT to deliver.

    Raises PrinterUnreachable if nothing was written and DeliveryUncertain once writing has begun.
    """
    try:
        target = check_printer(printer)  # again here: a row may have been written around Printer.clean()
    except TargetUnresolved as exc:
        raise PrinterUnreachable(exc.message) from exc
    except TargetRefused as exc:
        raise PrinterNotAllowed(exc.message) from exc
    if printer.connection == Printer.Connection.FILE:
        _send_to_file(printer, data, path=target)
    else:
        _send_to_network(printer, data, target=target)


def _send_to_file(printer: Printer, data: bytes, *, path: str) -> None:
    device = File(devfile=path, auto_flush=False)
    try:
        device.open()
    except (DeviceNotFoundError, OSError) as exc:
        raise PrinterUnreachable(f"Cannot open {printer.device_path}: {exc}") from exc
    try:
        device._raw(data)
        device.flush()
    except OSError as exc:
        raise DeliveryUncertain(f"Writing to {printer.device_path} failed: {exc}") from exc
    finally:
        try:
            device.close()
        except OSError:
            logger.warning("closing %s failed", printer.device_path, exc_info=True)


def _send_to_network(printer: Printer, data: bytes, *, target: NetworkTarget) -> None:
    device = Network(host=target.address, port=target.port, timeout=settings.PRINT_CONNECT_TIMEOUT)
    try:
        device.open()
    except DeviceNotFoundError as exc:
        raise PrinterUnreachable(f"{printer.host}:{printer.port}: {exc.msg.splitlines()[-1]}") from exc
    sock: socket.socket = device.device
    deadline = time.monotonic() + settings.PRINT_SEND_TIMEOUT
    try:
        sock.settimeout(settings.PRINT_SEND_TIMEOUT)
        device._raw(data)
        if settings.PRINT_WAIT_FOR_PRINTER_CLOSE:
            sock.shutdown(socket.SHUT_WR)
            while True:  # the printer may send status bytes; it closes once it has read the whole job
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the printer did not confirm the job")
                sock.settimeout(remaining)
                if not sock.recv(1024):
                    break
    except OSError as exc:
        raise DeliveryUncertain(f"{printer.host}:{printer.port}: {exc or type(exc).__name__}") from exc
    finally:
        device.close()


def retry_countdown(attempts: int) -> int:
    """Seconds before attempt `attempts + 1`: PRINT_RETRY_BACKOFF doubled each time, at most PRINT_RETRY_BACKOFF_MAX."""
    return min(settings.PRINT_RETRY_BACKOFF * 2 ** max(attempts - 1, 0), settings.PRINT_RETRY_BACKOFF_MAX)


def _finish(job: PrintJob, status: str, *, error: str = "", from_statuses=(Status.SENDING,)) -> bool:
    """Compare-and-swap from this worker's claim (same status, same attempt) to `status`."""
    now = timezone.now()
    changes = {"status": status, "last_error": error[:2000], "updated_at": now}
    if status == Status.PRINTED:
        changes["printed_at"] = now
    done = PrintJob.objects.filter(pk=job.pk, status__in=from_statuses, attempts=job.attempts).update(**changes) == 1
    if done:
        outcome = "retry" if status == Status.QUEUED else status
        PRINT_OUTCOMES.labels(kind=job.kind, outcome=outcome).inc()
        if status == Status.PRINTED:
            PRINT_LATENCY.labels(kind=job.kind).observe((now - job.created_at).total_seconds())
    return done


def deliver_print_job(job_id: int, *, may_retry: bool = True) -> str:
    """Send one queued job to its printer; return its new status, or "skipped" if it was not `queued`.

    Preconditions: none — any job id may be passed any number of times; only a `queued` job is claimed.
    Raises RetryLater when the printer could not be reached and another attempt is allowed (the job is `queued`
    again), and re-raises unexpected errors after marking the job `uncertain` (so they reach Sentry).
    """
    now = timezone.now()
    claimed = PrintJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        return "skipped"
    job = PrintJob.objects.select_related("printer").get(pk=job_id)
    printer = job.printer
    if printer is None or not printer.active:
        reason = "No printer is assigned." if printer is None else f"Printer {printer} is switched off in admin."
        _finish(job, Status.FAILED, error=reason)
        return Status.FAILED
    from billing.receipts import render_job

    try:
        data = render_job(job)
    except Exception as exc:  # a bug or a broken snapshot: nothing was sent; fail loudly (Sentry)
        _finish(job, Status.FAILED, error=f"Could not lay out the job: {type(exc).__name__}: {exc}")
        raise
    try:
        send_bytes(printer, data)
    except PrinterNotAllowed as exc:
        _finish(job, Status.FAILED, error=str(exc))
        return Status.FAILED
    except PrinterUnreachable as exc:
        if may_retry and job.attempts < settings.PRINT_MAX_ATTEMPTS:
            _finish(job, Status.QUEUED, error=str(exc))
            raise RetryLater(str(exc), countdown=retry_countdown(job.attempts)) from exc
        _finish(job, Status.FAILED, error=f"{exc} (after {job.attempts} attempts)")
        return Status.FAILED
    except DeliveryUncertain as exc:
        _finish(job, Status.UNCERTAIN, error=f"{exc}; the printer may have printed it")
        return Status.UNCERTAIN
    except BaseException as exc:
        _finish(job, Status.UNCERTAIN, error=f"{type(exc).__name__}: {exc}")
        raise
    # A slow send that the sweeper already marked uncertain did print after all: say so.
    _finish(job, Status.PRINTED, from_statuses=(Status.SENDING, Status.UNCERTAIN))
    return Status.PRINTED


# --- The sweeper --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    requeued: list[int]
    marked_uncertain: list[int]


def sweep_print_jobs(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Mark jobs stuck in `sending` as `uncertain` and re-enqueue jobs left `queued`.

    A job `sending` for longer than PRINT_SENDING_STALE_AFTER belongs to a worker that died mid-send: its bytes may
    be on paper, so it is never re-sent. A job `queued` and untouched for PRINT_REQUEUE_AFTER (longer than the retry
    backoff) lost its task; sending it twice is harmless because the task claims it with a compare-and-swap.
    """
    now = now or timezone.now()
    stale = list(
        PrintJob.objects.filter(
            status=Status.SENDING, sending_at__lt=now - timedelta(seconds=settings.PRINT_SENDING_STALE_AFTER)
        ).values_list("pk", "attempts", "kind")[:limit]
    )
    marked = []
    for pk, attempts, kind in stale:
        updated = PrintJob.objects.filter(pk=pk, status=Status.SENDING, attempts=attempts).update(
            status=Status.UNCERTAIN,
            last_error="The worker stopped while sending; the printer may have printed it.",
            updated_at=now,
        )
        if updated:
            marked.append(pk)
            PRINT_OUTCOMES.labels(kind=kind, outcome=Status.UNCERTAIN).inc()
    requeued = list(
        PrintJob.objects.filter(
            status=Status.QUEUED, updated_at__lt=now - timedelta(seconds=settings.PRINT_REQUEUE_AFTER)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for i, pk in enumerate(requeued):
        if not _enqueue(pk):  # the broker is down: the next sweep tries again
            requeued = requeued[:i]
            break
    if marked or requeued:
        logger.warning("print sweeper: %d re-enqueued, %d marked uncertain", len(requeued), len(marked))
    return SweepResult(requeued=requeued, marked_uncertain=marked)


# --- For staff: the POS banner and admin --------------------------------------------------------------------


def problem_jobs(location) -> QuerySet[PrintJob]:
    """Failed and uncertain jobs at a location that nobody has dealt with yet, newest first."""
    return (
        PrintJob.objects.filter(location=location, status__in=PROBLEM_STATUSES, resolved_at__isnull=True)
        .select_related("printer", "receipt", "kitchen_ticket")
        .order_by("-created_at", "-pk")
    )


def jobs_by_state() -> dict[str, int]:
    """How many jobs are in each state (every state present, zero included)."""
    counts = dict(PrintJob.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Status.values}


def _job_for(job_id: int, user, *, lock: bool = False) -> PrintJob:
    jobs = PrintJob.objects.select_for_update() if lock else PrintJob.objects.all()
    job = jobs.filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"No print job {job_id}.")
    if job.location_id:
        check_location(user, job.location_id, message="You cannot act on print jobs at this location.")
    return job


@transaction.atomic
def retry_job(job_id: int, user) -> PrintJob:
    """Send a `failed` job again (nothing of it was printed), to its printer or, if it has none, the current one.

    Raises NotFound, PermissionDenied, and Conflict for any other status: an `uncertain` job may have printed, so it
    is reprinted as a COPY instead.
    """
    job = _job_for(job_id, user, lock=True)
    if job.status != Status.FAILED:
        raise Conflict(
            f"Only a failed job can be retried; this one is {job.get_status_display().lower()}."
            + (" Reprint it as a copy instead." if job.status == Status.UNCERTAIN else ""),
            code="print_job_not_failed",
        )
    printer = job.printer or printer_for(receipt=job.receipt, kitchen_ticket=job.kitchen_ticket, z_report=job.z_report)
    if printer is None:
        raise Conflict("No printer is assigned; assign one in admin first.", code="no_printer")
    PrintJob.objects.filter(pk=job.pk, status=Status.FAILED).update(
        status=Status.QUEUED, printer=printer, attempts=0, updated_at=timezone.now()
    )
    logger.info("print job %s retried by %s", job.pk, user)
    transaction.on_commit(lambda: _enqueue(job.pk))
    job.refresh_from_db()
    return job


@transaction.atomic
def reprint(*, user, job_id: int | None = None, receipt_id: int | None = None) -> PrintJob:
    """Print a document again as a new job marked COPY (never opening the drawer), and close the problem it solves.

    Pass the job to reprint, or a receipt (its latest receipt job is copied, or a new one made if it has none).
    The copy goes to the document's current printer. Raises NotFound and PermissionDenied.
    """
    from billing.models import Receipt

    if job_id is not None:
        original = _job_for(job_id, user, lock=True)
    elif receipt_id is not None:
        receipt = Receipt.objects.select_related("register").filter(pk=receipt_id).first()
        if receipt is None:
            raise NotFound(f"No receipt {receipt_id}.")
        check_location(user, receipt.register.location_id, message="You cannot reprint receipts at this location.")
        original = receipt.print_jobs.select_for_update().order_by("-created_at", "-pk").first()
        if original is None:
            return queue_print_job(
                kind=PrintJob.Kind.RECEIPT,
                location=receipt.register.location,
                receipt=receipt,
                is_copy=True,
                user=user,
            )
    else:
        raise NotFound("Say which job or receipt to reprint.")
    source = original.copy_of or original
    printer = (
        printer_for(receipt=source.receipt, kitchen_ticket=source.kitchen_ticket, z_report=source.z_report)
        or source.printer
    )
    payload = {k: v for k, v in source.payload.items() if k != "open_drawer"}
    copy = queue_print_job(
        kind=source.kind,
        printer=printer,
        location=source.location,
        receipt=source.receipt,
        kitchen_ticket=source.kitchen_ticket,
        z_report=source.z_report,
        is_copy=True,
        payload=payload,
        user=user,
        copy_of=source,
    )
    _resolve(original, user)
    return copy


@transaction.atomic
def dismiss_job(job_id: int, user) -> PrintJob:
    """Take a failed or uncertain job off the problem list without printing (staff saw it printed, or it is moot)."""
    job = _job_for(job_id, user, lock=True)
    if job.status not in PROBLEM_STATUSES:
        raise Conflict("Only a failed or uncertain job can be dismissed.", code="print_job_not_a_problem")
    _resolve(job, user)
    return job


def _resolve(job: PrintJob, user) -> None:
    if job.status in PROBLEM_STATUSES and job.resolved_at is None:
        now = timezone.now()
        PrintJob.objects.filter(pk=job.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolved_by=user, updated_at=now
        )
        job.resolved_at, job.resolved_by = now, user
        logger.info("print job %s (%s) resolved by %s", job.pk, job.status, user)


def queue_test_page(printer: Printer, *, user=None, location=None, purpose: str = "") -> PrintJob:
    """A short page that shows the printer's width, code page and cutter work (admin action; the setup checklist's
    test print, marked with its `purpose` in the payload)."""
    lines = [
        f"Test page: {printer.name}",
        "-" * printer.columns,
        "".join(str(i % 10) for i in range(1, printer.columns + 1)),
        "Accents: é è ü ñ ç ß €",
        f"{printer.paper_width_mm} mm, {printer.columns} columns",
    ]
    with transaction.atomic():
        payload = {"lines": lines, **({"purpose": purpose} if purpose else {})}
        return queue_print_job(
            kind=PrintJob.Kind.REPORT, printer=printer, location=location, payload=payload, user=user
        )
