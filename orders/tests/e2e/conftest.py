"""End-to-end tests in headless Chromium (the Debian `chromium` package, never a browser download) driven by
Playwright's sync API against pytest-django's live server. Screenshots go to test-artifacts/screenshots/."""

import os
import shutil
import socket
from pathlib import Path

import pytest
from pytest_django import live_server_helper

CHROMIUM = os.environ.get("POS_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1024, "height": 768}


def _free_address(host: str = "127.0.0.1", ports=range(8270, 8280)) -> str:
    """The first free port of the range (two suites may run at once on one machine), else any free port."""
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return f"{host}:{port}"
    return f"{host}:0"


@pytest.fixture(scope="session")
def live_server(request):
    """The live server on a local port: POS_E2E_ADDRESS or --liveserver if given, else the first free of 8270-8279."""
    addr = request.config.getvalue("liveserver") or os.environ.get("POS_E2E_ADDRESS") or _free_address()
    server = live_server_helper.LiveServer(addr)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Playwright's sync API keeps an event loop running in this thread while it is
    open, so Django's ORM (used by the tests in the same thread) is allowed to run next to it for that time only:
    the variable must not leak into other tests or the processes they start (`check --deploy` refuses it)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the Debian chromium package.")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def pair_context(context, location, base_url: str, **fields):
    """Pair a Playwright browser context as a new terminal at `location` (the device cookie pairing gives a browser).
    Until the terminal has a till, the first register made at its store becomes its till: the tests' shop fixtures
    make their register after the browser is paired, as a manager would set up a new till. Returns the terminal and
    a function that stops the adoption."""
    from django.db.models.signals import post_save

    from billing.models import Register
    from orders.tests.pos_helpers import paired_terminal
    from staff.models import Terminal
    from staff.terminals import DEVICE_COOKIE, device_cookie_value

    device = paired_terminal(location, **fields)
    context.add_cookies([{"name": DEVICE_COOKIE, "value": device_cookie_value(device), "url": base_url}])

    def adopt(sender, instance, created, **kwargs):
        if created and instance.location_id == device.location_id:
            Terminal.objects.filter(pk=device.pk, register__isnull=True).update(register=instance)

    uid = f"e2e-terminal-{device.pk}"
    post_save.connect(adopt, sender=Register, weak=False, dispatch_uid=uid)
    return device, lambda: post_save.disconnect(sender=Register, dispatch_uid=uid)


@pytest.fixture
def page(browser, live_server, request):
    """A browser page. In a test that has the `location` fixture (a store), the browser is a paired terminal there
    (see pair_context), unless the test is marked `unpaired`."""
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    stop = None
    if "location" in request.fixturenames and request.node.get_closest_marker("unpaired") is None:
        _, stop = pair_context(context, request.getfixturevalue("location"), live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    yield page
    context.close()
    if stop is not None:
        stop()
    assert not blocked, f"the Content-Security-Policy blocked something: {blocked}"


@pytest.fixture
def screenshot():
    """screenshot(page, "name"): save the screen as test-artifacts/screenshots/<name>.png and check that it fits
    1024 pixels wide (no horizontal scrolling)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: {overflow}px of horizontal scrolling at 1024×768"
        return path

    return take
