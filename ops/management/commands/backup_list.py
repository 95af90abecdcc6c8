from django.core.management.base import BaseCommand
from django.db import DatabaseError

from ops.backups import catalogue
from ops.management.commands._backup_cli import human_size, reported
from ops.models import BackupRecord


class Command(BaseCommand):
    help = (
        "List the backups in backup storage (local, and offsite when configured), newest first, by name. Reads the "
        "manifests, not the database: works with the database empty or dropped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Also list failed runs (from the database, if up).")
        parser.add_argument("--limit", type=int, default=30)

    @reported
    def handle(self, *args, all, limit, **options):
        found = catalogue.read_catalogue()
        try:
            latest = found.latest().name
        except catalogue.BackupError:
            latest = ""
        width = max([len(e.name) for e in found.entries] + [4])
        self.stdout.write(f"{'name':<{width}}  {'kind':<11} {'finished':<20} {'size':>9}  where / state")
        for entry in found.entries[:limit]:
            finished = f"{entry.finished_at:%Y-%m-%d %H:%M:%S}" if entry.finished_at else "-"
            where = entry.where + ("+offsite" if entry.also_offsite else "")
            flags = [where]
            flags += ["encrypted"] if entry.manifest.get("encrypted") else []
            flags += ["safety copy (restorable by name, never latest)"] if entry.is_safety_copy else []
            flags += ["ARCHIVE MISSING"] if not entry.archive_present else []
            flags += [f"VERIFY FAILED {entry.verify_failed}"] if entry.verify_failed else []
            flags += ["<- latest"] if entry.name == latest else []
            size = human_size(entry.manifest.get("bytes"))
            self.stdout.write(f"{entry.name:<{width}}  {entry.kind:<11} {finished:<20} {size:>9}  {' '.join(flags)}")
        if not found.entries:
            self.stdout.write("(no backups in backup storage)")
        if found.offsite_error:
            self.stderr.write(f"Offsite storage could not be read; local backups only: {found.offsite_error}")
        for problem in found.problems:
            self.stderr.write(f"Unreadable manifest: {problem}")
        if all:
            self._failed_runs(limit)

    def _failed_runs(self, limit: int) -> None:
        try:
            failed = list(BackupRecord.objects.filter(status=BackupRecord.Status.FAILED)[:limit])
        except DatabaseError:
            self.stderr.write("Failed runs are kept in the database, which cannot be read now.")
            return
        self.stdout.write("\nfailed runs (from the database):")
        for r in failed:
            started = f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else "-"
            self.stdout.write(f"  {started}  {r.kind:<11} {r.error}")
