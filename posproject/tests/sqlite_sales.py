"""Run by test_sqlite_sales.py in a fresh process on an empty SQLite file (the `make run` database): sell through
the services and the API, pay an open order, refund, and print what a test can check as one JSON line."""

import json
import uuid
from decimal import Decimal

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from billing import services, sessions  # noqa: E402
from billing.models import Payment, PrintJob, Receipt, Register  # noqa: E402
from inventory.models import Location, Product, StockLevel, StockMove, TaxRate  # noqa: E402
from inventory.selectors import ledger_mismatches  # noqa: E402
from inventory.services import StockChange, apply_stock_changes  # noqa: E402
from orders.models import Order, OrderLine  # noqa: E402
from orders.pricing import TenderInput  # noqa: E402
from orders.services import NewLine, open_order  # noqa: E402
from staff.api_clients import create_api_client  # noqa: E402
from staff.models import StaffProfile  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
shop = Location.objects.create(code="shop", name="Shop")
elsewhere = Location.objects.create(code="north", name="North")
tax = TaxRate.objects.create(name="Standard", percent=Decimal("20"))
tea = Product.objects.create(sku="TEA", name="Tea", price=Decimal("2.50"), cost=Decimal("1.00"), tax_rate=tax)
cake = Product.objects.create(sku="CAKE", name="Cake", price=Decimal("3.20"), cost=Decimal("1.10"), tax_rate=tax)
apply_stock_changes([StockChange(p.pk, shop.pk, Decimal(10)) for p in (tea, cake)], reason=StockMove.Reason.PURCHASE)
cashier = User.objects.create_user("carl")
cashier.groups.add(Group.objects.get(name="Cashier"))
StaffProfile.objects.create(user=cashier).locations.add(shop)
manager = User.objects.create_user("maria")
manager.groups.add(Group.objects.get(name="Manager"))
till = Register.objects.create(location=shop, name="Till 1")
other_till = Register.objects.create(location=elsewhere, name="Till 1")
sessions.open_session(register_id=till.pk, user=cashier, opening_float="20.00")

sale = services.sell(
    register_id=till.pk,
    user=cashier,
    lines=[NewLine(product_id=tea.pk, quantity=Decimal(2)), NewLine(product_id=cake.pk, quantity=Decimal(1))],
    tenders=[TenderInput("cash", tendered=Decimal("10.00"))],
)
order = open_order(location_id=shop.pk, user=cashier, lines=[NewLine(product_id=cake.pk, quantity=Decimal(2))])
paid = services.take_payment(order_id=order.pk, register_id=till.pk, tenders=[TenderInput("card")], user=cashier)

token = create_api_client(name="kiosk", scope="sell", locations=[shop])[1]
api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def checkout(register):
    body = {"register": register.pk, "lines": [{"product": tea.pk, "quantity": "1"}], "tenders": [{"tender": "card"}]}
    return api.post(
        "/api/v1/checkout/", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )


by_api, refused = checkout(till), checkout(other_till)
refund = services.refund(
    order_id=sale.order.pk,
    register_id=till.pk,
    items=[services.RefundItem(line_id=sale.lines[0].pk, quantity=Decimal(1))],
    reason="Spilt",
    user=manager,
)

print(
    json.dumps(
        {
            "vendor": connection.vendor,
            "change": str(sale.change),
            "sale_lines": [line.order_id == sale.order.pk for line in sale.lines],
            "sale_job_receipt": sale.print_job.receipt_id == sale.receipt.pk,
            "api_status": by_api.status_code,
            "api_receipt": by_api.json()["receipt"]["number"] if by_api.status_code == 201 else None,
            "refused_status": refused.status_code,
            "receipts": list(Receipt.objects.filter(register=till).order_by("number").values_list("number", "kind")),
            "paid_status": Order.objects.get(pk=paid.order.pk).status,
            "payments": Payment.objects.count(),
            "lines": OrderLine.objects.count(),
            "jobs": list(PrintJob.objects.order_by("id").values_list("receipt__number", "status")),
            "on_hand": {p.sku: str(StockLevel.objects.get(product=p, location=shop).on_hand) for p in (tea, cake)},
            "ledger_mismatches": len(list(ledger_mismatches())),
            "last_receipt_number": Register.objects.get(pk=till.pk).last_receipt_number,
        }
    )
)
