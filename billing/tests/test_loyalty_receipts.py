"""Loyalty points on the printed receipt, the POS receipt screen and the guest's receipt page."""

from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from billing import loyalty
from billing.loyalty import PointsLine
from billing.models import Receipt
from billing.receipts import ReceiptDoc, TenderRow, receipt_document, render_receipt
from billing.services import RefundItem, refund, take_payment
from billing.tests.escpos_text import read
from billing.tests.factories import CustomerFactory
from billing.tests.test_receipts import FIXED_RECEIPT, _golden
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import open_order
from orders.tests.helpers import line, open_register, stocked_product

POINTS_RECEIPT = ReceiptDoc(
    **{
        **FIXED_RECEIPT.__dict__,
        "number": "000044",
        "code": "R3-44",
        "tenders": (
            TenderRow("Loyalty points", Decimal("2.00")),
            TenderRow("Cash", Decimal("25.40"), Decimal("30.00"), Decimal("4.60"), cash=True),
        ),
        "points": PointsLine(earned=25, redeemed=40, balance=1285),
    }
)


@pytest.fixture(autouse=True)
def _fixed_locale():
    with override_settings(POS_CURRENCY_DECIMALS=2), timezone.override("UTC"):
        yield


@pytest.mark.parametrize(("name", "columns"), [("receipt_points_58mm.bin", 32), ("receipt_points_80mm.bin", 48)])
def test_a_receipt_with_loyalty_points_equals_the_committed_golden_file(name, columns):
    data = render_receipt(POINTS_RECEIPT, columns=columns, open_drawer=True)
    assert data == _golden(name, data)


def test_a_receipt_without_a_customer_prints_no_points_lines():
    assert "Points" not in read(render_receipt(FIXED_RECEIPT, columns=48)).text


@pytest.fixture
def store(location):
    location.loyalty_points_per_unit = Decimal("1")
    location.loyalty_point_value = Decimal("0.05")
    location.save()
    return location


@pytest.fixture
def paid_with_points(store, cashier, manager):
    """A 20.00 order of a customer with 400 points: 10.00 paid with 200 points, 10.00 by card (10 points earned)."""
    customer = CustomerFactory()
    loyalty.adjust_points(customer_id=customer.pk, points=400, reason="welcome", user=manager)
    till = open_register(store)
    order = open_order(location_id=store.pk, user=cashier, lines=[line(stocked_product(store, price="10.00"), "2")])
    Order.objects.filter(pk=order.pk).update(customer=customer)
    tenders = [TenderInput("points", amount=Decimal("10.00")), TenderInput("card")]
    sale = take_payment(order_id=order.pk, register_id=till.pk, tenders=tenders, user=cashier)
    return sale, till


@pytest.mark.django_db
def test_the_printed_receipt_shows_the_points_earned_redeemed_and_the_new_balance(paid_with_points):
    sale, _ = paid_with_points

    text = read(render_receipt(receipt_document(sale.receipt), columns=48)).text

    rows = [row.split() for row in text.splitlines() if row.startswith("Points")]
    assert rows == [["Points", "redeemed", "-200"], ["Points", "earned", "+10"], ["Points", "balance", "210"]]
    assert "Loyalty points" in text


@pytest.mark.django_db
def test_a_reprint_shows_the_balance_at_the_time_of_the_sale(paid_with_points, manager):
    sale, _ = paid_with_points
    customer_id = sale.order.customer_id
    loyalty.adjust_points(customer_id=customer_id, points=500, reason="later", user=manager)

    assert receipt_document(Receipt.objects.get(pk=sale.receipt.pk)).points.balance == 210


@pytest.mark.django_db
def test_a_refund_receipt_shows_the_points_given_back_and_taken_back(paid_with_points, manager):
    sale, till = paid_with_points
    record = refund(
        order_id=sale.order.pk,
        register_id=till.pk,
        items=[RefundItem(sale.lines[0].pk, Decimal("1"))],
        reason="cold",
        tender="points",
        user=manager,
    )

    doc = receipt_document(Receipt.objects.get(refund=record))

    assert doc.points == PointsLine(returned=200, reversed=5, balance=210 + 200 - 5)
    assert dict(doc.points_rows)["Points given back"] == "+200"


@pytest.mark.django_db
def test_the_guests_receipt_page_shows_the_points(client, paid_with_points):
    sale, _ = paid_with_points

    page = client.get(reverse("receipt-page", args=[sale.receipt.pk, sale.receipt.public_token]))

    body = page.content.decode()
    assert "Points earned" in body and "+10" in body and "Points balance" in body


@pytest.mark.django_db
def test_the_pos_receipt_screen_shows_the_points(paid_with_points, cashier, location):
    from orders.tests.pos_helpers import terminal

    sale, _ = paid_with_points
    browser = terminal(cashier, location=location)

    body = browser.get(reverse("billing:receipt", args=[sale.receipt.pk])).content.decode()

    assert "Points balance" in body and "210" in body
