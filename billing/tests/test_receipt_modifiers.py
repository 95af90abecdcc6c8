"""A sale with modifiers on paper: the chosen options, as the order line keeps them, under their line."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from billing.receipts import receipt_document, render_receipt
from billing.services import sell
from billing.tests.escpos_text import read
from billing.tests.test_receipts import _golden
from orders.pricing import TenderInput
from orders.tests.helpers import dish_with_groups, line, open_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale_with_modifiers(location, cashier):
    dish, o, _ = dish_with_groups(location, name="Steak frites", price="18.00")
    till = open_register(location)
    chosen = [o["Medium"].pk, o["Bacon"].pk, o["Chips"].pk]
    return sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(dish, "2", modifiers=chosen, note="sauce on the side"), line(dish, modifiers=[o["Rare"].pk])],
        tenders=[TenderInput("cash", tendered=Decimal("70.00"))],
    )


@pytest.mark.parametrize(("name", "columns"), [("receipt_modifiers_58mm.bin", 32), ("receipt_modifiers_80mm.bin", 48)])
def test_a_receipt_with_modifiers_equals_the_committed_golden_file(sale_with_modifiers, name, columns):
    doc = replace(
        receipt_document(sale_with_modifiers.receipt),
        store_name="Café Zoë",
        header=("Rue de la Paix 12, 75002 Paris",),
        footer=("Merci !",),
        number="000043",
        code="R3-43",
        url="https://pos.example.com/receipts/43/Qb7vX2kLr9TzW1sYp0NcUe/",
        register="Till 1",
        issued_at=datetime(2026, 1, 15, 20, 41, tzinfo=UTC),
        staff="Zoë",
    )
    with override_settings(POS_CURRENCY_DECIMALS=2), timezone.override("UTC"):
        data = render_receipt(doc, columns=columns, open_drawer=True)

    assert data == _golden(name, data)
    text = read(data).text
    assert "+ Medium" in text and "+ Bacon +1.50" in text and "+ Chips +2.00" in text and "+ Rare" in text


@pytest.fixture
def sale_with_everything(location, cashier):
    """One cash sale with all the pay screen adds: a dish with options (one with a price), a coffee, a tip, the
    store's 0.05 cash rounding and change."""
    from inventory.tests.factories import ProductFactory

    location.cash_rounding = Decimal("0.05")
    location.save()
    dish, o, _ = dish_with_groups(location, name="Steak frites", price="18.00")
    coffee = ProductFactory(name="Espresso", price=Decimal("2.29"), tracked=False)
    till = open_register(location)
    return sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(dish, modifiers=[o["Medium"].pk, o["Bacon"].pk]), line(coffee, "1")],
        tenders=[TenderInput("cash", tendered=Decimal("30.00"), tip=Decimal("2.00"))],
    )


@pytest.mark.parametrize(
    ("name", "columns"), [("receipt_everything_58mm.bin", 32), ("receipt_everything_80mm.bin", 48)]
)
def test_a_receipt_with_modifiers_tip_rounding_and_change_equals_the_committed_golden_file(
    sale_with_everything, name, columns
):
    doc = replace(
        receipt_document(sale_with_everything.receipt),
        store_name="Café Zoë",
        legal_name="Zoë & Fils SARL",
        address=("Rue de la Paix 12", "75002 Paris"),
        tax_id="FR12345678901",
        header=(),
        footer=("Merci !",),
        number="000044",
        code="R3-44",
        url="https://pos.example.com/receipts/44/Hn3Zk8Rw5TqL2yVb6XcJ0a/",
        register="Till 1",
        issued_at=datetime(2026, 1, 15, 21, 5, tzinfo=UTC),
        staff="Zoë",
    )
    with override_settings(POS_CURRENCY_DECIMALS=2), timezone.override("UTC"):
        data = render_receipt(doc, columns=columns, open_drawer=True)

    assert data == _golden(name, data)
    printout = read(data)
    text = printout.text
    assert "+ Medium" in text and "+ Bacon +1.50" in text and "Espresso" in text
    assert "Tax ID FR12345678901" in text and "Zoë & Fils SARL" in text
    rows = {
        row.split()[0] + (" " + row.split()[1] if row.split()[0] == "Cash" else ""): row.split()[-1]
        for row in text.splitlines()
        if row.strip()
    }
    assert rows["TOTAL"] == "21.79"  # 18.00 + 1.50 (Bacon) + 2.29
    assert rows["Tip"] == "2.00" and rows["Cash rounding"] == "0.01" and rows["Tendered"] == "30.00"
    assert rows["Change"] == "6.20"  # 30.00 − (21.79 rounded to 21.80) − 2.00 tip
    assert printout.drawer_kicks == 1 and all(width <= columns for _, width in printout.lines)
