"""A catalogue file's way in from the manager's page: upload → check (a Celery task; nothing is written) → import
(another run of the same task, after the manager confirms). Each run is a CatalogueImport row whose status moves
checking → invalid | checked → importing → imported | invalid | failed, each step a compare-and-swap, so a task
delivered twice or a double click does nothing the second time. Progress of a running task is kept in the cache
(the import itself is one transaction, invisible to the page until it commits)."""

import logging

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, NotFound
from inventory import catalogue
from inventory.models import CatalogueImport

logger = logging.getLogger(__name__)
Status = CatalogueImport.Status
PROGRESS_SECONDS = 3600
# Errors listed on the page and kept with the run; a check counts them all.
MAX_ERRORS_KEPT = 1000


def progress_key(run: CatalogueImport) -> str:
    """Named by the run's id and upload time: ids start again in a database restored or rebuilt, the cache does not."""
    return f"catalogue-import:{run.pk}:{run.created_at.timestamp():.6f}:progress"


def progress_of(run: CatalogueImport) -> dict:
    """{"phase", "done", "total"} of a running check or import, {} before it starts or when the cache is down."""
    try:
        return cache.get(progress_key(run)) or {}
    except Exception:
        logger.warning("catalogue import progress unavailable: the cache did not answer", exc_info=True)
        return {}


def _reporter(run: CatalogueImport):
    def report(phase: str, done: int, total: int) -> None:
        try:
            cache.set(progress_key(run), {"phase": phase, "done": done, "total": total}, PROGRESS_SECONDS)
        except Exception:  # progress is for people watching; the import does not depend on it
            logger.warning("catalogue import progress not saved", exc_info=True)

    return report


def _queue(import_id: int) -> None:
    from inventory.tasks import run_catalogue_import

    transaction.on_commit(lambda: run_catalogue_import.delay(import_id))


@transaction.atomic
def start_check(*, filename: str, data: bytes, user) -> CatalogueImport:
    """Keep an uploaded file and queue its check. Raises DomainError (field "file") for a file that is too large or
    not UTF-8 text."""
    text = catalogue.decode(data)
    run = CatalogueImport.objects.create(filename=(filename or "catalogue.csv")[:200], content=text, created_by=user)
    _queue(run.pk)
    return run


@transaction.atomic
def confirm_import(*, import_id: int, user) -> CatalogueImport:
    """Queue the import of a checked, clean file. Raises NotFound, or Conflict when it is not ready to import (has
    errors, or is already importing or imported)."""
    claimed = CatalogueImport.objects.filter(pk=import_id, status=Status.CHECKED).update(status=Status.IMPORTING)
    run = CatalogueImport.objects.filter(pk=import_id).first()
    if run is None:
        raise NotFound("No such catalogue import.")
    if not claimed:
        raise Conflict(f"This file is {run.get_status_display().lower()}; it cannot be imported now.")
    _forget_progress(run)  # the check's; the import reports its own
    _queue(run.pk)
    return run


def _forget_progress(run: CatalogueImport) -> None:
    try:
        cache.delete(progress_key(run))
    except Exception:
        logger.warning("catalogue import progress not cleared", exc_info=True)


def waiting_for_worker(run: CatalogueImport, *, now=None, after_seconds: int = 60) -> bool:
    """True when a queued run has shown no progress for `after_seconds` since it was queued: no worker took it."""
    if not run.running or progress_of(run):
        return False
    queued_at = run.finished_at if run.status == Status.IMPORTING and run.finished_at else run.created_at
    return ((now or timezone.now()) - queued_at).total_seconds() > after_seconds


def _kept(result: catalogue.CatalogueResult) -> dict:
    kept = result.as_dict()
    kept["error_count"] = len(result.errors)
    kept["errors"] = kept["errors"][:MAX_ERRORS_KEPT]
    return kept


def run_import(import_id: int) -> str:
    """The task's work: check a file that is `checking`, import one that is `importing`; anything else (a second
    delivery) is left alone. Returns the status it ends in."""
    run = CatalogueImport.objects.filter(pk=import_id).select_related("created_by").first()
    if run is None:
        return "missing"
    report = _reporter(run)
    if run.status == Status.CHECKING:
        result = catalogue.check_catalogue(run.content, progress=report)
        status = Status.CHECKED if result.clean else Status.INVALID
        CatalogueImport.objects.filter(pk=run.pk, status=Status.CHECKING).update(
            status=status, result=_kept(result), finished_at=timezone.now()
        )
        return status
    if run.status != Status.IMPORTING:
        return run.status
    with transaction.atomic():
        # The row's lock makes a second delivery wait, then find it imported.
        locked = CatalogueImport.objects.select_for_update().filter(pk=run.pk, status=Status.IMPORTING).first()
        if locked is None:
            return CatalogueImport.objects.get(pk=run.pk).status
        result = catalogue.import_catalogue(run.content, user=run.created_by, progress=report)
        locked.status = Status.IMPORTED if result.applied else Status.INVALID
        locked.result, locked.finished_at = _kept(result), timezone.now()
        locked.save(update_fields=["status", "result", "finished_at"])
        return locked.status


def fail(import_id: int, error: str) -> None:
    """Mark a run that raised (a stock level overflowing, a lost database) failed, with the reason."""
    CatalogueImport.objects.filter(pk=import_id, status__in=(Status.CHECKING, Status.IMPORTING)).update(
        status=Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def get_run(import_id: int) -> CatalogueImport:
    run = CatalogueImport.objects.filter(pk=import_id).defer("content").first()
    if run is None:
        raise NotFound("No such catalogue import.")
    return run
