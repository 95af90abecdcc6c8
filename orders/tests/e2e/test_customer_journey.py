"""A known customer at the counter, in a real browser: the cashier finds her by phone on the order screen, attaches
her, she pays half with a gift card and half in cash, and her receipt page shows the points she earned and what is
left on the card. Screenshots: test-artifacts/screenshots/journey-*.png."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from billing import loyalty
from billing.giftcards import display_code
from billing.models import GiftCard, Payment, Receipt
from billing.tests.factories import GiftCardFactory, RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.models import Order
from orders.tests.e2e.test_pay_screen import sign_in_and_open_the_till
from orders.tests.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 768, 390)


@pytest.fixture
def shop(location):
    location.loyalty_points_per_unit = Decimal("1")
    location.loyalty_point_value = Decimal("0.05")
    location.save()
    ProductFactory(
        name="Lunch menu",
        price=Decimal("20.00"),
        category=CategoryFactory(name="Lunch", location=location, sort_order=1),
        tax_rate=TaxRateFactory(),
        stock_policy=Product.StockPolicy.ALLOW,
    )
    RegisterFactory(location=location, name="Till 1")
    return location


def shoot_all(page, screenshot, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_customer_found_by_phone_pays_half_by_gift_card_half_in_cash_and_sees_her_points_on_the_receipt_page(
    page, shop, cashier, screenshot
):
    ada = CustomerFactory(name="Ada Lovelace", phone="07700900123", email="ada@example.com")
    CustomerFactory(name="Adam Other", phone="07800900123")
    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=shop)
    sign_in_and_open_the_till(page)

    page.click("text=Quick sale")
    page.click("[data-product] >> text=Lunch menu")
    expect(page.locator('[data-total="total"]')).to_have_text("20.00")
    page.click("summary:has-text('+ Customer')")
    page.fill("#customer-q", "07700 900")
    results = page.locator("#customer-results li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Ada Lovelace")
    results.first.locator("button:has-text('Attach')").click()
    expect(page.locator("#ticket .customer-row")).to_contain_text("Customer: Ada Lovelace")
    shoot_all(page, screenshot, "journey-customer")

    page.click("text=Pay 20.00")
    expect(page.locator("h1")).to_contain_text("to pay")
    page.fill("#gift_card_code", display_code(card.code))
    page.fill("#gift_card_amount", "10.00")
    page.click("[data-gift-card-check]")
    expect(page.locator("[data-gift-card-left]")).to_have_text("20.00")
    page.fill("#amount_0", "10.00")
    shoot_all(page, screenshot, "journey-pay")
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")

    order = Order.objects.get()
    assert order.customer_id == ada.pk and order.status == Order.Status.PAID
    assert sorted(Payment.objects.values_list("tender", "amount")) == [
        ("cash", Decimal("10.00")),
        ("gift_card", Decimal("10.00")),
    ]
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("20.00")
    assert loyalty.balance_of(ada.pk) == 20

    receipt = Receipt.objects.get(order=order)
    page.goto(reverse("receipt-page", args=[receipt.pk, receipt.public_token]))
    slip = page.locator("[data-receipt]")
    expect(slip).to_contain_text("Lunch menu")
    expect(slip).to_contain_text("20.00")
    expect(slip).to_contain_text("Card balance left")
    points = slip.locator("[data-points]")
    expect(points).to_contain_text("Points earned")
    expect(points).to_contain_text("+20")
    expect(points).to_contain_text("Points balance")
    shoot_all(page, screenshot, "journey-receipt-page")
