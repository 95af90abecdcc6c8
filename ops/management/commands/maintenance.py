from django.core.management.base import BaseCommand

from ops import maintenance
from ops.backups import restoring
from ops.backups.engines import BackupError, DatabaseTarget
from ops.management.commands._backup_cli import fail


class Command(BaseCommand):
    help = (
        "Show maintenance mode (writes answer 503 during a restore), or leave it by hand after a restore process "
        "died: `maintenance off` makes the database writable again and clears the flag."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=["status", "off"], default="status")

    def handle(self, *args, action, **options):
        target = DatabaseTarget.from_settings()
        if action == "off":
            try:
                restoring.leave_maintenance(target)
            except BackupError as exc:
                raise fail(f"Could not leave maintenance: {exc.message}") from None
            self.stdout.write(self.style.SUCCESS(f"{target.name} is out of maintenance; writes are accepted."))
            return
        state = maintenance.read_flag(target.name)
        if state is None:
            self.stdout.write(f"{target.name}: not in maintenance.")
        else:
            since = f"{state.since:%Y-%m-%d %H:%M:%S %Z}" if state.since else "?"
            self.stdout.write(f"{target.name}: in maintenance since {since} ({state.reason}).")
