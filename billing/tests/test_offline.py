"""Offline selling, server side (issue 22): the catalogue snapshot and the batch sync of queued sales."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from billing import offline
from billing.models import CashSession, OfflineSale, Payment, PrintJob, Receipt
from billing.sessions import close_session
from inventory.models import Product, StockLevel
from orders import pricing
from orders.models import ModifierGroup, ModifierOption, Order
from orders.tests.pos_helpers import open_till, product, terminal
from staff import terminals as staff_terminals
from staff.models import AuditEvent, Terminal

pytestmark = pytest.mark.django_db

SYNC = "/pos/offline/sync/"
CATALOGUE = "/pos/offline/catalogue/"
HEARTBEAT = "/pos/offline/heartbeat/"

alerts: list[tuple[str, str, dict]] = []


def collect(event, message, data):
    alerts.append((event, message, data))


@pytest.fixture
def notifications(settings):
    alerts.clear()
    settings.NOTIFIER = f"{__name__}.collect"
    return alerts


@pytest.fixture
def till(location, cashier):
    """A paired terminal signed in as the cashier, its register with an open cash session."""
    device = terminal(cashier, location=location)
    device.register = open_till(device, location, cashier)
    return device


@pytest.fixture
def cola(location):
    return product(location, name="Cola", price="3.50", on_hand="500")


def block_product(location) -> Product:
    """A product that may not be sold below zero, with one left."""
    item = product(location, name="Last cake", price="5.00", on_hand="1")
    Product.objects.filter(pk=item.pk).update(stock_policy=Product.StockPolicy.BLOCK)
    StockLevel.objects.filter(product=item).update(allow_negative=False)
    item.refresh_from_db()
    return item


def device_sale(items, *, staff, sequence=1, key=None, made_at=None, tenders=None, totals=None, prices=None):
    """A sale as the device queues it: `items` are (product, quantity); priced as the device would (the port of
    orders/pricing.py gives the same figures), at the catalogue prices it holds (`prices` overrides them)."""
    prices = prices or {}
    lines = []
    inputs = []
    for item, quantity in items:
        price = prices.get(item.pk, item.price)
        lines.append(
            {
                "product": item.pk,
                "quantity": str(quantity),
                "unit_price": str(price),
                "tax_percent": str(item.tax_rate.percent),
                "modifiers": [],
            }
        )
        inputs.append(
            pricing.LineInput(unit_price=price, quantity=Decimal(quantity), tax_percent=item.tax_rate.percent)
        )
    priced = pricing.price_order(inputs, prices_include_tax=True)
    shown = totals or {
        "subtotal": str(priced.subtotal),
        "discount": str(priced.discount_total),
        "service_charge": str(priced.service_charge),
        "tax": str(priced.tax_total),
        "total": str(priced.total),
    }
    return {
        "key": key or str(uuid.uuid4()),
        "sequence": sequence,
        "made_at": (made_at or timezone.now() - timedelta(minutes=5)).isoformat(),
        "staff": staff.pk,
        "channel": "retail",
        "lines": lines,
        "tenders": tenders or [{"tender": "cash", "tendered": str(priced.total + 10)}],
        "totals": shown,
    }


def post(client, sales, queue=None):
    body = {"sales": sales}
    if queue is not None:
        body["queue"] = queue
    return client.post(SYNC, data=json.dumps(body), content_type="application/json")


def outcomes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [result["outcome"] for result in response.json()["results"]]


# --- Exactly once --------------------------------------------------------------------------------------------------


def test_twenty_queued_sales_are_applied_once_with_consecutive_receipt_numbers_and_twenty_print_jobs(
    till, cashier, cola
):
    sales = [device_sale([(cola, 1 + i % 3)], staff=cashier, sequence=i + 1) for i in range(20)]

    response = post(till, sales)

    assert outcomes(response) == ["applied"] * 20
    numbers = [result["receipt"] for result in response.json()["results"]]
    assert numbers == list(range(numbers[0], numbers[0] + 20))
    assert Order.objects.filter(status=Order.Status.PAID).count() == 20
    assert PrintJob.objects.filter(kind=PrintJob.Kind.RECEIPT, receipt__number__in=numbers).count() == 20
    assert sorted(Receipt.objects.values_list("number", flat=True)) == numbers


def test_each_applied_sale_keeps_its_provisional_reference_and_device_time(till, cashier, cola):
    made = timezone.now() - timedelta(hours=1)
    sale = device_sale([(cola, 2)], staff=cashier, sequence=42, made_at=made)

    result = post(till, [sale]).json()["results"][0]

    record = OfflineSale.objects.get(key=sale["key"])
    assert result["reference"] == record.reference == f"T{till.pos_terminal.pk}-000042"
    assert record.made_at == made and record.received_at > made
    assert record.order.offline_sale == record and str(record.order.uuid) == result["order"]
    assert record.order.staff == cashier


def test_the_same_batch_posted_twice_applies_each_sale_once(till, cashier, cola):
    sales = [device_sale([(cola, 1)], staff=cashier, sequence=i + 1) for i in range(10)]
    first = post(till, sales).json()["results"]

    again = post(till, sales)

    assert outcomes(again) == ["already_applied"] * 10
    assert [r["receipt"] for r in again.json()["results"]] == [r["receipt"] for r in first]
    assert Order.objects.count() == 10 and Payment.objects.count() == 10 and PrintJob.objects.count() == 10


def test_a_sync_interrupted_after_five_sales_resumes_without_doubling_any(till, cashier, cola):
    sales = [device_sale([(cola, 1)], staff=cashier, sequence=i + 1) for i in range(10)]
    post(till, sales[:5])

    response = post(till, sales)

    assert outcomes(response) == ["already_applied"] * 5 + ["applied"] * 5
    assert Order.objects.count() == 10 and Receipt.objects.count() == 10 and PrintJob.objects.count() == 10


def test_a_key_sent_again_with_another_sale_is_rejected_and_changes_nothing(till, cashier, cola):
    sale = device_sale([(cola, 1)], staff=cashier)
    post(till, [sale])
    other = {**sale, "lines": [{**sale["lines"][0], "quantity": "5"}]}

    response = post(till, [other])

    assert outcomes(response) == ["rejected"]
    assert response.json()["results"][0]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_the_snapshot_names_the_next_provisional_sequence_after_a_sync(till, cashier, cola):
    response = post(till, [device_sale([(cola, 1)], staff=cashier, sequence=7)])

    assert response.json()["next_sequence"] == 8
    assert json.loads(till.get(CATALOGUE).content)["terminal"]["next_sequence"] == 8


# --- Conflicts -----------------------------------------------------------------------------------------------------


def test_a_price_changed_on_the_server_keeps_the_price_the_guest_paid_and_flags_the_sale(till, cashier, cola):
    sale = device_sale([(cola, 2)], staff=cashier)  # sold at 3.50 while offline
    Product.objects.filter(pk=cola.pk).update(price=Decimal("4.00"))

    result = post(till, [sale]).json()["results"][0]

    order = Order.objects.get()
    assert result["outcome"] == "applied" and result["flags"] == ["price_changed"]
    assert order.total == Decimal("7.00") and order.lines.get().unit_price == Decimal("3.50")
    flag = OfflineSale.objects.get().flags[0]
    assert flag["catalogue"] == "4.0000" and flag["sold_at"] == "3.50"


def test_a_tax_rate_changed_on_the_server_keeps_the_rate_the_sale_was_made_at_and_flags_it(till, cashier, cola):
    sale = device_sale([(cola, 1)], staff=cashier)
    cola.tax_rate.percent = Decimal("10.000")
    cola.tax_rate.save()

    result = post(till, [sale]).json()["results"][0]

    assert result["flags"] == ["tax_changed"]
    assert Order.objects.get().lines.get().tax_rate_percent == Decimal("20.000")


def test_totals_the_server_computes_differently_from_the_device_are_flagged_not_corrected(till, cashier, cola):
    sale = device_sale([(cola, 2)], staff=cashier)
    sale["totals"] = {**sale["totals"], "tax": "1.20"}  # the device showed a wrong tax

    result = post(till, [sale]).json()["results"][0]

    assert result["outcome"] == "applied" and result["flags"] == ["totals_differ"]
    differ = OfflineSale.objects.get().flags[0]["totals"]
    assert differ == {"tax": {"server": "1.1700", "device": "1.20"}} or set(differ) == {"tax"}
    assert Order.objects.get().tax_total != Decimal("1.20")


def test_a_block_product_sold_below_zero_offline_is_accepted_flagged_and_alerted(
    till, cashier, location, notifications, django_capture_on_commit_callbacks
):
    last = block_product(location)

    with django_capture_on_commit_callbacks(execute=True):
        result = post(till, [device_sale([(last, 3)], staff=cashier)]).json()["results"][0]

    assert result["outcome"] == "applied" and result["flags"] == ["oversold"]
    assert StockLevel.objects.get(product=last, location=location).on_hand == Decimal("-2")
    assert AuditEvent.objects.filter(action="oversold_offline").count() == 1
    assert [event for event, _, _ in notifications] == ["offline_oversold"]


def test_a_block_product_oversold_offline_still_blocks_the_next_online_sale(till, cashier, location):
    from billing.services import sell
    from inventory.services import OutOfStock
    from orders.services import NewLine

    last = block_product(location)
    post(till, [device_sale([(last, 2)], staff=cashier)])

    with pytest.raises(OutOfStock):
        sell(
            register_id=till.register.pk,
            user=cashier,
            lines=[NewLine(product_id=last.pk)],
            tenders=[pricing.TenderInput(tender="cash", tendered=Decimal("5.00"))],
        )


def test_a_revoked_terminals_sales_are_held_for_review_not_applied(till, cashier, cola, manager):
    staff_terminals.revoke(terminal_id=till.pos_terminal.pk, actor=manager)

    response = post(till, [device_sale([(cola, 1)], staff=cashier)])

    assert outcomes(response) == ["held"]
    assert response.json()["results"][0]["code"] == "terminal_revoked"
    assert Order.objects.count() == 0
    assert OfflineSale.objects.get().status == OfflineSale.Status.HELD


def test_a_revoked_terminal_gets_no_catalogue(till, manager):
    staff_terminals.revoke(terminal_id=till.pos_terminal.pk, actor=manager)

    response = till.get(CATALOGUE)

    assert response.status_code == 403 and response.json()["code"] == "not_paired"


def test_a_manager_applies_a_held_sale_from_a_revoked_terminal(till, cashier, cola, manager):
    staff_terminals.revoke(terminal_id=till.pos_terminal.pk, actor=manager)
    post(till, [device_sale([(cola, 2)], staff=cashier)])
    held = OfflineSale.objects.get()

    record = offline.apply_held(offline_sale_id=held.pk, manager=manager, note="Tablet was stolen after this")

    assert record.status == OfflineSale.Status.APPLIED and record.reviewed_by == manager
    assert record.order.status == Order.Status.PAID and record.order.receipts.count() == 1
    assert AuditEvent.objects.filter(action="offline_sale_reviewed", data__decision="applied").exists()


def test_a_sale_into_a_closed_cash_session_is_held_then_applied_once_a_session_is_open(till, cashier, cola, manager):
    from billing import sessions

    session = CashSession.objects.get(register=till.register, status=CashSession.Status.OPEN)
    close_session(session_id=session.pk, user=manager, denominations={"50": 2})
    post(till, [device_sale([(cola, 1)], staff=cashier)])
    held = OfflineSale.objects.get()
    assert held.status == OfflineSale.Status.HELD and held.reason == "no_open_session"

    sessions.open_session(register_id=till.register.pk, user=manager, opening_float=Decimal("50"))
    offline.apply_held(offline_sale_id=held.pk, manager=manager)

    assert Order.objects.get().status == Order.Status.PAID


def test_a_held_sale_cannot_be_applied_while_the_session_is_still_closed(till, cashier, cola, manager):
    from core.errors import DomainError

    session = CashSession.objects.get(register=till.register, status=CashSession.Status.OPEN)
    close_session(session_id=session.pk, user=manager, denominations={"50": 2})
    post(till, [device_sale([(cola, 1)], staff=cashier)])

    with pytest.raises(DomainError) as refused:
        offline.apply_held(offline_sale_id=OfflineSale.objects.get().pk, manager=manager)

    assert refused.value.code == "no_open_session"
    assert OfflineSale.objects.get().status == OfflineSale.Status.HELD and Order.objects.count() == 0


def test_a_manager_rejects_a_held_sale_with_a_reason(till, cashier, cola, manager):
    staff_terminals.revoke(terminal_id=till.pos_terminal.pk, actor=manager)
    post(till, [device_sale([(cola, 1)], staff=cashier)])

    record = offline.reject_held(offline_sale_id=OfflineSale.objects.get().pk, manager=manager, note="Test sale")

    assert record.status == OfflineSale.Status.REJECTED and Order.objects.count() == 0


def test_a_cashier_cannot_review_a_held_sale(till, cashier, cola, manager):
    from core.errors import ApprovalRequired

    staff_terminals.revoke(terminal_id=till.pos_terminal.pk, actor=manager)
    post(till, [device_sale([(cola, 1)], staff=cashier)])

    with pytest.raises(ApprovalRequired):
        offline.apply_held(offline_sale_id=OfflineSale.objects.get().pk, manager=cashier)


def test_a_sale_by_someone_who_does_not_work_at_the_store_is_held(till, cashier, cola):
    from inventory.tests.factories import LocationFactory
    from staff.tests.factories import StaffProfileFactory, UserFactory

    stranger = UserFactory(username="elsewhere", role="Cashier")
    StaffProfileFactory(user=stranger).locations.add(LocationFactory(code="other"))

    response = post(till, [device_sale([(cola, 1)], staff=stranger)])

    assert outcomes(response) == ["held"] and response.json()["results"][0]["code"] == "staff_not_allowed"


@pytest.mark.parametrize("offset", [timedelta(hours=1), -timedelta(days=8)], ids=["future", "too-old"])
def test_a_sale_whose_device_time_is_out_of_bounds_is_held(till, cashier, cola, offset):
    sale = device_sale([(cola, 1)], staff=cashier, made_at=timezone.now() + offset)

    response = post(till, [sale])

    assert outcomes(response) == ["held"] and response.json()["results"][0]["code"] == "time_out_of_bounds"


def test_a_held_sale_replayed_is_reported_held_again_not_applied(till, cashier, cola, manager):
    staff_terminals.revoke(terminal_id=till.pos_terminal.pk, actor=manager)
    sale = device_sale([(cola, 1)], staff=cashier)
    post(till, [sale])

    assert outcomes(post(till, [sale])) == ["held"]
    assert OfflineSale.objects.count() == 1


def test_a_revoked_terminal_cannot_fill_the_review_queue_past_its_bound(till, cashier, cola, manager, monkeypatch):
    monkeypatch.setattr(offline, "MAX_HELD_PER_TERMINAL", 2)
    staff_terminals.revoke(terminal_id=till.pos_terminal.pk, actor=manager)
    post(till, [device_sale([(cola, 1)], staff=cashier, sequence=i) for i in (1, 2)])

    response = post(till, [device_sale([(cola, 1)], staff=cashier, sequence=3)])

    assert response.status_code == 429 and response.json()["code"] == "review_queue_full"
    assert OfflineSale.objects.count() == 2


# --- Refusals ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"key": ""},
        {"made_at": "yesterday"},
        {"made_at": "2026-12-07T10:00:00"},  # no offset
        {"lines": []},
        {"lines": "cola"},
        {"tenders": []},
        {"totals": {}},
        {"staff": "me"},
        {"sequence": 0},
        {"channel": "dine_in"},
    ],
)
def test_a_malformed_sale_refuses_the_whole_batch_and_changes_nothing(till, cashier, cola, change):
    good = device_sale([(cola, 1)], staff=cashier, sequence=1)
    bad = {**device_sale([(cola, 1)], staff=cashier, sequence=2), **change}

    response = post(till, [good, bad])

    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert any(name.startswith("sales[1]") for name in response.json()["fields"])
    assert Order.objects.count() == 0 and OfflineSale.objects.count() == 0


def test_a_body_that_is_not_json_is_a_400(till):
    response = till.post(SYNC, data="{not json", content_type="application/json")

    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_a_browser_that_is_not_a_paired_terminal_is_refused(cashier, cola, client):
    from django.test import Client

    browser = Client()
    browser.force_login(cashier)

    response = browser.post(SYNC, data=json.dumps({"sales": []}), content_type="application/json")

    assert response.status_code == 403 and response.json()["code"] == "not_paired"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8) | st.decimals(allow_nan=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
sale_fields = st.sampled_from(["key", "sequence", "made_at", "staff", "channel", "lines", "tenders", "totals"])


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.dictionaries(sale_fields, json_values, min_size=1, max_size=3))
def test_any_mangled_sale_is_answered_with_a_4xx_or_an_outcome_never_a_500(till, cashier, cola, mutations):
    sale = {**device_sale([(cola, 1)], staff=cashier), **mutations}

    response = till.post(SYNC, data=json.dumps({"sales": [sale]}, default=str), content_type="application/json")

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert set(response.json()) == {"code", "message", "fields"}


# --- The catalogue snapshot ----------------------------------------------------------------------------------------


def test_the_snapshot_lists_products_with_price_tax_barcode_and_their_modifier_groups(till, location, cola):
    group = ModifierGroup.objects.create(name="Ice", min_choices=0, max_choices=1)
    group.products.add(cola)
    ModifierOption.objects.create(group=group, name="No ice", price_delta=Decimal("0.00"))

    document = json.loads(till.get(CATALOGUE).content)

    item = next(p for p in document["catalogue"]["products"] if p["id"] == cola.pk)
    assert (item["price"], item["tax_percent"], item["barcode"]) == ("3.5000", "20.000", cola.barcode)
    assert item["modifier_groups"] == [group.pk]
    assert document["catalogue"]["modifier_groups"][0]["options"][0]["name"] == "No ice"
    assert document["catalogue"]["settings"]["prices_include_tax"] is True
    assert document["terminal"]["register"] == till.register.pk


def test_the_snapshot_answers_304_when_the_device_already_holds_its_version(till, cola):
    first = till.get(CATALOGUE)

    again = till.get(CATALOGUE, headers={"If-None-Match": first["ETag"]})

    assert again.status_code == 304 and again["ETag"] == first["ETag"] and again.content == b""


@pytest.mark.parametrize(
    "change",
    [
        lambda p: Product.objects.filter(pk=p.pk).update(price=Decimal("3.60"), updated_at=timezone.now()),
        lambda p: p.tax_rate.__class__.objects.filter(pk=p.tax_rate_id).update(percent=Decimal("7")),
        lambda p: ModifierGroup.objects.create(name="Size").products.add(p),
        lambda p: p.category.__class__.objects.filter(pk=p.category_id).update(name="Drinks"),
        lambda p: Terminal.objects.update(printer=None, name="Front till"),
    ],
    ids=["price", "tax rate", "modifier group", "category", "terminal"],
)
def test_the_snapshot_version_changes_when_anything_in_it_changes(till, cola, change):
    before = till.get(CATALOGUE)["ETag"]
    change(cola)

    after = till.get(CATALOGUE, headers={"If-None-Match": before})

    assert after.status_code == 200 and after["ETag"] != before


def test_a_store_setting_the_device_prices_with_changes_the_snapshot(till, location, cola):
    before = till.get(CATALOGUE)["ETag"]
    location.cash_rounding = Decimal("0.05")
    location.save()

    assert till.get(CATALOGUE)["ETag"] != before


# --- Watching ------------------------------------------------------------------------------------------------------


def test_a_terminal_reporting_sales_queued_over_fifteen_minutes_alerts_the_managers_once(
    till, notifications, django_capture_on_commit_callbacks
):
    queue = {"length": 4, "oldest_at": (timezone.now() - timedelta(minutes=20)).isoformat()}

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            response = till.post(HEARTBEAT, data=json.dumps({"queue": queue}), content_type="application/json")
            assert response.status_code == 200

    assert [event for event, _, _ in notifications] == ["offline_backlog"]


def test_a_terminal_queued_for_less_than_fifteen_minutes_raises_no_alert(
    till, notifications, django_capture_on_commit_callbacks
):
    queue = {"length": 2, "oldest_at": (timezone.now() - timedelta(minutes=3)).isoformat()}

    with django_capture_on_commit_callbacks(execute=True):
        till.post(HEARTBEAT, data=json.dumps({"queue": queue}), content_type="application/json")

    assert notifications == []


def test_the_ops_page_lists_terminals_with_unsynced_sales_and_held_sales(till, cashier, cola, manager):
    from django.test import Client

    queue = {"length": 3, "oldest_at": (timezone.now() - timedelta(minutes=7)).isoformat()}
    post(till, [device_sale([(cola, 1)], staff=cashier, made_at=timezone.now() + timedelta(hours=2))], queue=queue)
    browser = Client()
    browser.force_login(manager)

    page = browser.get("/ops/offline/").content.decode()

    assert till.pos_terminal.name in page and "7 min" in page
    assert "time_out_of_bounds" in page


def test_a_manager_applies_a_held_sale_from_the_ops_page(till, cashier, cola, manager):
    from django.test import Client

    post(till, [device_sale([(cola, 1)], staff=cashier, made_at=timezone.now() + timedelta(hours=2))])
    browser = Client()
    browser.force_login(manager)

    response = browser.post(f"/ops/offline/{OfflineSale.objects.get().pk}/apply/", {"note": "clock was wrong"})

    assert response.status_code == 302
    assert OfflineSale.objects.get().status == OfflineSale.Status.APPLIED and Order.objects.count() == 1


# --- Receipts ------------------------------------------------------------------------------------------------------


def test_a_reprinted_offline_receipt_shows_its_receipt_number_and_provisional_reference(till, cashier, cola):
    from billing.receipts import receipt_document, render_receipt
    from billing.tests.escpos_text import read

    post(till, [device_sale([(cola, 1)], staff=cashier, sequence=9)])
    receipt = Receipt.objects.get()

    printout = read(render_receipt(receipt_document(receipt), columns=42, copy=True)).text

    assert f"No. {receipt.number:06d}" in printout
    assert f"Offline T{till.pos_terminal.pk}-000009" in printout
    assert "COPY" in printout


def test_a_sale_made_by_someone_who_may_not_take_payments_is_held(till, waiter, cola):
    response = post(till, [device_sale([(cola, 1)], staff=waiter)])

    assert outcomes(response) == ["held"] and response.json()["results"][0]["code"] == "staff_not_allowed"


def test_an_order_discount_given_offline_is_kept_and_priced_as_the_device_did(till, cashier, cola):
    sale = device_sale([(cola, 2)], staff=cashier)
    priced = pricing.price_order(
        [pricing.LineInput(unit_price=cola.price, quantity=Decimal(2), tax_percent=cola.tax_rate.percent)],
        prices_include_tax=True,
        discount_kind="percent",
        discount_value=Decimal("10"),
    )
    sale["discount"] = {"kind": "percent", "value": "10"}
    sale["totals"] = {"total": str(priced.total), "discount": str(priced.discount_total)}

    result = post(till, [sale]).json()["results"][0]

    assert result["outcome"] == "applied" and result["flags"] == []
    assert Order.objects.get().total == priced.total == Decimal("6.30")


def test_an_order_discount_over_the_cashiers_limit_given_offline_is_held_for_a_manager(till, cashier, cola):
    sale = device_sale([(cola, 2)], staff=cashier)
    sale["discount"] = {"kind": "percent", "value": "90"}

    response = post(till, [sale])

    assert outcomes(response) == ["held"] and response.json()["results"][0]["code"] == "approval_required"
