from django.core.management.base import BaseCommand

from ops.backups import services
from ops.management.commands._backup_cli import fail, human_size, progress_for
from ops.models import BackupRecord


class Command(BaseCommand):
    help = "Back up the database now (pg_dump -Fc or the SQLite backup API), verify it, copy it offsite, prune."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=BackupRecord.Kind.values, default=BackupRecord.Kind.MANUAL)

    def handle(self, *args, kind, **options):
        try:
            record = services.create_backup(kind=kind, progress=progress_for(self))
        except services.BackupInProgress as exc:
            raise fail(exc.message) from None
        if record.status != BackupRecord.Status.SUCCEEDED:
            raise fail(f"Backup {record.pk} failed: {record.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {record.pk} ({record.kind}) succeeded: {record.file}, {human_size(record.bytes)}, "
                f"{record.duration_seconds:.1f}s, sha256 {record.sha256}"
            )
        )
        if record.offsite_error:
            self.stderr.write(self.style.WARNING(f"Offsite copy failed: {record.offsite_error}"))
