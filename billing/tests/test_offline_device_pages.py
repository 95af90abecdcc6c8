"""The pages that let a terminal sell offline (issue 22, the device's part): the service worker's script at
/pos/sw.js, the offline selling screen, and the indicator on the till pages. The behaviour in a browser (offline
sales, the queue, the sync) is tested in billing/tests/e2e/test_offline_device.py."""

import pytest
from django.test import Client

from orders.tests.pos_helpers import terminal

pytestmark = pytest.mark.django_db

WORKER = "/pos/sw.js"
SCREEN = "/pos/offline/"


def test_the_service_worker_is_served_for_the_pos_scope_and_asked_for_again_on_each_load(location, cashier):
    till = terminal(cashier, location=location)

    response = till.get(WORKER)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/pos/"
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    assert 'addEventListener("fetch"' in body and "/pos/offline/" in body


def test_the_offline_screen_carries_the_indicator_and_its_scripts(location, cashier):
    till = terminal(cashier, location=location)

    response = till.get(SCREEN)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="offline-screen"' in html
    assert f'data-staff="{cashier.pk}"' in html and f'data-terminal="{till.pos_terminal.pk}"' in html
    for script in ("js/offline.js", "js/pricing.js", "js/offline-screen.js"):
        assert script in html


def test_the_till_pages_show_the_indicator_to_those_who_take_payments_only(location, cashier, waiter):
    cashier_till = terminal(cashier, location=location)
    waiter_till = terminal(waiter, location=location)

    assert 'id="offline-status"' in cashier_till.get("/pos/").content.decode()
    assert 'id="offline-status"' not in waiter_till.get("/pos/").content.decode()
    assert waiter_till.get(SCREEN).status_code == 403
    assert waiter_till.get(WORKER).status_code == 403


def test_an_unpaired_browser_gets_no_worker_and_no_offline_screen(cashier):
    client = Client()
    client.force_login(cashier)

    for path in (WORKER, SCREEN):
        response = client.get(path)
        assert response.status_code == 403 and "Pair this device" in response.content.decode()
