"""A refused POS form comes back with everything that was typed into it (DESIGN.md §6)."""

import re

import pytest
from django.urls import reverse

from billing import sessions
from billing.models import CashSession, Receipt
from billing.tests.factories import RegisterFactory
from orders import services
from orders.models import Order
from orders.tests.pos_helpers import attach_register, open_till, product, terminal

pytestmark = pytest.mark.django_db


def _value(html: str, name: str) -> str:
    match = re.search(rf'<input name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no field {name}"
    return match.group(1)


def test_a_refused_float_count_keeps_every_denomination_typed(cashier, location):
    client = terminal(cashier)
    attach_register(client, RegisterFactory(location=location))
    counts = {f"d_{d}": str(n + 1) for n, d in enumerate(sessions.denominations())}
    counts["d_0.01"] = "-4"  # not a count: refused

    response = client.post(reverse("billing:shift_open"), counts)

    assert response.status_code == 400
    html = response.content.decode()
    assert all(_value(html, name) == typed for name, typed in counts.items())
    assert not CashSession.objects.exists()


def test_a_refused_close_keeps_every_denomination_and_the_note(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    counts = {f"d_{d}": str(n + 1) for n, d in enumerate(sessions.denominations())}

    response = client.post(reverse("billing:shift_close"), {**counts, "note": "Bag short"})  # far off: sign-off

    assert response.status_code == 400
    html = response.content.decode()
    assert all(_value(html, name) == typed for name, typed in counts.items())
    assert 'value="Bag short"' in html


def test_a_refused_refund_keeps_the_quantities_typed(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    order = services.open_order(location_id=location.pk, user=cashier)
    services.add_lines(order.pk, user=cashier, lines=[services.NewLine(product_id=product(location).pk)])
    order.refresh_from_db()
    client.post(
        reverse("billing:pay", args=[order.uuid]),
        {"key": "k", "rows": "1", "tender_0": "cash", "amount_0": f"{order.total}"},
    )
    receipt = Receipt.objects.get(order=order)
    line = order.lines.get()

    response = client.post(reverse("billing:refund", args=[receipt.pk]), {f"qty_{line.pk}": "1", "reason": "Flat"})

    assert response.status_code == 400  # no manager PIN
    assert _value(response.content.decode(), f"qty_{line.pk}") == "1"


def test_a_refused_split_keeps_the_quantities_typed(cashier, location):
    client = terminal(cashier)
    order = services.open_order(location_id=location.pk, user=cashier)
    services.add_lines(order.pk, user=cashier, lines=[services.NewLine(product_id=product(location).pk)])
    line = order.lines.get()

    response = client.post(reverse("orders:split", args=[order.uuid]), {f"move_{line.pk}": "7"})  # only 1 there

    assert response.status_code == 400
    assert _value(response.content.decode(), f"move_{line.pk}") == "7"
    assert Order.objects.count() == 1
