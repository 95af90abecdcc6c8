from django.core.management.base import BaseCommand
from django.db import connection

from ops.backups import services
from ops.backups.catalogue import backup_name
from ops.management.commands._backup_cli import fail, human_size, progress_for, reported
from ops.models import BackupRecord


class Command(BaseCommand):
    help = "Back up the database now (pg_dump -Fc or the SQLite backup API), verify it, copy it offsite, prune."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=BackupRecord.Kind.values, default=BackupRecord.Kind.MANUAL)
        parser.add_argument(
            "--if-installed",
            action="store_true",
            help="Succeed without a backup when the database has no schema yet (a first deployment on a new server).",
        )

    @reported
    def handle(self, *args, kind, if_installed=False, **options):
        if if_installed and BackupRecord._meta.db_table not in connection.introspection.table_names():
            self.stdout.write("The database has no Tillhouse tables yet: nothing to back up.")
            return
        record = services.create_backup(kind=kind, progress=progress_for(self))
        if record.status != BackupRecord.Status.SUCCEEDED:
            raise fail(f"Backup ({record.kind}) failed: {record.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {backup_name(record.file)} ({record.kind}) succeeded: {record.file}, "
                f"{human_size(record.bytes)}, "
                f"{record.duration_seconds:.1f}s, sha256 {record.sha256}"
            )
        )
        if record.offsite_error:
            self.stderr.write(self.style.WARNING(f"Offsite copy failed: {record.offsite_error}"))
