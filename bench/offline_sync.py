"""100 sales queued offline synced in one batch.

Builds the store (bench/offline_world.py, its own database: 10,000 products, a register with an open session, a
paired terminal with a cashier signed in), queues N sales as a device would (1 to 5 random lines, every fifth line
with options, cash with change, card or both, the totals priced by orders/pricing.py as the device's port does),
then times, through the whole Django stack:

  * sync      POST /pos/offline/sync/ of the whole queue (each sale applied in its own transaction, in order)
  * replay    the same batch again (each answered from its idempotency record: nothing applied twice)

It checks that every sale was applied once with consecutive receipt numbers and a print job each, prints the seconds
and exits non-zero when the sync takes 30 s or more.

    .venv/bin/python bench/offline_sync.py
    .venv/bin/python bench/offline_sync.py --sales 100
"""

import argparse
import json
import random
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BUDGET_S = 30.0
URL = "/pos/offline/sync/"


def queued_sales(world, count: int, seed: int) -> list[dict]:
    from django.utils import timezone

    from orders import pricing
    from orders.models import ModifierOption

    rng = random.Random(seed)
    options = list(ModifierOption.objects.filter(group__name="Extras").order_by("id"))
    with_options = world.products[::10]
    started = timezone.now() - timedelta(minutes=90)
    sales = []
    for n in range(count):
        lines, inputs = [], []
        for i in range(rng.randint(1, 5)):
            item = rng.choice(with_options) if i == 0 and n % 5 == 0 else rng.choice(world.products)
            chosen = options[: rng.randint(1, 2)] if item in with_options else []
            quantity = Decimal(rng.randint(1, 3))
            lines.append(
                {
                    "product": item.pk,
                    "quantity": str(quantity),
                    "unit_price": str(item.price),
                    "tax_percent": str(item.tax_rate.percent),
                    "modifiers": [{"option": o.pk, "price": str(o.price_delta)} for o in chosen],
                }
            )
            inputs.append(
                pricing.LineInput(
                    unit_price=item.price,
                    quantity=quantity,
                    tax_percent=item.tax_rate.percent,
                    modifiers_price=sum((o.price_delta for o in chosen), Decimal(0)),
                )
            )
        priced = pricing.price_order(inputs, prices_include_tax=True)
        total = priced.total
        tenders = [
            [{"tender": "cash", "tendered": str((total + 20).quantize(Decimal(1)))}],
            [{"tender": "card", "amount": str(total)}],
            [
                {"tender": "card", "amount": str((total / 2).quantize(Decimal("0.01")))},
                {"tender": "cash", "tendered": str(total)},
            ],
        ][n % 3]
        sales.append(
            {
                "key": str(uuid.UUID(int=rng.getrandbits(128))),
                "sequence": n + 1,
                "made_at": (started + timedelta(seconds=30 * n)).isoformat(),
                "staff": world.cashier.pk,
                "channel": "takeaway" if n % 4 == 0 else "retail",
                "lines": lines,
                "tenders": tenders,
                "totals": {
                    "subtotal": str(priced.subtotal),
                    "discount": str(priced.discount_total),
                    "service_charge": str(priced.service_charge),
                    "tax": str(priced.tax_total),
                    "total": str(total),
                },
            }
        )
    return sales


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_offline")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=100)
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()

    import offline_world

    world = offline_world.build(args.database_url, products=args.products)
    from billing.models import OfflineSale, PrintJob, Receipt

    sales = queued_sales(world, args.sales, args.seed)
    body = json.dumps({"sales": sales, "queue": {"length": 0}})  # nothing left on the device besides this batch
    world.client.get("/pos/offline/catalogue/")  # a warm process, as a gunicorn worker is

    started = time.perf_counter()
    response = world.client.post(URL, data=body, content_type="application/json")
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.content[:500]
    results = response.json()["results"]

    started = time.perf_counter()
    replay = world.client.post(URL, data=body, content_type="application/json")
    replay_seconds = time.perf_counter() - started

    problems = []
    outcomes = {}
    for result in results:
        outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
    if outcomes != {"applied": args.sales}:
        problems.append(f"not every sale was applied once: {outcomes}")
    flagged = sum(1 for result in results if result.get("flags"))
    numbers = [result.get("receipt") for result in results]
    if None in numbers or numbers != list(range(numbers[0], numbers[0] + args.sales)):
        problems.append("receipt numbers are not consecutive")
    if {r["outcome"] for r in replay.json()["results"]} != {"already_applied"}:
        problems.append("the replay applied something")
    if (Receipt.objects.count(), PrintJob.objects.count(), OfflineSale.objects.count()) != (args.sales,) * 3:
        problems.append("not one receipt, print job and offline record per sale")
    print(f"{args.sales} sales, {len(body) / 1e3:.0f} kB, {flagged} flagged")
    print(f"sync    {seconds:6.2f} s  ({seconds / args.sales * 1000:.0f} ms a sale)")
    print(f"replay  {replay_seconds:6.2f} s")
    if seconds >= BUDGET_S:
        problems.append(f"the sync took {seconds:.1f} s, budget < {BUDGET_S:.0f} s")
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
