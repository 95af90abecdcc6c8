"""Run by test_replica.py in a process of its own, with DATABASE_URL at a primary and DATABASE_REPLICA_URL at its
streaming replica (both started by the test). Prints one JSON line: which database each screen's queries went to.

  replica_case.py setup      migrate, a store with a manager, a paired till, products and a paid sale
  replica_case.py screens    the screens, each noting its queries on the primary and on the replica
  replica_case.py down       the same screens with the replica stopped (queries on the primary only)
"""

import json
import sys
import time


def _wait_for_replica() -> None:
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        wanted = cursor.fetchone()[0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [wanted])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.1)
    raise SystemExit("the replica did not catch up in 30 s")


def setup() -> dict:
    from decimal import Decimal

    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from billing.services import sell
    from inventory.tests.factories import LocationFactory
    from orders.pricing import TenderInput
    from orders.tests.helpers import line, open_register, stocked_product
    from staff.models import Terminal
    from staff.tests.factories import StaffProfileFactory, UserFactory

    location = LocationFactory(code="replica-store", name="Replica store")
    manager = UserFactory(username="replica-manager", role="Manager")
    StaffProfileFactory(user=manager).locations.add(location)
    till = open_register(location, user=manager)
    Terminal.objects.create(location=location, name="Till 1", register=till)
    cola = stocked_product(location, on_hand="50", price="2.50", name="Cola")
    stocked_product(location, on_hand="50", price="3.10", name="Colada mix")
    sell(register_id=till.pk, user=manager, lines=[line(cola, "2")], tenders=[TenderInput("cash", Decimal("10"))])
    _wait_for_replica()
    return {"ok": True}


def screens(replica_up: bool) -> dict:
    from django.db import connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from orders.services import open_order
    from staff.models import Terminal
    from staff.terminals import DEVICE_COOKIE, device_cookie_value

    terminal = Terminal.objects.get(name="Till 1")
    Terminal.objects.filter(pk=terminal.pk).update(paired_at=terminal.created_at, revoked_at=None)
    terminal.refresh_from_db()
    from django.contrib.auth.models import User

    manager = User.objects.get(username="replica-manager")
    order = Order.objects.filter(status="open").first() or open_order(location_id=terminal.location_id, user=manager)
    if replica_up:
        _wait_for_replica()
    client = Client(HTTP_HOST="localhost")
    client.force_login(manager)
    client.cookies[DEVICE_COOKIE] = device_cookie_value(terminal)
    from inventory.models import Product

    product_id = Product.objects.get(name="Cola").pk

    def visit(name: str, method: str, url: str, *args, **kwargs) -> dict:
        # Capturing opens a connection: with the replica stopped only the primary's queries are counted.
        watched = [connections["default"], *([connections["replica"]] if replica_up else [])]
        captures = [CaptureQueriesContext(each) for each in watched]
        for capture in captures:
            capture.__enter__()
        try:
            response = getattr(client, method)(url, *args, **kwargs)
        finally:
            for capture in captures:
                capture.__exit__(None, None, None)
        replica = captures[1].captured_queries if replica_up else []
        return {
            "screen": name,
            "status": response.status_code,
            "primary": len(captures[0]),
            "replica": len(replica),
            "found_cola": b"Cola" in response.content,
        }

    visits = [
        visit("sales report", "get", "/reports/"),
        visit("product search", "get", "/pos/products/?q=Col"),
        visit("kitchen board", "get", "/pos/kitchen/board/"),
        visit(
            "add a line", "post", f"/pos/orders/{order.uuid}/lines/", {"product": product_id}, HTTP_HX_REQUEST="true"
        ),
        visit("search just after a write", "get", "/pos/products/?q=Col"),
    ]
    return {"visits": visits}


def main() -> None:
    import django

    django.setup()
    phase = sys.argv[1]
    result = setup() if phase == "setup" else screens(replica_up=phase == "screens")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
