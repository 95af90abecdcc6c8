"""The browser fixtures of the POS end-to-end tests (headless Chromium, live server, screenshots)."""

from orders.tests.e2e.conftest import browser, live_server, page, screenshot  # noqa: F401
