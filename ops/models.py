from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BackupRecord(models.Model):
    """One backup run, successful or not (DESIGN.md §3.8)."""

    class Kind(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")
        PRE_DEPLOY = "pre-deploy", _("Pre-deploy")
        MANUAL = "manual", _("Manual")
        PRE_RESTORE = "pre-restore", _("Pre-restore safety")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        DELETED = "deleted", _("Deleted by retention")

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    engine = models.CharField(max_length=16)
    server_version = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    database = models.CharField(max_length=200, blank=True, help_text="Name of the database that was dumped.")
    file = models.CharField(max_length=500, blank=True, help_text="Path of the archive in backup storage.")
    manifest_file = models.CharField(max_length=500, blank=True, help_text="Path of the manifest beside it.")
    encrypted = models.BooleanField(default=False)
    bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    row_counts = models.JSONField(default=dict, blank=True)
    migration_state = models.JSONField(default=dict, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    offsite_copied_at = models.DateTimeField(null=True, blank=True)
    offsite_error = models.TextField(blank=True)
    error = models.TextField(blank=True)
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.kind} backup {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if not self.finished_at:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def name(self) -> str:
        """The backup's stable name (what `backup_list` shows and `restore` takes); empty before the archive exists."""
        from ops.backups.catalogue import backup_name

        return backup_name(self.file) if self.file else ""


class RestoreDrill(models.Model):
    """A test restore of a backup into a scratch database; its duration is the measured RTO."""

    class Result(models.TextChoices):
        RUNNING = "running", _("Running")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")

    backup = models.ForeignKey(BackupRecord, on_delete=models.SET_NULL, null=True, related_name="drills")
    target = models.CharField(max_length=200, help_text="Scratch database the backup was restored into.")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    counts_compared = models.JSONField(default=dict, blank=True, help_text="table: [in the manifest, restored]")
    migrations_checked = models.JSONField(
        default=dict, blank=True, help_text="Applied migrations that differ from the manifest, and those pending."
    )
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.RUNNING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"Drill {self.pk} ({self.result})"


class PitrRun(models.Model):
    """One pgBackRest backup, point-in-time restore or PITR drill (DESIGN.md §7), successful or not.

    A restore replaces the whole cluster, this table with it: its row is written into the restored database once
    the restore is done, with the start time it had."""

    class Kind(models.TextChoices):
        FULL = "full", _("Full backup")
        DIFF = "diff", _("Differential backup")
        RESTORE = "restore", _("Point-in-time restore")
        DRILL = "drill", _("PITR drill")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    label = models.CharField(max_length=100, blank=True, help_text="pgBackRest's backup label.")
    target = models.CharField(max_length=64, blank=True, help_text="What was asked for: a time, or 'latest'.")
    target_time = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True, help_text="A restore's or drill's measured RTO.")
    safety_backup = models.CharField(max_length=200, blank=True, help_text="The pre-restore safety copy's name.")
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.pk} ({self.status})"
