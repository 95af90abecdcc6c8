"""`manage.py import_catalogue FILE [--dry-run] [--user NAME]`: the catalogue CSV import from the command line."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from inventory import catalogue


class Command(BaseCommand):
    help = (
        "Check a catalogue CSV file and, unless --dry-run, import it in one transaction (only if every row is clean). "
        "Lists every bad row as line, field and reason. Exits 1 when the file has errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file (UTF-8) with a header row; see docs/RUNBOOK.md for the columns.")
        parser.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")
        parser.add_argument("--user", help="Username the stock ledger and the audit trail name (default: none).")

    def handle(self, *args, file, dry_run, user=None, **options):
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"No user named {user!r}.")
        try:
            text = catalogue.decode(Path(file).read_bytes())
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except DomainError as error:
            raise CommandError(error.message) from None
        if dry_run:
            result = catalogue.check_catalogue(text)
        else:
            try:
                result = catalogue.import_catalogue(text, user=actor)
            except DomainError as error:
                raise CommandError(f"Nothing was imported: {error.message}") from None
        for error in result.errors:
            self.stdout.write(f"line {error.line}: {error.field}: {error.reason}")
        if result.errors:
            raise CommandError(f"{len(result.errors)} error(s); nothing was imported.")
        verb = "Would create" if dry_run else "Created"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {result.created}, {'would update' if dry_run else 'updated'} {result.updated}, "
                f"unchanged {result.unchanged} product(s); {result.categories_created} new category(ies); "
                f"{result.stock_moves} opening stock move(s)."
            )
        )
