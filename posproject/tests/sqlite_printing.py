"""Run by test_sqlite_sales.py in a fresh process in `make run` mode (SQLite, no Redis: Celery eager): check out
over the API on a till whose receipt printer never reads (DEAF_PRINTER_PORT) and on one that prints
(PRINTER_PORT), with a job an earlier process left queued; print how long each checkout took and how each print job
ended, as one JSON line."""

import json
import os
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing import sessions  # noqa: E402
from billing.models import Printer, PrintJob, Register  # noqa: E402
from inventory.models import Location, Product, StockMove, TaxRate  # noqa: E402
from inventory.services import StockChange, apply_stock_changes  # noqa: E402
from staff.api_clients import create_api_client  # noqa: E402
from staff.models import StaffProfile  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
shop = Location.objects.create(code="shop", name="Shop")
tax = TaxRate.objects.create(name="Standard", percent=Decimal("20"))
tea = Product.objects.create(sku="TEA", name="Tea", price=Decimal("2.50"), cost=Decimal("1.00"), tax_rate=tax)
apply_stock_changes([StockChange(tea.pk, shop.pk, Decimal(10))], reason=StockMove.Reason.PURCHASE)
cashier = User.objects.create_user("carl")
cashier.groups.add(Group.objects.get(name="Cashier"))
StaffProfile.objects.create(user=cashier).locations.add(shop)
tills = {}
for name, port in (("deaf", os.environ["DEAF_PRINTER_PORT"]), ("healthy", os.environ["PRINTER_PORT"])):
    printer = Printer.objects.create(name=name, host="127.0.0.1", port=int(port))
    tills[name] = Register.objects.create(location=shop, name=f"Till {name}", printer=printer)
    sessions.open_session(register_id=tills[name].pk, user=cashier, opening_float="20.00")

# A job an earlier process left queued (stopped before its sender reached it): swept and sent, never lost.
left = PrintJob.objects.create(
    kind=PrintJob.Kind.REPORT, printer=tills["healthy"].printer, payload={"lines": ["Left queued"]}
)
PrintJob.objects.filter(pk=left.pk).update(updated_at=timezone.now() - timedelta(minutes=10))

api = Client(HTTP_AUTHORIZATION=f"Bearer {create_api_client(name='kiosk', scope='sell', locations=[shop])[1]}")
result = {"eager": settings.CELERY_TASK_ALWAYS_EAGER, "vendor": django.db.connection.vendor}
# The process's first request pays for imports and URL loading, which is not the printer's doing: a warm-up sale on
# a till with no printer goes first.
warm_up = Register.objects.create(location=shop, name="No printer")
sessions.open_session(register_id=warm_up.pk, user=cashier, opening_float="20.00")
for name, till in (("warm-up", warm_up), *tills.items()):
    body = {"register": till.pk, "lines": [{"product": tea.pk, "quantity": "1"}], "tenders": [{"tender": "card"}]}
    started = time.monotonic()
    response = api.post(
        "/api/v1/checkout/", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    result[name] = {"status": response.status_code, "seconds": round(time.monotonic() - started, 3)}

# The jobs end on their own after the response: wait for them (the deaf printer's within PRINT_SEND_TIMEOUT).
deadline = time.monotonic() + settings.PRINT_CONNECT_TIMEOUT + settings.PRINT_SEND_TIMEOUT + 20
final = (PrintJob.Status.PRINTED, PrintJob.Status.FAILED, PrintJob.Status.UNCERTAIN)
while time.monotonic() < deadline and PrintJob.objects.exclude(status__in=final).exists():
    time.sleep(0.1)
for name, till in tills.items():
    jobs = PrintJob.objects.filter(receipt__register=till)
    result[name]["jobs"] = list(jobs.values_list("status", flat=True))
    result[name]["error"] = jobs.values_list("last_error", flat=True).first()
result["left_queued"] = PrintJob.objects.get(pk=left.pk).status
print(json.dumps(result))
