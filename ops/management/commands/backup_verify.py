from django.core.management.base import BaseCommand

from ops.backups import catalogue, services
from ops.management.commands._backup_cli import fail, progress_for, reported


class Command(BaseCommand):
    help = "Verify a backup: sha256 and size against its manifest, then list and read the archive."

    def add_arguments(self, parser):
        parser.add_argument("backup", help="A backup name from backup_list, or 'latest'.")
        parser.add_argument("--key-file", default="", help="Private key, to list an encrypted archive.")

    @reported
    def handle(self, *args, backup, key_file, **options):
        found = catalogue.read_catalogue()
        entry = found.latest() if backup == "latest" else found.find(backup)
        result = services.verify_backup(entry, key_file=key_file, progress=progress_for(self))
        if not result.ok:
            raise fail(f"Backup {entry.name} FAILED verification: " + "; ".join(result.problems))
        listed = f", {result.toc_entries} archive entries" if result.toc_entries else " (encrypted: not listed)"
        self.stdout.write(self.style.SUCCESS(f"Backup {entry.name} OK: sha256 {result.sha256}{listed}"))
