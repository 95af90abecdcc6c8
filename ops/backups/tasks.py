"""Celery tasks for backups: thin wrappers around ops.backups.services; beat ticks them in UTC (settings)."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model

from ops.backups import services
from ops.models import BackupRecord

logger = logging.getLogger("tillhouse.backups")

# A backup or drill of a big database outlives the default task limits.
LONG = {"soft_time_limit": 3 * 3600, "time_limit": 3 * 3600 + 300, "acks_late": False}


@shared_task(name="ops.backups.nightly", **LONG)
def nightly_backup() -> int | None:
    """Take the nightly backup if its local time has come and it has not run yet (then promote)."""
    try:
        record = services.run_nightly_if_due()
    except services.BackupInProgress:
        return None
    return record.pk if record else None


@shared_task(name="ops.backups.backup_now", **LONG)
def backup_now(user_id: int | None = None, kind: str = BackupRecord.Kind.MANUAL) -> int | None:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        return services.create_backup(kind=kind, triggered_by=user).pk
    except services.BackupInProgress:
        return None


@shared_task(name="ops.backups.drill", **LONG)
def restore_drill() -> int | None:
    """Run the restore drill if its local time has come and it has not run yet today."""
    try:
        drill = services.run_drill_if_due()
    except services.BackupInProgress:
        return None
    return drill.pk if drill else None


@shared_task(name="ops.backups.promote")
def promote_backups() -> list[int]:
    return [r.pk for r in services.promote_backups()]


@shared_task(name="ops.backups.retention")
def apply_retention() -> list[int]:
    return [r.pk for r in services.apply_retention()]


@shared_task(name="ops.backups.pitr_backup", **LONG)
def pitr_backup() -> int | None:
    """pgBackRest's nightly backup if its local time has come: full on PITR_FULL_WEEKDAY, differential otherwise."""
    from ops.backups import pitr_services

    try:
        run = pitr_services.run_backup_if_due()
    except services.BackupInProgress:
        return None
    return run.pk if run else None


@shared_task(name="ops.backups.pitr_drill", **LONG)
def pitr_drill() -> int | None:
    """The nightly PITR drill (an hour ago, into a scratch cluster) if its local time has come."""
    from ops.backups import pitr_services

    try:
        run = pitr_services.run_drill_if_due()
    except services.BackupInProgress:
        return None
    return run.pk if run else None


@shared_task(name="ops.backups.pitr_switch_wal", ignore_result=True)
def pitr_switch_wal() -> str:
    """Close the current WAL segment when committed work waits in it (every PITR_SWITCH_SECONDS, wherever
    PITR_ENABLED: it needs only SQL, so compose's web/worker/beat run it too). Bounds the recovery point on any
    machine; does nothing while the shop is idle."""
    import psycopg

    from ops.backups import pitr

    try:
        return pitr.switch_if_work_waiting()
    except psycopg.OperationalError as exc:  # the cluster is down or being restored: the next tick tries again
        logger.warning("WAL switch skipped: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
        return "unreachable"
    except pitr.PitrError as exc:
        logger.error("WAL switch refused: %s", exc.message)
        return "refused"
