"""Read-side answers about backups, shared by /health, /metrics, the status page and the admin."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ops.models import BackupRecord, RestoreDrill


def latest_successful_backup() -> BackupRecord | None:
    return BackupRecord.objects.filter(status=BackupRecord.Status.SUCCEEDED).order_by("-finished_at").first()


def latest_verified_backup() -> BackupRecord | None:
    return (
        BackupRecord.objects.filter(status=BackupRecord.Status.SUCCEEDED, verified_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )


def latest_drill() -> RestoreDrill | None:
    return RestoreDrill.objects.exclude(result=RestoreDrill.Result.RUNNING).order_by("-started_at").first()


def rpo_status(now=None) -> tuple[str, timedelta | None]:
    """("green" | "amber" | "red", age of the newest successful backup).

    green: within the RPO (BACKUP_RPO_HOURS, 24 h); amber: past the RPO but within RPO + margin
    (BACKUP_MAX_AGE_HOURS, 26 h); red: older than that, or no successful backup at all.
    """
    latest = latest_successful_backup()
    if latest is None or latest.finished_at is None:
        return "red", None
    age = (now or timezone.now()) - latest.finished_at
    if age <= timedelta(hours=settings.BACKUP_RPO_HOURS):
        return "green", age
    if age <= timedelta(hours=settings.BACKUP_MAX_AGE_HOURS):
        return "amber", age
    return "red", age


def latest_failed_backup() -> BackupRecord | None:
    return BackupRecord.objects.filter(status=BackupRecord.Status.FAILED).order_by("-started_at").first()


def backup_trend(limit: int = 14) -> list[BackupRecord]:
    """The last successful (or since pruned) backups, oldest first: size and duration over time."""
    done = BackupRecord.objects.filter(status__in=[BackupRecord.Status.SUCCEEDED, BackupRecord.Status.DELETED])
    return list(reversed(done.order_by("-started_at")[:limit]))


def offsite_state() -> str:
    """ "off" (no offsite storage), "ok" (the newest backup was copied) or "failing" (its copy failed)."""
    if "backups_offsite" not in settings.STORAGES:
        return "off"
    latest = latest_successful_backup()
    if latest is None or latest.offsite_copied_at is None:
        return "failing"
    return "ok"


def backup_overview(now=None) -> dict:
    """Everything the status page shows, in one place (also handy for /health and /metrics)."""
    from ops.backups.services import next_nightly_run

    now = now or timezone.now()
    rpo, age = rpo_status(now)
    trend = backup_trend()
    biggest = max((r.bytes or 0 for r in trend), default=0) or 1
    longest = max((r.duration_seconds or 0 for r in trend), default=0) or 1
    return {
        "rpo": rpo,
        "age": age,
        "rpo_hours": settings.BACKUP_RPO_HOURS,
        "max_age_hours": settings.BACKUP_MAX_AGE_HOURS,
        "latest_success": latest_successful_backup(),
        "latest_verified": latest_verified_backup(),
        "latest_failure": latest_failed_backup(),
        "running": BackupRecord.objects.filter(status=BackupRecord.Status.RUNNING).first(),
        "trend": [
            {
                "record": r,
                "size_pct": round(100 * (r.bytes or 0) / biggest),
                "duration_pct": round(100 * (r.duration_seconds or 0) / longest),
            }
            for r in trend
        ],
        "next_run": next_nightly_run(now=now),
        "latest_drill": latest_drill(),
        "offsite": offsite_state(),
        "recent": list(BackupRecord.objects.order_by("-started_at")[:20]),
    }
