from django.core.management.base import BaseCommand

from ops.backups import services
from ops.management.commands._backup_cli import fail, progress_for, reported
from ops.models import RestoreDrill


class Command(BaseCommand):
    help = (
        "Restore a backup ('latest' by default) into a scratch database, prove it usable (schema, counts, money "
        "sums, smoke queries), time it (RTO), drop it."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", default="latest", help="A backup name from backup_list, or 'latest'.")
        parser.add_argument("--key-file", default="", help="Private key for an encrypted backup.")

    @reported
    def handle(self, *args, backup, key_file, **options):
        drill = services.run_drill(backup, key_file=key_file, progress=progress_for(self))
        if drill.result != RestoreDrill.Result.PASSED:
            raise fail(f"Restore drill {drill.pk} FAILED: {drill.error}")
        tables = len(drill.counts_compared)
        rows = sum(restored or 0 for _, restored in drill.counts_compared.values())
        pending = len(drill.migrations_checked.get("pending_in_code", []))
        self.stdout.write(
            self.style.SUCCESS(
                f"Restore drill {drill.pk} passed: backup {drill.backup_name} restored into {drill.target} and "
                f"dropped; {tables} tables / {rows} rows and the money sums match the manifest; every table and "
                f"column the code needs is there; smoke queries answered; RTO {drill.duration_seconds:.1f}s; "
                f"{pending} migration(s) in the code newer than the backup (applied in the drill)."
            )
        )
