from django.core.management.base import BaseCommand

from ops.backups import services
from ops.management.commands._backup_cli import fail, progress_for
from ops.models import BackupRecord, RestoreDrill


class Command(BaseCommand):
    help = "Restore a backup (the newest by default) into a scratch database, check it, time it (RTO), drop it."

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", default="latest", help="A backup id or 'latest'.")
        parser.add_argument("--key-file", default="", help="Private key for an encrypted backup.")

    def handle(self, *args, backup, key_file, **options):
        record = None
        if backup != "latest":
            record = BackupRecord.objects.filter(pk=backup).first()
            if record is None:
                raise fail(f"No backup {backup}.")
        try:
            drill = services.run_drill(record, key_file=key_file, progress=progress_for(self))
        except services.BackupInProgress as exc:
            raise fail(exc.message) from None
        if drill.result != RestoreDrill.Result.PASSED:
            raise fail(f"Restore drill {drill.pk} FAILED: {drill.error}")
        tables = len(drill.counts_compared)
        rows = sum(restored or 0 for _, restored in drill.counts_compared.values())
        pending = len(drill.migrations_checked.get("pending_in_code", []))
        self.stdout.write(
            self.style.SUCCESS(
                f"Restore drill {drill.pk} passed: backup {drill.backup_id} restored into {drill.target} and dropped; "
                f"{tables} tables / {rows} rows match the manifest; RTO {drill.duration_seconds:.1f}s; "
                f"{pending} migration(s) in the code newer than the backup."
            )
        )
