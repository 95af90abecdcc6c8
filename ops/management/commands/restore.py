import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from ops.backups import pitr, pitr_services, services
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
        parser.add_argument(
            "--step",
            choices=["prepare", "options", "finish", "abort"],
            default="",
            help="A point-in-time restore in steps, where the cluster's data directory is in another container "
            "(deploy/restore-to.sh): `prepare` (with --to: maintenance, safety copy, numbers noted, a plan on the "
            "backup volume), `options` (pgBackRest's restore options, one a line), `finish` (after the db container "
            "restored and started: checks, counters, maintenance off), `abort` (pgBackRest refused: maintenance off).",
        )
        parser.add_argument(
            "--pgbackrest-info",
            default="",
            help="prepare: `pgbackrest info --output=json` of the stanza, where pgBackRest runs in another container.",
        )

    @reported
    def handle(self, *args, backup, to, yes, key_file, no_migrate, step, pgbackrest_info, **options):
        if step and backup:
            raise fail("--step is for a point-in-time restore (--to), not for a backup by name")
        if step:
            return self.step(step, to=to, yes=yes, no_migrate=no_migrate, info=pgbackrest_info)
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
        self.summary(summary)

    def step(self, step, *, to, yes, no_migrate, info):
        if bool(to) != (step == "prepare"):
            raise fail("--to goes with --step prepare only (the other steps read the plan it wrote)")
        try:
            if step == "prepare":
                parsed = json.loads(info) if info else None
                entry = parsed
                if isinstance(parsed, list):  # one entry per stanza
                    entry = next((e for e in parsed if e.get("name") == settings.PGBACKREST_STANZA), {})
                plan = pitr_services.prepare_step(to, confirmed=yes, pgbackrest_info=entry)
                self.stdout.write(self.style.SUCCESS(f"Ready to restore as of {plan.label}: writes answer 503."))
                if plan.safety_backup:
                    self.stdout.write(f"  safety backup taken first: {plan.safety_backup} (restore it by this name)")
                for rid, numbers in sorted(plan.issued.items()):
                    self.stdout.write(f"  register {rid}: receipts up to {numbers['receipt']}, Z up to {numbers['z']}")
                self.stdout.write(f"  plan: {pitr_services.plan_path()}")
            elif step == "options":
                for option in pitr.restore_options(to=pitr_services.read_plan().when):
                    self.stdout.write(option)
            elif step == "abort":
                plan = pitr_services.abort_step()
                self.stdout.write(self.style.SUCCESS(f"Restore to {plan.label} abandoned; maintenance off."))
            else:
                self.summary(pitr_services.finish_step(migrate=not no_migrate))
        except json.JSONDecodeError as exc:
            raise fail(f"--pgbackrest-info is not pgBackRest's JSON: {exc}") from None
        except services.RestoreRefused as exc:
            raise fail(f"Refused: {exc.message}") from None
        except (services.BackupError, services.BackupInProgress) as exc:
            raise fail(f"Restore failed: {exc.message}") from None

    def summary(self, summary):
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
