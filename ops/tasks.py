"""Celery tasks of the ops app: thin wrappers around ops modules (DESIGN.md §5)."""

import logging

from celery import shared_task

from ops.backups.tasks import *  # noqa: F403 - autodiscovery finds the backup tasks through this module
from ops.integrity import run_integrity_check
from ops.notify import send_webhook_now

logger = logging.getLogger("tillhouse.ops.tasks")


@shared_task(name="ops.integrity_check")
def integrity_check() -> int:
    """Daily (beat) and on demand from /ops/integrity/: re-check the invariants; returns how many were broken."""
    report = run_integrity_check()
    logger.info("integrity check finished: %d violation(s)", len(report.violations))
    return len(report.violations)


@shared_task(
    name="ops.send_webhook",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def send_webhook(event: str, message: str, data: dict) -> int:
    """Deliver one alert; network errors and non-2xx answers (both OSError) are retried with backoff."""
    return send_webhook_now(event, message, data)
