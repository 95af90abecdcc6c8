"""The pages around the POS in a real browser: the integrity page finishes by itself, and our own 404 page."""

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from ops.integrity import REQUESTED_KEY, run_integrity_check
from orders.tests.e2e.conftest import SCREENSHOTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, username: str, next_path: str) -> None:
    page.goto(f"/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def test_the_integrity_page_shows_the_result_by_itself_when_the_run_is_done(page, manager):
    cache.delete(REQUESTED_KEY)
    try:
        sign_in(page, "manager", "/ops/integrity/")
        page.click("button:has-text('Run now')")  # no worker runs in the suite: the run stays pending
        expect(page.locator("#integrity-result")).to_contain_text("running")

        run_integrity_check()  # what the worker does

        expect(page.locator("#integrity-result")).to_contain_text("no violations", timeout=10_000)
        expect(page.locator("body")).not_to_contain_text("refresh")
        expect(page.locator("button:has-text('Run now')")).to_be_enabled()
        page.click("[data-back]")
        expect(page).to_have_url(re.compile(r"/$"))
        page.wait_for_load_state("networkidle")
    finally:
        cache.delete(REQUESTED_KEY)


def test_our_404_page_at_every_width(page, cashier):
    sign_in(page, "cashier", "/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (768, 1024), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        response = page.goto("/pos/no-such-screen/")
        assert response.status == 404
        expect(page.locator("h1")).to_have_text("There is no page at this address")
        page.screenshot(path=str(SCREENSHOTS / f"404-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(page.locator("a:has-text('Point of sale')")).to_have_attribute("href", "/pos/")
    expect(page.locator("a:has-text('Start page')")).to_have_attribute("href", "/")
