"""A shop selling through the real checkout service (billing.services.sell), run as its own process against the
database in DATABASE_URL, for the point-in-time recovery tests.

    python -m ops.tests.pitr_shop setup      → {"register": id, "product": id, "user": id, "token": API token}
    python -m ops.tests.pitr_shop sell --every 0.6 --count 300 --mark-after 200
    python -m ops.tests.pitr_shop sell --every 0.25           (until killed)

`sell` prints one JSON line per sale once `sell()` has returned (committed: what the API answers 201):
{"receipt": n, "amount": "12.50", "at": <unix time>}; with --mark-after k it prints {"mark": <unix time>} between
sale k and k+1, with a pause on either side. A failed sale prints {"error": ...} and the shop keeps trying.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from decimal import Decimal


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posproject.settings")
    import django

    django.setup()


def setup() -> dict:
    from billing.tests.factories import CashSessionFactory, RegisterFactory
    from inventory.models import Product
    from inventory.tests.factories import LocationFactory
    from orders.tests.helpers import stocked_product
    from staff.api_clients import create_api_client
    from staff.tests.factories import StaffProfileFactory, UserFactory

    location = LocationFactory(code="pitr", name="PITR shop")
    user = UserFactory(username="pitr-cashier", role="Cashier")
    StaffProfileFactory(user=user).locations.add(location)
    register = RegisterFactory(location=location)
    CashSessionFactory(register=register, opened_by=user)
    product = stocked_product(location, on_hand="0", price="2.35", policy=Product.StockPolicy.ALLOW)
    token = create_api_client(name="pitr-till", scope="sell", locations=[location])[1]
    return {"register": register.pk, "product": product.pk, "user": user.pk, "token": token}


def sell(*, register: int, product: int, user: int, every: float, count: int, mark_after: int, token: str = "") -> None:
    from django.contrib.auth import get_user_model
    from django.db import connections

    from billing.services import sell as checkout
    from orders.pricing import TenderInput
    from orders.services import NewLine

    cashier = get_user_model().objects.get(pk=user)
    made, started = 0, time.monotonic()
    while not count or made < count:
        quantity = Decimal(1 + made % 4)
        try:
            sale = checkout(
                register_id=register,
                user=cashier,
                lines=[NewLine(product_id=product, quantity=quantity)],
                tenders=[TenderInput(tender="card")],
            )
        except Exception as exc:  # the server killed under it: keep trying, as a till would
            print(json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:200]}", "at": time.time()}), flush=True)
            connections.close_all()
            time.sleep(every)
            continue
        made += 1
        amount = sum((p.amount for p in sale.payments), Decimal(0))
        print(json.dumps({"receipt": sale.receipt.number, "amount": str(amount), "at": time.time()}), flush=True)
        if made == mark_after:
            time.sleep(1.0)
            print(json.dumps({"mark": time.time()}), flush=True)
            time.sleep(1.0)
        # a steady rate: the next sale starts at its slot, whatever this one took
        delay = started + made * every - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["setup", "sell"])
    parser.add_argument("--shop", default="{}", help="the JSON that setup printed")
    parser.add_argument("--every", type=float, default=0.6)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--mark-after", type=int, default=0)
    args = parser.parse_args(argv)
    _django()
    if args.action == "setup":
        print(json.dumps(setup()), flush=True)
    else:
        sell(**json.loads(args.shop), every=args.every, count=args.count, mark_after=args.mark_after)


if __name__ == "__main__":
    main(sys.argv[1:])
