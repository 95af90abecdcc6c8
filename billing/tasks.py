"""Celery tasks for billing. Thin: they take ids and call the print outbox (billing.printing)."""

from celery import shared_task
from django.conf import settings

from billing import printing


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


@shared_task(name="billing.sweep_print_jobs", ignore_result=True)
def sweep_print_jobs() -> dict:
    """Beat: re-enqueue jobs left queued (broker outage) and mark jobs stuck in sending as uncertain."""
    result = printing.sweep_print_jobs()
    return {"requeued": len(result.requeued), "marked_uncertain": len(result.marked_uncertain)}
