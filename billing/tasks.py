"""Celery tasks for billing. Thin: they take ids or days and call the print outbox (billing.printing) or the
accounting export (billing.accounting)."""

from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing import accounting, giftcards, printing, receipt_mail


@shared_task(
    bind=True,
    name="billing.send_print_job",
    ignore_result=True,
    max_retries=settings.PRINT_MAX_ATTEMPTS,
    soft_time_limit=settings.PRINT_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.PRINT_TASK_SOFT_TIME_LIMIT + 10,
)
def send_print_job(self, job_id: int) -> str:
    """Send one print job. Idempotent: only a `queued` job is claimed (compare-and-swap), so a redelivered or
    duplicated task does nothing. Retries connection errors only (nothing was printed), with exponential backoff,
    up to PRINT_MAX_ATTEMPTS; anything that may have printed becomes `uncertain` and is never retried.

    Run eagerly (no broker, `make run`) it makes one attempt, in a sender thread after the response
    (printing.send_after_response): a dead printer never holds a sale.
    """
    try:
        return printing.deliver_print_job(job_id, may_retry=not self.request.is_eager)
    except printing.RetryLater as exc:
        raise self.retry(exc=exc, countdown=exc.countdown) from exc


@shared_task(
    bind=True,
    name="billing.send_receipt_email",
    ignore_result=True,
    max_retries=settings.RECEIPT_EMAIL_MAX_ATTEMPTS,
    soft_time_limit=settings.RECEIPT_EMAIL_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.RECEIPT_EMAIL_TASK_SOFT_TIME_LIMIT + 10,
)
def send_receipt_email(self, email_id: int) -> str:
    """Send one receipt e-mail. Idempotent: only a `queued` row is claimed (compare-and-swap). Retries transient
    SMTP errors (refused, timeouts, 4xx) with exponential backoff up to RECEIPT_EMAIL_MAX_ATTEMPTS, then the row is
    `failed` for staff to see; run eagerly (no broker) it makes one attempt."""
    try:
        return receipt_mail.deliver_receipt_email(email_id, may_retry=not self.request.is_eager)
    except receipt_mail.RetryLater as exc:
        raise self.retry(exc=exc, countdown=exc.countdown) from exc


@shared_task(name="billing.sweep_receipt_emails", ignore_result=True)
def sweep_receipt_emails() -> dict:
    """Beat: hand over again receipt e-mails left queued (broker outage) or stuck sending (a worker died)."""
    return {"requeued": len(receipt_mail.sweep_receipt_emails())}


@shared_task(name="billing.sweep_print_jobs", ignore_result=True)
def sweep_print_jobs() -> dict:
    """Beat: re-enqueue jobs left queued (broker outage) and mark jobs stuck in sending as uncertain."""
    result = printing.sweep_print_jobs()
    return {"requeued": len(result.requeued), "marked_uncertain": len(result.marked_uncertain)}


@shared_task(
    bind=True,
    name="billing.export_accounting_day",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=60,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=5,
)
def export_accounting_day(self, day: str | None = None) -> dict:
    """Beat, nightly: write each active store's accounting export of `day` (ISO; default the previous local day)
    to the backups storage under exports/ and name the files in the notifier.

    Idempotent: a day's files are replaced, never duplicated, so a retried or doubled run leaves the same files.
    Retries storage errors only (OSError: a full or unreachable disk or bucket), with backoff, up to 5 times; a
    retry writes every store again, which is harmless for the same reason."""
    chosen = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
    written = {}
    for location in accounting.stores_to_export():
        written[location.code] = accounting.write_export(location, chosen)
    return {"day": chosen.isoformat(), "files": written}


@shared_task(name="billing.expire_gift_cards", ignore_result=True, soft_time_limit=600, time_limit=660)
def expire_gift_cards() -> int:
    """Beat: write off the balance of every gift card and store credit past its expiry (billing.giftcards).
    Idempotent: each card is a compare-and-swap on its balance, so a card is written off once however often this
    runs. Returns how many cards were written off."""
    return giftcards.expire_due_cards()
