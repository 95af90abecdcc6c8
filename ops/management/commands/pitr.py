from datetime import UTC, datetime

from django.core.management.base import BaseCommand

from ops.backups import pitr, pitr_services
from ops.management.commands._backup_cli import fail, reported
from ops.models import PitrRun


class Command(BaseCommand):
    help = (
        "Point-in-time recovery with pgBackRest: `setup` (write the configuration, create the stanza, print what "
        "postgresql.conf needs), `backup --type full|diff`, `check`, `status`, `drill [--at TIME]`, `switch` (what "
        "beat does every PITR_SWITCH_SECONDS: close the WAL segment if committed work waits in it)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "action", choices=["setup", "postgres-conf", "backup", "check", "status", "drill", "switch"]
        )
        parser.add_argument("--type", choices=["full", "diff"], default="diff")
        parser.add_argument("--at", default="", help="drill: the instant to restore (default: an hour ago)")

    @reported
    def handle(self, *args, action, type, at, **options):
        if action == "postgres-conf":
            pitr.write_config()
            for name, value in pitr.postgres_settings().items():
                self.stdout.write(f"{name} = '{value}'")
        elif action == "setup":
            path = pitr_services.setup()
            self.stdout.write(self.style.SUCCESS(f"pgBackRest configuration written to {path}; stanza ready."))
        elif action == "switch":
            self.stdout.write(pitr.switch_if_work_waiting())
        elif action == "check":
            pitr.check()
            self.stdout.write(self.style.SUCCESS("pgBackRest check passed: a WAL segment reached every repository."))
        elif action == "backup":
            run = pitr_services.run_backup(type)
            if run.status != PitrRun.Status.SUCCEEDED:
                raise fail(f"pgBackRest {type} backup failed: {run.error}")
            self.stdout.write(
                self.style.SUCCESS(f"pgBackRest {type} backup {run.label} in {run.duration_seconds:.1f}s")
            )
        elif action == "drill":
            run = pitr_services.run_drill(at=pitr_services.parse_target(at) if at else None)
            if run.status != PitrRun.Status.SUCCEEDED:
                raise fail(f"PITR drill {run.pk} FAILED: {run.error}")
            self.stdout.write(
                self.style.SUCCESS(
                    f"PITR drill {run.pk} passed: restored as of {run.target_time:%Y-%m-%d %H:%M:%S %Z} into a "
                    f"scratch cluster in {run.duration_seconds:.1f}s (RTO); {run.details['receipts_expected']} "
                    f"receipts before it all there, none after."
                )
            )
        else:
            self.status()

    def status(self):
        from ops.backups.engines import DatabaseTarget

        archive = pitr.archive_status_of(DatabaseTarget.from_settings())
        self.stdout.write(
            f"archived WAL: {archive.last_archived_wal or '-'} at {archive.last_archived_at or '-'}; "
            f"lag {archive.lag_seconds:.0f}s; failures {archive.failed_count}"
            + (" (failing now)" if archive.failing else "")
        )
        count, last = pitr.forced_switches()
        when = f"{datetime.fromtimestamp(last, tz=UTC):%Y-%m-%d %H:%M:%S} UTC" if last else "never"
        self.stdout.write(f"forced WAL switches: {count} (last {when})")
        for kind, run in pitr_services.latest_runs().items():
            when = f"{run.started_at:%Y-%m-%d %H:%M} {run.status}" if run else "never"
            self.stdout.write(f"last {kind}: {when}")
