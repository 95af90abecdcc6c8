"""Pay with points in a real browser: the customer's points on the pay screen, part paid with points, the rest in
cash, and the points on the receipt."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from billing import loyalty
from billing.models import Payment, Printer
from billing.tests.factories import CustomerFactory, RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.models import Order
from orders.services import NewLine, open_order
from orders.tests.e2e.test_pay_screen import WIDTHS, sign_in_and_open_the_till

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(location, tmp_path):
    location.loyalty_points_per_unit = Decimal("1")
    location.loyalty_point_value = Decimal("0.05")
    location.save()
    ProductFactory(
        name="Soup of the day",
        price=Decimal("12.00"),
        category=CategoryFactory(name="Lunch", location=location),
        tax_rate=TaxRateFactory(),
        stock_policy=Product.StockPolicy.ALLOW,
    )
    printer = Printer.objects.create(
        name="Receipts", connection="file", device_path=str(tmp_path / "printer.bin"), columns=32
    )
    RegisterFactory(location=location, name="Till 1", printer=printer)
    return location


def test_a_customer_pays_part_with_points_and_sees_the_new_balance_on_the_receipt(
    page, shop, cashier, manager, screenshot
):
    customer = CustomerFactory(name="Ada Lovelace")
    loyalty.adjust_points(customer_id=customer.pk, points=150, reason="welcome", user=manager)
    sign_in_and_open_the_till(page)
    soup = Product.objects.get(name="Soup of the day")
    order = open_order(location_id=shop.pk, user=cashier, lines=[NewLine(product_id=soup.pk)])
    Order.objects.filter(pk=order.pk).update(customer=customer)

    page.goto(reverse("billing:pay", args=[order.uuid]))
    expect(page.locator("[data-points-balance]")).to_contain_text("150 loyalty points · worth 7.50")
    page.click("button:has-text('Use 150 (7.50)')")
    expect(page.locator("#points")).to_have_value("150")
    page.click("label:has-text('Cash')")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"pay-with-points-{width}")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.fill("#amount_0", "5.00")
    expect(page.locator("[data-change-for]")).to_have_text("Change due: 0.50")
    page.click("button:has-text('Take payment')")

    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    assert list(Payment.objects.order_by("id").values_list("tender", "amount")) == [
        ("points", Decimal("7.50")),
        ("cash", Decimal("4.50")),
    ]
    points = page.locator(".receipt-paper [data-points]")
    expect(points.nth(0)).to_contain_text("Points redeemed")
    expect(points.nth(1)).to_contain_text("+4")
    expect(points.nth(2)).to_contain_text("4")
    screenshot(page, "receipt-with-points")
    assert loyalty.balance_of(customer.pk) == 4
