"""Fixtures shared by every app's tests. The suite runs on PostgreSQL and Redis (see posproject/settings.py)."""

import pytest

from inventory.tests.factories import LocationFactory, StaffProfileFactory, UserFactory


def _staff(role: str, location, username: str):
    user = UserFactory(username=username, role=role)
    StaffProfileFactory(user=user).locations.add(location)
    return user


@pytest.fixture(autouse=True)
def _no_pin_failures_left_from_earlier_tests():
    """Wrong PINs are counted per client address in Redis, which outlives a test: every test starts at zero."""
    from django.core.cache import cache

    from inventory.pins import _ip_key

    cache.delete_many([_ip_key("127.0.0.1"), _ip_key("::1")])


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
