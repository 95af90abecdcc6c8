"""Upgrading a database of the old layout (staff models in inventory, idempotency records in orders) keeps every row.

The test database is migrated back to the last migrations before `core` and `staff` existed, filled through the
historical models, and migrated forward again: rows, API tokens, PINs and the roles' permissions must all come
through. It leaves the database migrated forward.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import RequestFactory

from staff.api_clients import TOKEN_PREFIX, hash_token

# The newest migration of each app before the move; `core` and `staff` did not exist.
OLD_LEAVES = [
    ("inventory", "0007_store_money_caps_and_quantity_places"),
    ("orders", "0002_line_price_shares_and_merged_status"),
    ("billing", "0002_printer_code_page_and_print_job_resolution"),
    ("ops", "0002_backup_database_manifest_and_drill_migrations"),
]
OLD_TARGETS = [("staff", None), ("core", None), *OLD_LEAVES]
PIN = "284617"
TOKEN = f"{TOKEN_PREFIX}0a1b2c3d4e5f_an-old-token-issued-before-the-move"


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def _fill_old_schema(apps) -> dict:
    """One row in every moved table, and a paid order with its payment and receipt, through the old models."""
    User = apps.get_model("auth", "User")
    Group = apps.get_model("auth", "Group")
    Location = apps.get_model("inventory", "Location")
    TaxRate = apps.get_model("inventory", "TaxRate")
    Product = apps.get_model("inventory", "Product")

    manager = User.objects.create(username="old-manager", password=make_password("secret-pass-123"))
    manager.groups.add(Group.objects.get(name="Manager"))
    cashier = User.objects.create(username="old-cashier", password=make_password("secret-pass-123"))
    cashier.groups.add(Group.objects.get(name="Cashier"))
    store = Location.objects.create(code="old-store", name="Old store")
    tax = TaxRate.objects.create(name="Old VAT", percent=Decimal("20.000"))
    product = Product.objects.create(sku="OLD-1", name="Old coffee", price=Decimal("3.00"), tax_rate=tax)

    profile = apps.get_model("inventory", "StaffProfile").objects.create(user=cashier, pin_hash=make_password(PIN))
    profile.locations.add(store)
    client_user = User.objects.create(username="api-0a1b2c3d4e5f", first_name="web shop")
    client_user.groups.add(Group.objects.get(name="Cashier"))
    api_client = apps.get_model("inventory", "ApiClient").objects.create(
        name="web shop", user=client_user, scope="sell", prefix="0a1b2c3d4e5f", token_hash=hash_token(TOKEN)
    )
    api_client.locations.add(store)
    audit = apps.get_model("inventory", "AuditEvent").objects.create(
        action="api_client_created", actor=manager, location=store, object_type="inventory.apiclient", reason="old"
    )
    key = apps.get_model("orders", "IdempotencyRecord").objects.create(
        scope=f"user:{cashier.pk}", key="old-key", endpoint="checkout", request_hash="0" * 64, response_status=201
    )

    order = apps.get_model("orders", "Order").objects.create(
        location=store, staff=cashier, status="paid", subtotal=Decimal("3.00"), total=Decimal("3.00")
    )
    line = apps.get_model("orders", "OrderLine").objects.create(
        order=order,
        product=product,
        name="Old coffee",
        unit_price=Decimal("3.00"),
        tax_rate_name="Old VAT",
        tax_rate_percent=Decimal("20.000"),
        quantity=Decimal("1"),
        line_total=Decimal("3.00"),
        amount_due=Decimal("3.00"),
        added_by=cashier,
    )
    register = apps.get_model("billing", "Register").objects.create(location=store, name="Till 1")
    session = apps.get_model("billing", "CashSession").objects.create(register=register, opened_by=cashier)
    payment = apps.get_model("billing", "Payment").objects.create(
        order=order,
        session=session,
        tender="card",
        amount=Decimal("3.00"),
        tendered=Decimal("3.00"),
        created_by=cashier,
    )
    receipt = apps.get_model("billing", "Receipt").objects.create(
        register=register, number=1, order=order, session=session
    )
    return {
        "manager": manager.pk,
        "cashier": cashier.pk,
        "profile": profile.pk,
        "api_client": api_client.pk,
        "audit": audit.pk,
        "key": key.pk,
        "order": order.pk,
        "line": line.pk,
        "payment": payment.pk,
        "receipt": receipt.pk,
        "store": store.pk,
    }


@pytest.mark.django_db(transaction=True)
def test_an_old_database_keeps_every_row_token_pin_and_permission_after_the_move():
    executor = _migrate(OLD_TARGETS)
    old = executor.loader.project_state(OLD_LEAVES).apps
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    old_type = ContentType.objects.get_or_create(app_label="inventory", model="staffprofile")[0]
    change_profile = Permission.objects.get_or_create(
        content_type=old_type, codename="change_staffprofile", defaults={"name": "Can change staff profile"}
    )[0]
    old.get_model("auth", "Group").objects.get(name="Manager").permissions.add(change_profile)
    ids = _fill_old_schema(old)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from django.contrib.auth.models import Group, User
    from django.contrib.contenttypes.models import ContentType

    from billing.models import Payment, Receipt
    from core.models import IdempotencyRecord
    from orders.models import Order, OrderLine
    from staff.auth import ApiTokenAuthentication
    from staff.models import ApiClient, AuditEvent, StaffProfile
    from staff.pins import verify_pin

    ContentType.objects.clear_cache()
    profile = StaffProfile.objects.get(pk=ids["profile"])
    assert list(profile.locations.values_list("pk", flat=True)) == [ids["store"]]
    assert AuditEvent.objects.get(pk=ids["audit"]).actor_id == ids["manager"]
    assert IdempotencyRecord.objects.get(pk=ids["key"]).key == "old-key"
    assert ApiClient.objects.get(pk=ids["api_client"]).locations.get().pk == ids["store"]
    assert Order.objects.get(pk=ids["order"]).status == "paid"
    assert OrderLine.objects.get(pk=ids["line"]).order_id == ids["order"]
    assert Payment.objects.get(pk=ids["payment"]).amount == Decimal("3.00")
    assert Receipt.objects.get(pk=ids["receipt"]).number == 1

    request = RequestFactory().get("/api/v1/products/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    user, client = ApiTokenAuthentication().authenticate(request)
    assert (user.username, client.pk) == ("api-0a1b2c3d4e5f", ids["api_client"])

    assert verify_pin(user_id=ids["cashier"], pin=PIN, purpose="switch").pk == ids["cashier"]

    # The permission row itself moved with its content type: the Manager's grant still holds, under `staff`.
    moved_type = ContentType.objects.get(app_label="staff", model="staffprofile")
    assert moved_type.pk == old_type.pk
    assert not ContentType.objects.filter(app_label="inventory", model="staffprofile").exists()
    assert Group.objects.get(name="Manager").permissions.filter(pk=change_profile.pk).exists()
    assert User.objects.get(pk=ids["manager"]).has_perm("staff.change_staffprofile")
