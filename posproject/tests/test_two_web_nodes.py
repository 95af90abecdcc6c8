"""Web nodes are stateless: two gunicorn instances (production config and settings, the same database and Redis)
behind nginx's round robin, and a whole sale on the POS screen whose requests alternate between them — the manager's
password sign-in and pairing, a cashier's PIN switch, an order, lines added under idempotency keys (one of them
retried with the same key), the payment — without anyone noticing: no sign-out, no CSRF refusal, nothing applied
twice. nginx's access log names the instance that answered each request."""

import json
import re
import uuid
from decimal import Decimal

import pytest

from posproject.tests.test_deploy_gunicorn import _gunicorn, nginx_in_front
from posproject.tests.test_deploy_gunicorn import static_root as static_root  # the collected static files, once
from posproject.tests.test_production_stack import PASSWORD, _csrf, _session, _spare_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_nodes(django_db_setup, static_root, tmp_path, monkeypatch, settings):
    first, second, proxy = tmp_path / "web-1", tmp_path / "web-2", tmp_path / "nginx"
    for directory in (first, second, proxy):
        directory.mkdir()
    http_port, https_port = _spare_port(), _spare_port()
    # nginx passes the host without the port: the browser's origin is trusted as such (CSRF), on both nodes.
    monkeypatch.setenv("CSRF_TRUSTED_ORIGINS", f"https://127.0.0.1:{https_port}")
    # PINs are keyed with the servers' secret: this process (which sets the PIN) and both nodes share one.
    monkeypatch.setenv("POS_PIN_SECRET", "two-nodes-pin-secret-" + "p" * 30)
    settings.POS_PIN_SECRET = "two-nodes-pin-secret-" + "p" * 30
    with (
        _gunicorn(first, static_root) as (_, one, _),
        _gunicorn(second, static_root) as (_, two, _),
        nginx_in_front([one, two], proxy, http_port, https_port),
    ):
        yield f"https://127.0.0.1:{https_port}", {one.removeprefix("http://"), two.removeprefix("http://")}, proxy


def _answered_by(proxy_dir) -> list[tuple[str, str, str]]:
    rows = []
    for line in (proxy_dir / "access.log").read_text().splitlines():
        entry = json.loads(line)
        rows.append((entry["method"], entry["uri"], entry["upstream"]))
    return rows


def test_a_whole_sale_alternates_between_two_web_nodes_without_anyone_noticing(two_nodes, location):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from billing.models import Payment, Receipt
    from orders.models import Order, OrderLine
    from orders.tests.helpers import open_register, stocked_product
    from orders.tests.pos_helpers import give_pin
    from staff.models import Terminal
    from staff.tests.factories import StaffProfileFactory, UserFactory

    base, nodes, proxy_dir = two_nodes
    manager = UserFactory(username="two-nodes-manager", role="Manager")
    manager.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    manager.save(update_fields=["password"])
    StaffProfileFactory(user=manager).locations.add(location)
    cashier = UserFactory(username="two-nodes-cashier", role="Cashier", first_name="Cara")
    StaffProfileFactory(user=cashier).locations.add(location)
    pin = give_pin(cashier, "583920")
    till = open_register(location, user=manager)
    device = Terminal.objects.create(location=location, name="Till 1", register=till)
    cola = stocked_product(location, on_hand="10", price="2.50", name="Cola")

    browser = _session(base)
    # The manager signs in with a password on the new device and pairs it as Till 1.
    page = browser.get(f"{base}/accounts/login/")
    signed_in = browser.post(
        f"{base}/accounts/login/",
        data={"csrfmiddlewaretoken": _csrf(browser, page.text), "username": manager.username, "password": PASSWORD},
    )
    assert signed_in.status_code == 200, signed_in.text[:500]
    unpaired = browser.get(f"{base}/pos/")
    paired = browser.post(
        f"{base}/pos/pair/direct/", data={"csrfmiddlewaretoken": _csrf(browser, unpaired.text), "terminal": device.pk}
    )
    assert paired.status_code == 200 and "/pos/pair" not in paired.url, paired.text[:500]
    # The cashier takes over by PIN.
    switch = browser.get(f"{base}/pos/switch/")
    switched = browser.post(
        f"{base}/pos/switch/",
        data={"csrfmiddlewaretoken": _csrf(browser, switch.text), "user": cashier.pk, "pin": pin},
    )
    refusal = re.findall(r"error[^>]*>([^<]+)", switched.text)
    assert switched.status_code == 200 and "/pos/switch" not in switched.url, refusal
    assert "Cara" in switched.text
    # An order, three taps (the second one's answer "lost" and retried with its key), the payment.
    opened = browser.post(
        f"{base}/pos/orders/new/", data={"csrfmiddlewaretoken": _csrf(browser, switched.text), "channel": "retail"}
    )
    order_uuid = re.search(r"/pos/orders/([0-9a-f-]{36})/", opened.url).group(1)
    htmx = {"HX-Request": "true", "X-CSRFToken": _csrf(browser, opened.text)}
    keys = [str(uuid.uuid4()) for _ in range(3)]
    for key in [keys[0], keys[1], keys[1], keys[2]]:
        tapped = browser.post(
            f"{base}/pos/orders/{order_uuid}/lines/",
            data={"product": cola.pk},
            headers={**htmx, "Idempotency-Key": key},
        )
        assert tapped.status_code == 200 and "Cola" in tapped.text, tapped.text[:500]
    pay_page = browser.get(f"{base}/pos/orders/{order_uuid}/pay/")
    payment = {
        "csrfmiddlewaretoken": _csrf(browser, pay_page.text),
        "key": re.search(r'name="key" value="([^"]+)"', pay_page.text).group(1),
        "rows": "1",
        "tender_0": "cash",
        "amount_0": "10.00",
    }
    paid = browser.post(f"{base}/pos/orders/{order_uuid}/pay/", data=payment)
    again = browser.post(f"{base}/pos/orders/{order_uuid}/pay/", data=payment)  # a double tap
    assert paid.status_code == 200 and "/pos/receipts/" in paid.url, paid.text[:800]
    assert again.status_code == 200 and again.url == paid.url

    order = Order.objects.get(uuid=order_uuid)
    assert order.status == Order.Status.PAID and order.staff == cashier and order.total == Decimal("7.50")
    assert [(line.quantity, line.name) for line in OrderLine.objects.filter(order=order)] == [(Decimal(3), "Cola")]
    assert Payment.objects.filter(order=order).count() == 1
    assert Receipt.objects.filter(order=order, kind=Receipt.Kind.SALE).count() == 1
    # Both nodes took part in the sale's POS requests, alternately.
    sale = [row for row in _answered_by(proxy_dir) if row[1].startswith(("/pos/", "/accounts/"))]
    used = {upstream for _, _, upstream in sale}
    assert used == nodes, sale
    assert all(sum(1 for row in sale if row[2] == node) >= 5 for node in nodes), sale
    shares = ", ".join(f"{sum(row[2] == node for row in sale)} by {node}" for node in nodes)
    print(f"[two nodes] {len(sale)} POS requests: {shares}")
