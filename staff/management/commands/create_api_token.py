"""Create an API client and print its token (the only time it is shown)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.errors import DomainError
from staff.api_clients import create_api_client
from staff.models import ApiClient
from staff.selectors import location_model


class Command(BaseCommand):
    help = "Create an API client with a scoped token for some locations; prints the token once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scope", choices=ApiClient.Scope.values, default=ApiClient.Scope.READ)
        parser.add_argument(
            "--location", action="append", dest="locations", metavar="CODE", help="Location code (repeat); default: all"
        )
        parser.add_argument("--expires-in-days", type=int, default=None, help="Default: never expires")

    def handle(self, name, scope, locations, expires_in_days, **options):
        Location = location_model()
        found = Location.objects.filter(code__in=locations) if locations else Location.objects.all()
        missing = sorted(set(locations or []) - {location.code for location in found})
        if missing:
            raise CommandError(f"Unknown location code(s): {', '.join(missing)}")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            client, token = create_api_client(name=name, scope=scope, locations=list(found), expires_at=expires_at)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stderr.write(f"API client {client.name!r} ({client.scope}) at {', '.join(place.code for place in found)}.")
        self.stderr.write("The token follows; it is shown only this once:")
        self.stdout.write(token)
