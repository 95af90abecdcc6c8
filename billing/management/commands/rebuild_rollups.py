"""Rebuild the daily rollups from the raw rows, or (--check) prove they match them."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from billing import rollups
from inventory.models import Location


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"Not a day (YYYY-MM-DD): {value!r}") from error


class Command(BaseCommand):
    help = (
        "Recompute the daily rollups (per store and local day) from orders, payments and refunds. With --check, "
        "write nothing: list every stored value that differs from the raw rows and exit 1 if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--store", action="append", default=[], help="a store code (repeatable; default all)")
        parser.add_argument("--from", dest="date_from", type=_day, help="first local day (default: the first sale)")
        parser.add_argument(
            "--to", dest="date_to", type=_day, help="last local day (default: today; with --check the last whole day)"
        )
        parser.add_argument("--check", action="store_true", help="compare only; exit 1 on any difference")

    def handle(self, *args, store, date_from, date_to, check, **options):
        ids = None
        if store:
            found = dict(Location.objects.filter(code__in=store, kind=Location.Kind.STORE).values_list("code", "pk"))
            missing = sorted(set(store) - set(found))
            if missing:
                raise CommandError(f"No such store: {', '.join(missing)}")
            ids = list(found.values())
        if date_from and date_to and date_from > date_to:
            raise CommandError("--from is after --to.")
        if check:
            found = rollups.differences(location_ids=ids, date_from=date_from, date_to=date_to)
            for difference in found:
                self.stdout.write(str(difference))
            if found:
                raise CommandError(f"{len(found)} rollup value(s) differ from the raw rows.", returncode=1)
            self.stdout.write("Rollups match the raw rows.")
            return
        written = rollups.rebuild(location_ids=ids, date_from=date_from, date_to=date_to)
        for code, rows in written.items():
            self.stdout.write(f"{code}: {rows} rollup rows")
