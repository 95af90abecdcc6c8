from django.core.management.base import BaseCommand

from ops.management.commands._backup_cli import human_size
from ops.models import BackupRecord


class Command(BaseCommand):
    help = "List backups, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Include failed runs and deleted backups.")
        parser.add_argument("--limit", type=int, default=30)

    def handle(self, *args, all, limit, **options):
        records = BackupRecord.objects.all()
        if not all:
            records = records.filter(status=BackupRecord.Status.SUCCEEDED)
        self.stdout.write(f"{'id':>5}  {'kind':<11} {'status':<9} {'finished':<20} {'size':>9} {'secs':>6}  file")
        for r in records[:limit]:
            finished = f"{r.finished_at:%Y-%m-%d %H:%M:%S}" if r.finished_at else "-"
            secs = f"{r.duration_seconds:.1f}" if r.duration_seconds is not None else "-"
            flags = (" verified" if r.verified_at else "") + (" offsite" if r.offsite_copied_at else "")
            flags += " encrypted" if r.encrypted else ""
            tail = r.file + flags if r.status != BackupRecord.Status.FAILED else f"error: {r.error}"
            self.stdout.write(
                f"{r.pk:>5}  {r.kind:<11} {r.status:<9} {finished:<20} {human_size(r.bytes):>9} {secs:>6}  {tail}"
            )
