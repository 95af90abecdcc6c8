"""Paying half with a gift card and half in cash on the payment screen, in a real browser."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.giftcards import display_code
from billing.models import GiftCard, Payment
from billing.tests.factories import GiftCardFactory, RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.tests.e2e.test_pay_screen import ring_up, sign_in_and_open_the_till

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 768, 390)


@pytest.fixture
def shop(location):
    category = CategoryFactory(name="Lunch", location=location, sort_order=1)
    ProductFactory(
        name="Lunch menu",
        price=Decimal("20.00"),
        category=category,
        tax_rate=TaxRateFactory(),
        stock_policy=Product.StockPolicy.ALLOW,
    )
    RegisterFactory(location=location, name="Till 1")
    return location


def test_half_paid_with_a_gift_card_and_half_in_cash_leaves_the_card_balance_on_the_receipt(
    page, shop, cashier, screenshot
):
    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=shop)
    sign_in_and_open_the_till(page)
    ring_up(page, "Lunch menu", "20.00")

    page.fill("#gift_card_code", display_code(card.code).lower())
    page.fill("#gift_card_amount", "10.00")
    page.click("[data-gift-card-check]")
    expect(page.locator("[data-gift-card-holds]")).to_have_text("30.00")
    expect(page.locator("[data-gift-card-left]")).to_have_text("20.00")
    page.fill("#amount_0", "10.00")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"pay-gift-card-{width}")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.click("button:has-text('Take payment')")

    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    expect(page.locator("[data-card-balance-left]")).to_contain_text("20.00")
    assert sorted(Payment.objects.values_list("tender", "amount")) == [
        ("cash", Decimal("10.00")),
        ("gift_card", Decimal("10.00")),
    ]
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("20.00")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        screenshot(page, f"receipt-gift-card-{width}")


def test_an_unknown_card_code_is_said_on_the_payment_screen_and_nothing_is_paid(page, shop, cashier, screenshot):
    sign_in_and_open_the_till(page)
    ring_up(page, "Lunch menu", "20.00")

    page.fill("#gift_card_code", "0000-0000-0000-0000")
    page.click("[data-gift-card-check]")

    expect(page.locator("[data-gift-card-error]")).to_contain_text("No gift card with this code")
    assert not Payment.objects.exists()
