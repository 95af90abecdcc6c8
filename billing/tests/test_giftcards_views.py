"""The gift-card POS screens: the payment screen's gift-card box, the balance check, selling a card, the receipt."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import GiftCard, Receipt
from billing.tests.factories import GiftCardFactory
from inventory.models import Product
from inventory.tests.factories import ProductFactory
from orders import services
from orders.models import Order
from orders.tests.pos_helpers import open_till, product, terminal

pytestmark = pytest.mark.django_db


def _order_of(user, location, *items) -> Order:
    order = services.open_order(location_id=location.pk, user=user)
    services.add_lines(order.pk, user=user, lines=[services.NewLine(product_id=item.pk) for item in items])
    order.refresh_from_db()
    return order


def _pay(client, order, **fields):
    key = client.get(reverse("billing:pay", args=[order.uuid])).context["key"]
    return client.post(
        reverse("billing:pay", args=[order.uuid]), {"key": key, "rows": "1", "tender_0": "cash", **fields}
    )


def test_half_paid_with_a_gift_card_and_half_in_cash_shows_the_balance_left_on_the_receipt(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=location)
    order = _order_of(cashier, location, product(location, price="20.00"))

    response = _pay(client, order, gift_card_code=card.code, gift_card_amount="10.00", amount_0="10.00")

    assert response.status_code == 302, response.content.decode()[:500]
    receipt = Receipt.objects.get(order=order)
    assert [(p.tender, p.amount) for p in receipt.order.payments.all()] == [
        ("gift_card", Decimal("10.00")),
        ("cash", Decimal("10.00")),
    ]
    page = client.get(reverse("billing:receipt", args=[receipt.pk]))
    assert page.context["doc"].tenders[0].balance_left == Decimal("20.00")
    assert b"data-card-balance-left" in page.content


def test_a_gift_card_refused_on_the_payment_screen_keeps_what_was_typed(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    card = GiftCardFactory(balance=Decimal("5.00"), issued_at=location)
    order = _order_of(cashier, location, product(location, price="20.00"))

    response = _pay(client, order, gift_card_code=card.code, gift_card_amount="10.00")

    assert response.status_code == 400
    assert b"holds 5.00" in response.content
    assert card.code.encode() in response.content
    card.refresh_from_db()
    assert card.balance == Decimal("5.00")


def test_the_balance_check_shows_what_a_card_holds_and_what_it_will_hold_after_paying(cashier, location):
    client = terminal(cashier)
    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=location)

    response = client.post(reverse("billing:gift_card_balance"), {"code": card.code, "due": "12.00"})

    assert response.status_code == 200
    assert (response.context["pays"], response.context["left"]) == (Decimal("12.00"), Decimal("18.00"))


def test_the_balance_check_of_an_unknown_code_says_so(cashier, location):
    client = terminal(cashier)

    response = client.post(reverse("billing:gift_card_balance"), {"code": "NOT-A-CARD"})

    assert response.status_code == 404
    assert b"No gift card with this code" in response.content


def test_selling_a_gift_card_opens_an_order_to_pay_and_paying_it_prints_the_card_code(cashier, location):
    client = terminal(cashier)
    open_till(client, location, cashier)
    ProductFactory(kind=Product.Kind.GIFT_CARD, name="Gift card", price=Decimal("0"))

    response = client.post(reverse("billing:gift_card_sell"), {"amount": "40.00"})

    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("billing:pay", args=[order.uuid])
    assert (order.total, order.tax_total) == (Decimal("40.00"), Decimal("0.00"))
    _pay(client, order)
    card = GiftCard.objects.get()
    page = client.get(reverse("billing:receipt", args=[Receipt.objects.get(order=order).pk]))
    assert [(c.code.replace("-", ""), c.balance) for c in page.context["doc"].gift_cards] == [
        (card.code, Decimal("40.00"))
    ]


def test_selling_a_gift_card_without_an_amount_is_refused_with_a_message(cashier, location):
    client = terminal(cashier)
    ProductFactory(kind=Product.Kind.GIFT_CARD, name="Gift card", price=Decimal("0"))

    response = client.post(reverse("billing:gift_card_sell"), {"amount": ""})

    assert response.status_code == 400
    assert b"Enter the gift card" in response.content
    assert not Order.objects.exists()


# --- admin -------------------------------------------------------------------------------------------------------


def test_the_admin_shows_a_card_with_its_ledger(manager, location):
    from django.test import Client

    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=location)
    browser = Client()
    browser.force_login(manager)

    page = browser.get(reverse("admin:billing_giftcard_change", args=[card.pk]))

    assert page.status_code == 200
    assert b"Issued" in page.content and b"Adjust balance" in page.content


def test_a_manager_adjusts_a_card_in_the_admin_with_a_reason(manager, location):
    from django.test import Client

    from staff.models import AuditEvent

    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=location)
    browser = Client()
    browser.force_login(manager)

    response = browser.post(
        reverse("admin:billing_giftcard_adjust", args=[card.pk]), {"amount": "-7.50", "reason": "double issue"}
    )

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.balance == Decimal("22.50")
    assert AuditEvent.objects.filter(action="gift_card_adjusted", actor=manager, reason="double issue").exists()


def test_an_admin_adjustment_below_zero_is_refused_and_changes_nothing(manager, location):
    from django.test import Client

    card = GiftCardFactory(balance=Decimal("3.00"), issued_at=location)
    browser = Client()
    browser.force_login(manager)

    response = browser.post(reverse("admin:billing_giftcard_adjust", args=[card.pk]), {"amount": "-5", "reason": "x"})

    assert response.status_code == 200
    assert b"holds 3.00" in response.content
    card.refresh_from_db()
    assert card.balance == Decimal("3.00")


# --- reports -----------------------------------------------------------------------------------------------------


def _meal_and_card_sold(cashier, location):
    from billing.services import sell
    from orders.pricing import TenderInput
    from orders.tests.helpers import line, open_register, stocked_product

    till = open_register(location)
    gift_card = ProductFactory(kind=Product.Kind.GIFT_CARD, name="Gift card", price=Decimal("0"))
    return sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(stocked_product(location, price="12.00")), line(gift_card, unit_price=Decimal("25.00"))],
        tenders=[TenderInput("cash")],
    )


def test_the_sales_report_screen_shows_the_gift_card_liability_apart_from_sales(manager, cashier, location):
    from django.test import Client
    from django.utils import timezone

    _meal_and_card_sold(cashier, location)
    browser = Client()
    browser.force_login(manager)
    today = timezone.localdate().isoformat()

    page = browser.get(f"/reports/?location={location.pk}&date_from={today}&date_to={today}")

    assert page.status_code == 200
    assert page.context["summary"]["sales"] == Decimal("12.00")
    assert (page.context["gift_cards"]["sold"], page.context["gift_cards"]["outstanding"]) == (
        Decimal("25.00"),
        Decimal("25.00"),
    )
    assert b"Gift cards sold (liability)" in page.content


def test_the_z_report_shows_gift_cards_sold_apart_from_sales_on_screen_and_on_paper(manager, cashier, location):
    from billing import sessions
    from billing.report_printout import report_lines

    sale = _meal_and_card_sold(cashier, location)

    z = sessions.close_session(session_id=sale.receipt.session_id, denominations={"50": 1}, user=manager)

    assert (z.net_sales, z.tax_total) == (Decimal("12.00"), Decimal("2.00"))
    assert z.data["gift_cards"]["sold"] == "25.00"
    paper = "\n".join(report_lines({**z.data, "kind": "z", "number": z.number}, copy=False))
    assert "GIFT CARDS (money owed, not sales)" in paper
    assert " Sold (liability)" in paper
