"""`manage.py export_catalogue [FILE]`: the catalogue as CSV, in the columns import_catalogue reads."""

import sys

from django.core.management.base import BaseCommand

from inventory import catalogue


class Command(BaseCommand):
    help = "Write the catalogue as CSV (to FILE, or standard output); importing it again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="Where to write (default: standard output).")

    def handle(self, *args, file=None, **options):
        if file:
            with open(file, "w", newline="", encoding="utf-8") as out:
                count = catalogue.export_catalogue(out)
            self.stderr.write(f"{count} product(s) written to {file}.")
        else:
            count = catalogue.export_catalogue(sys.stdout)
            self.stderr.write(f"{count} product(s) written.")
