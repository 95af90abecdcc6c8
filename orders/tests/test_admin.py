import pytest
from django.test import Client

from billing.services import sell
from orders.pricing import TenderInput
from orders.services import open_order
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(manager):
    manager.is_superuser = True
    manager.save()
    client = Client()
    client.force_login(manager)
    return client


def test_orders_are_found_by_receipt_number_in_the_admin(admin_client, location, cashier):
    till = open_register(location)
    product = stocked_product(location)
    sales = [
        sell(register_id=till.pk, user=cashier, lines=[line(product)], tenders=[TenderInput("cash")]) for _ in "ab"
    ]

    response = admin_client.get("/admin/orders/order/", {"q": "2"})

    assert response.status_code == 200
    assert str(sales[1].order.uuid)[:8] in response.text
    if not str(sales[0].order.uuid).startswith("2"):  # a search term also matches the start of the uuid
        assert str(sales[0].order.uuid)[:8] not in response.text
    assert admin_client.get("/admin/orders/order/", {"q": "no-such"}).status_code == 200


def test_a_paid_order_is_read_only_in_the_admin_and_an_open_one_lets_the_note_change(admin_client, location, cashier):
    till = open_register(location)
    sale = sell(
        register_id=till.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[TenderInput("cash")]
    )
    open_one = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location))])

    paid_page = admin_client.get(f"/admin/orders/order/{sale.order.pk}/change/")
    posted = admin_client.post(f"/admin/orders/order/{sale.order.pk}/change/", {"note": "edited"})
    open_page = admin_client.get(f"/admin/orders/order/{open_one.pk}/change/")

    assert paid_page.status_code == 200
    assert 'name="note"' not in paid_page.text
    assert posted.status_code == 403
    sale.order.refresh_from_db()
    assert sale.order.note == ""
    assert 'name="note"' in open_page.text


@pytest.mark.parametrize("page", ["billing/payment", "billing/receipt", "billing/refund", "orders/kitchenticket"])
def test_sales_records_are_listed_but_cannot_be_added(admin_client, page):
    assert admin_client.get(f"/admin/{page}/").status_code == 200
    assert admin_client.get(f"/admin/{page}/add/").status_code == 403


def test_receipts_are_searched_by_number(admin_client, location, cashier):
    till = open_register(location)
    sell(register_id=till.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[TenderInput("card")])

    assert admin_client.get("/admin/billing/receipt/", {"q": "1"}).status_code == 200
    assert admin_client.get("/admin/billing/receipt/", {"q": "abc"}).status_code == 200
