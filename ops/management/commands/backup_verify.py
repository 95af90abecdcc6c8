from django.core.management.base import BaseCommand

from ops.backups import services
from ops.management.commands._backup_cli import fail, progress_for


class Command(BaseCommand):
    help = "Verify a backup: sha256 and size against its record and manifest, then list and read the archive."

    def add_arguments(self, parser):
        parser.add_argument("backup", help="A backup id, or 'latest'.")
        parser.add_argument("--key-file", default="", help="Private key, to list an encrypted archive.")

    def handle(self, *args, backup, key_file, **options):
        try:
            record = services.resolve_backup(backup).record
        except services.BackupError as exc:
            raise fail(exc.message) from None
        if record is None:
            raise fail("backup_verify takes a backup id or 'latest'.")
        result = services.verify_backup(record, key_file=key_file, progress=progress_for(self))
        if not result.ok:
            raise fail(f"Backup {record.pk} FAILED verification: " + "; ".join(result.problems))
        listed = f", {result.toc_entries} archive entries" if result.toc_entries else " (encrypted: not listed)"
        self.stdout.write(self.style.SUCCESS(f"Backup {record.pk} OK: sha256 {result.sha256}{listed}"))
