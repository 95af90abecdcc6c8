import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Receipt, Refund
from billing.services import RefundItem, refund, sell
from inventory.models import StockLevel
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_managers_refunding_the_last_unit_at_once_refund_it_once(location, manager):
    till_1, till_2 = open_register(location), open_register(location)
    product = stocked_product(location, on_hand="5")
    order = sell(register_id=till_1.pk, user=manager, lines=[line(product)], tenders=[TenderInput("card")]).order
    sold = order.lines.get()
    barrier = threading.Barrier(2)

    def refund_from(till):
        try:
            barrier.wait(timeout=30)
            return refund(
                order_id=order.pk,
                register_id=till.pk,
                items=[RefundItem(sold.pk, Decimal("1"))],
                reason="duplicate tap",
                user=manager,
            )
        except Exception as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(refund_from, [till_1, till_2]))

    assert sum(isinstance(r, Refund) for r in results) == 1
    [refused] = [r for r in results if not isinstance(r, Refund)]
    assert refused.code == "refund_exceeds_sold"
    assert Refund.objects.count() == 1
    assert Receipt.objects.filter(kind="refund").count() == 1
    assert StockLevel.objects.get(product=product, location=location).on_hand == Decimal("5")
