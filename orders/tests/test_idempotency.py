"""core.idempotency as a screen uses it: a hidden uuid per form, scoped to the signed-in user."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from core.errors import DomainError
from core.idempotency import IdempotencyKeyReused, run_once
from core.models import IdempotencyRecord
from orders.models import Order
from orders.services import open_order
from orders.tests.helpers import line, stocked_product


def open_from_screen(user, location, product, key, quantity="1"):
    def action():
        order = open_order(location_id=location.pk, user=user, lines=[line(product, quantity)])
        return 200, {"order": str(order.uuid)}

    return run_once(
        scope=f"user:{user.pk}",
        key=key,
        endpoint="pos.open_order",
        payload={"product": product.pk, "quantity": quantity},
        action=action,
    )


@pytest.mark.django_db
def test_a_form_submitted_twice_applies_once_and_the_second_gets_the_first_result(location, waiter):
    product = stocked_product(location)
    key = str(uuid.uuid4())

    first = open_from_screen(waiter, location, product, key)
    second = open_from_screen(waiter, location, product, key)

    assert (first.replayed, second.replayed) == (False, True)
    assert second.body == first.body
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_other_input_is_refused(location, waiter):
    product = stocked_product(location)
    key = str(uuid.uuid4())
    open_from_screen(waiter, location, product, key)

    with pytest.raises(IdempotencyKeyReused) as error:
        open_from_screen(waiter, location, product, key, quantity="2")

    assert error.value.status == 422
    assert Order.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "   ", None, "x" * 129, "bad\x00key"])
def test_a_missing_or_malformed_key_is_refused_before_anything_happens(location, waiter, key):
    with pytest.raises(DomainError):
        open_from_screen(waiter, location, stocked_product(location), key)

    assert not Order.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_form_posted_from_two_threads_at_once_opens_one_order(location, waiter):
    product = stocked_product(location)
    key = str(uuid.uuid4())
    barrier = threading.Barrier(4)

    def submit():
        try:
            barrier.wait(timeout=30)
            return open_from_screen(waiter, location, product, key)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: submit(), range(4)))

    assert Order.objects.count() == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert len({str(o.body) for o in outcomes}) == 1


@pytest.mark.django_db
def test_purging_deletes_only_records_older_than_the_cutoff(location, waiter):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    product = stocked_product(location)
    old, recent = (open_from_screen(waiter, location, product, str(uuid.uuid4())) for _ in range(2))
    IdempotencyRecord.objects.filter(response_body=old.body).update(created_at=timezone.now() - timedelta(days=40))

    call_command("purge_idempotency_keys", "--days", "30")

    assert list(IdempotencyRecord.objects.values_list("response_body", flat=True)) == [recent.body]
