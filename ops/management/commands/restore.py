import sys

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from ops.backups import pitr_services, services
from ops.management.commands._backup_cli import database_failure, fail, progress_for, reported


class Command(BaseCommand):
    help = (
        "Restore a backup over this project's database: checks the archive, takes a pre-restore safety backup, "
        "restores, checks row counts, migrates, continues receipt and Z numbers; writes answer 503 meanwhile."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "backup",
            nargs="?",
            help="A backup name from backup_list, 'latest' (never a safety copy), or an archive file path.",
        )
        parser.add_argument(
            "--to",
            default="",
            help='Point-in-time recovery (pgBackRest): the cluster as of "2026-12-07 14:03:00" (local time, or with '
            "an offset), or 'latest' for everything archived.",
        )
        parser.add_argument("--yes", action="store_true", help="Do not ask before replacing a non-empty database.")
        parser.add_argument("--key-file", default="", help="Private key for an encrypted backup.")
        parser.add_argument("--no-migrate", action="store_true", help="Leave the schema as the backup had it.")

    @reported
    def handle(self, *args, backup, to, yes, key_file, no_migrate, **options):
        if bool(to) == bool(backup):
            raise fail("Give a backup to restore, or --to <time>|latest for a point-in-time restore (not both)")
        if to:
            return self.restore_to(to, yes=yes, no_migrate=no_migrate)
        target = services.DatabaseTarget.from_settings()
        confirmed = yes
        if not yes and sys.stdin.isatty() and not services.engine_for(target).is_empty(target.name):
            answer = input(f"This replaces everything in {target.name}. Type the database name to go on: ")
            confirmed = answer.strip() == target.name
        try:
            summary = services.restore_backup(
                backup, confirmed=confirmed, key_file=key_file, migrate=not no_migrate, progress=progress_for(self)
            )
        except services.RestoreRefused as exc:
            raise fail(f"Refused: {exc.message}") from None
        except (services.BackupError, services.BackupInProgress) as exc:
            raise fail(f"Restore failed: {exc.message}") from None
        except DatabaseError as exc:
            raise fail(f"Restore failed: {database_failure(exc)}") from None
        self.stdout.write(self.style.SUCCESS(f"Restored {summary.backup} into {summary.target}."))
        if summary.safety_backup:
            self.stdout.write(f"  safety backup taken first: {summary.safety_backup} (restore it by this name)")
        self.stdout.write(f"  {summary.tables} tables, {summary.rows} rows, counts match the manifest")
        for sentence in summary.numbers_continued:
            self.stdout.write(f"  numbers continued: {sentence}")
        if summary.migrations_applied:
            self.stdout.write("  migrations applied:\n" + summary.migrations_applied)
        for step, seconds in summary.timings.items():
            self.stdout.write(f"  {step:<14} {seconds:8.2f}s")

    def restore_to(self, to, *, yes, no_migrate):
        confirmed = yes
        if not yes and sys.stdin.isatty():
            target = services.DatabaseTarget.from_settings()
            answer = input(f"This replaces the whole cluster of {target.name}. Type the database name to go on: ")
            confirmed = answer.strip() == target.name
        try:
            summary = pitr_services.restore_to(to, confirmed=confirmed, migrate=not no_migrate)
        except services.RestoreRefused as exc:
            raise fail(f"Refused: {exc.message}") from None
        except (services.BackupError, services.BackupInProgress) as exc:
            raise fail(f"Restore failed: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(f"Restored {summary.database} as of {summary.target}."))
        if summary.safety_backup:
            self.stdout.write(f"  safety backup taken first: {summary.safety_backup} (restore it by this name)")
        for table, (before, after) in summary.counts.items():
            self.stdout.write(f"  {table:<22} {before if before is not None else '-':>8} before, {after:>8} restored")
        for sentence in summary.numbers_continued:
            self.stdout.write(f"  numbers continued: {sentence}")
        if summary.migrations_applied:
            self.stdout.write("  migrations applied:\n" + summary.migrations_applied)
        for step, seconds in summary.timings.items():
            self.stdout.write(f"  {step:<18} {seconds:8.2f}s")
