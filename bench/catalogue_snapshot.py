"""The catalogue snapshot of a store with 10,000 products reaching a fresh terminal.

Builds the store (bench/offline_world.py, its own database), then times, through the whole Django stack (the test
client: middleware, the device cookie, the signed-in cashier), with the JSON parsed as the device would:

  * fresh     the first GET of a terminal, nothing cached: version, render, serialise, parse (in a process that
              has already served a request, as a gunicorn worker has)
  * warm      the next terminal's GET (the store's part comes from the cache)
  * poll 304  a poll with If-None-Match of the current version (what a terminal does every minute)
  * changed   a GET after one price changed (a new version, rendered again)

It prints the size and the seconds of each and exits non-zero when the fresh download takes 5 s or more.

    .venv/bin/python bench/catalogue_snapshot.py
    .venv/bin/python bench/catalogue_snapshot.py --products 20000
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BUDGET_S = 5.0
URL = "/pos/offline/catalogue/"


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_offline")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=20)
    args = parser.parse_args()

    import offline_world

    world = offline_world.build(args.database_url, products=args.products)
    from django.core.cache import cache
    from django.utils import timezone

    from inventory.models import Product

    client = world.client
    client.get("/pos/offline/heartbeat/")  # a warm process (URLs and views imported), as a gunicorn worker is
    cache.clear()

    def fetch(**headers):
        response = client.get(URL, headers=headers)
        document = json.loads(response.content) if response.status_code == 200 else None
        return response, document

    (response, document), fresh = timed(fetch)
    assert response.status_code == 200 and len(document["catalogue"]["products"]) == args.products
    size = len(response.content)
    etag = response["ETag"]
    (_, _), warm = timed(fetch)
    polls = []
    for _ in range(args.polls):
        (poll, _), seconds = timed(lambda: fetch(**{"If-None-Match": etag}))
        assert poll.status_code == 304
        polls.append(seconds)
    Product.objects.filter(pk=world.products[0].pk).update(price="9.99", updated_at=timezone.now())
    (changed_response, _), changed = timed(fetch)
    assert changed_response.status_code == 200 and changed_response["ETag"] != etag

    print(f"{args.products:,} products: {size / 1e6:.2f} MB of JSON")
    print(f"fresh     {fresh:6.3f} s")
    print(f"warm      {warm:6.3f} s")
    print(f"poll 304  {statistics.median(polls) * 1000:6.1f} ms median of {args.polls}, max {max(polls) * 1000:.1f} ms")
    print(f"changed   {changed:6.3f} s")
    if fresh >= BUDGET_S:
        print(f"FAIL: a fresh terminal waited {fresh:.2f} s, budget < {BUDGET_S:.0f} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
