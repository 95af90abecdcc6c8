from django.core.management.base import BaseCommand

from core.idempotency import purge_records


class Command(BaseCommand):
    help = "Delete idempotency records (stored first responses) older than --days (default 30)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, days, **options):
        if days < 1:
            self.stderr.write("--days must be at least 1.")
            raise SystemExit(2)
        self.stdout.write(f"Deleted {purge_records(older_than_days=days)} idempotency records older than {days} days.")
