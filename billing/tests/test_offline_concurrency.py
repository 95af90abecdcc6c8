"""Two syncs of the same queue at once (a device retrying while its first request is still in flight), on real
PostgreSQL from real threads: every sale is applied once."""

import json

import pytest
from django.test import Client

from billing.models import OfflineSale, PrintJob, Receipt
from billing.tests.test_checkout_concurrency import run_at_once
from billing.tests.test_offline import SYNC, device_sale
from orders.models import Order
from orders.tests.pos_helpers import open_till, product, terminal

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_queue_synced_twice_at_once_applies_each_sale_once(location, cashier):
    device = terminal(cashier, location=location)
    open_till(device, location, cashier)
    cola = product(location, name="Cola", price="3.50", on_hand="500")
    body = json.dumps({"sales": [device_sale([(cola, 1)], staff=cashier, sequence=i + 1) for i in range(8)]})
    clients = []
    for _ in range(2):
        twin = Client()
        twin.cookies = device.cookies  # the same device (cookie and session) sending twice
        clients.append(twin)

    responses = run_at_once([lambda c=c: c.post(SYNC, data=body, content_type="application/json") for c in clients])

    assert all(response.status_code == 200 for response in responses)
    settled = [r["outcome"] for response in responses for r in response.json()["results"]]
    assert settled.count("applied") + settled.count("already_applied") + settled.count("rejected") == 16
    assert settled.count("applied") == 8
    assert (
        Order.objects.count() == Receipt.objects.count() == PrintJob.objects.count() == OfflineSale.objects.count() == 8
    )
