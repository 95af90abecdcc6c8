"""Fixtures shared by every app's tests. The suite runs on PostgreSQL and Redis (see posproject/settings.py)."""

import pytest

from inventory.tests.factories import LocationFactory
from staff.tests.factories import StaffProfileFactory, UserFactory


def _staff(role: str, location, username: str):
    user = UserFactory(username=username, role=role)
    StaffProfileFactory(user=user).locations.add(location)
    return user


@pytest.fixture(autouse=True)
def _no_pin_failures_left_from_earlier_tests():
    """Wrong PINs (and pairing codes asked for or mistyped, unknown gift-card codes, wrong receipt links opened) are
    counted in the cache (Redis in the suite), which outlives a test and a whole run: every test starts with nothing
    counted, whatever earlier tests or runs did."""
    from django.core.cache import cache

    from staff.pins import _ip_key

    backend = getattr(cache, "_cache", None)
    if hasattr(backend, "get_client"):  # Django's RedisCache: delete the counters by pattern, not the whole db
        client = backend.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key(_ip_key("*"))))
        keys += list(client.scan_iter(match=cache.make_key("pos-pairing-*")))
        keys += list(client.scan_iter(match=cache.make_key("giftcard-misses:*")))
        keys += list(client.scan_iter(match=cache.make_key("receipt-page-misses:*")))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()  # local memory: this process's only


@pytest.fixture(autouse=True)
def _no_shared_health_report_left_from_earlier_tests():
    """The full health report is kept in the cache for a few seconds: no test reads an earlier one's (or waits for
    the lock of a computation an earlier test left running)."""
    from ops.health import forget_report

    forget_report()


@pytest.fixture
def location(db):
    return LocationFactory(code="main", name="Main Street")


@pytest.fixture
def manager(location):
    return _staff("Manager", location, "manager")


@pytest.fixture
def cashier(location):
    return _staff("Cashier", location, "cashier")


@pytest.fixture
def waiter(location):
    return _staff("Waiter", location, "waiter")


@pytest.fixture
def kitchen_user(location):
    return _staff("Kitchen", location, "kitchen")


@pytest.fixture
def client(client, request):
    """pytest-django's test client; in a test with the `location` fixture (a store), a paired terminal there, as
    every browser at a till is (orders/tests/pos_helpers.py pairs it). POS screens refuse a browser that is not."""
    if "location" in request.fixturenames:
        from orders.tests.pos_helpers import pair_client

        pair_client(client, request.getfixturevalue("location"))
    return client
