"""The browser fixtures of the POS end-to-end tests (orders/tests/e2e/conftest.py), for billing's screens."""

from orders.tests.e2e.conftest import browser, live_server, page, screenshot  # noqa: F401
