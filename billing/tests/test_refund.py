import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.models import PrintJob, Receipt, Refund
from billing.services import RefundItem, refund, sell, take_payment
from core.errors import ApprovalRequired, Conflict, DomainError
from inventory.models import Product, RecipeLine, StockLevel, StockMove
from inventory.tests.factories import ProductFactory
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import apply_discount, open_order
from orders.tests.helpers import line, open_register, stocked_product
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def till(location):
    return open_register(location)


def on_hand(product, location):
    return StockLevel.objects.get(product=product, location=location).on_hand


def paid(till, user, *lines, tenders=None):
    return sell(register_id=till.pk, user=user, lines=list(lines), tenders=tenders or [TenderInput("card")]).order


def test_a_manager_refunds_a_line_stock_comes_back_and_a_refund_receipt_gets_the_next_number(
    location, till, cashier, manager
):
    product = stocked_product(location, on_hand="5", price="6.00")
    order = paid(till, cashier, line(product, "2"))
    sold = order.lines.get()

    record = refund(
        order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("1"))], reason="cold", user=manager
    )

    assert (record.amount, record.tender, record.approved_by) == (Decimal("6.00"), "card", manager)
    assert record.tax_amount == Decimal("1.00")
    assert on_hand(product, location) == Decimal("4")
    receipt = Receipt.objects.get(refund=record)
    assert (receipt.kind, receipt.number) == ("refund", 2)
    assert PrintJob.objects.filter(receipt=receipt).exists()
    order.refresh_from_db()
    assert (order.refunded_total, order.status) == (Decimal("6.00"), Order.Status.PAID)
    event = AuditEvent.objects.get(action="refund")
    assert (event.actor, event.approver, event.reason) == (manager, manager, "cold")


def test_a_cashier_refund_needs_a_manager_approver(location, till, cashier, manager):
    order = paid(till, cashier, line(stocked_product(location)))
    item = RefundItem(order.lines.get().pk, Decimal("1"))

    with pytest.raises(ApprovalRequired):
        refund(order_id=order.pk, register_id=till.pk, items=[item], reason="broken", user=cashier)
    record = refund(
        order_id=order.pk, register_id=till.pk, items=[item], reason="broken", user=cashier, approver=manager
    )

    assert (record.created_by, record.approved_by) == (cashier, manager)


def test_a_refund_cannot_exceed_what_was_sold(location, till, manager):
    order = paid(till, manager, line(stocked_product(location), "2"))
    sold = order.lines.get()
    refund(order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("1"))], reason="x", user=manager)

    with pytest.raises(DomainError) as error:
        refund(
            order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("2"))], reason="x", user=manager
        )

    assert error.value.code == "refund_exceeds_sold"
    assert Refund.objects.count() == 1


def test_refunding_every_unit_in_parts_gives_back_exactly_what_was_paid(location, till, manager):
    product = stocked_product(location, price="10.00")
    order = paid(till, manager, line(product, "3"))
    assert order.total == Decimal("30.00")
    sold = order.lines.get()
    for _ in range(3):
        refund(
            order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("1"))], reason="x", user=manager
        )

    order.refresh_from_db()
    assert order.refunded_total == order.paid_total == Decimal("30.00")
    assert order.status == Order.Status.REFUNDED
    with pytest.raises(Conflict):
        apply_discount(order.pk, user=manager, kind="", value=Decimal(0))


def test_a_discounted_line_refunds_what_was_paid_for_it_not_its_list_price(location, till, manager):
    a, b = stocked_product(location, price="10.00"), stocked_product(location, price="10.00")
    order = open_order(location_id=location.pk, user=manager, lines=[line(a), line(b)])
    apply_discount(order.pk, user=manager, kind="amount", value=Decimal("5.00"), reason="loyalty")
    take_payment(order_id=order.pk, register_id=till.pk, tenders=[TenderInput("card")], user=manager)
    first = order.lines.order_by("id").first()

    record = refund(
        order_id=order.pk, register_id=till.pk, items=[RefundItem(first.pk, Decimal("1"))], reason="x", user=manager
    )

    assert record.amount == Decimal("7.50")


def test_a_refund_to_card_cannot_exceed_what_the_card_paid(location, till, manager):
    product = stocked_product(location, price="10.00")
    order = paid(
        till,
        manager,
        line(product, "2"),
        tenders=[TenderInput("card", amount=Decimal("5.00")), TenderInput("cash", tendered=Decimal("20"))],
    )

    with pytest.raises(DomainError) as error:
        refund(
            order_id=order.pk,
            register_id=till.pk,
            items=[RefundItem(order.lines.get().pk, Decimal("1"))],
            reason="x",
            user=manager,
            tender="card",
        )
    assert error.value.code == "refund_exceeds_paid"

    record = refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(order.lines.get().pk, Decimal("1"))],
        reason="x",
        user=manager,
    )
    assert record.tender == "cash"  # the tender that paid the most
    assert PrintJob.objects.get(receipt=record.receipt).payload == {"open_drawer": True}


def test_a_line_not_restocked_is_booked_as_waste(location, till, manager):
    product = stocked_product(location, on_hand="5")
    order = paid(till, manager, line(product, "2"))

    refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(order.lines.get().pk, Decimal("2"), restock=False)],
        reason="spilled",
        user=manager,
    )

    assert on_hand(product, location) == Decimal("3")
    waste = StockMove.objects.get(product=product, reason=StockMove.Reason.WASTE)
    assert waste.delta == Decimal("-2")


def test_a_refunded_menu_item_returns_its_ingredients(location, till, manager):
    cheese = stocked_product(location, on_hand="10", kind=Product.Kind.INGREDIENT)
    toastie = ProductFactory(kind=Product.Kind.MENU_ITEM, price=Decimal("5.00"))
    RecipeLine.objects.create(menu_item=toastie, ingredient=cheese, quantity=Decimal("2"))
    order = paid(till, manager, line(toastie))

    refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(order.lines.get().pk, Decimal("1"), restock=True)],
        reason="x",
        user=manager,
    )

    assert on_hand(cheese, location) == Decimal("10")


def test_by_default_a_refunded_menu_item_is_wasted_and_refunded_goods_go_back_to_stock(location, till, manager):
    cheese = stocked_product(location, on_hand="10", kind=Product.Kind.INGREDIENT)
    toastie = ProductFactory(kind=Product.Kind.MENU_ITEM, price=Decimal("5.00"))
    RecipeLine.objects.create(menu_item=toastie, ingredient=cheese, quantity=Decimal("2"))
    crisps = stocked_product(location, on_hand="5", kind=Product.Kind.GOODS)
    order = paid(till, manager, line(toastie), line(crisps))
    toastie_line, crisps_line = order.lines.order_by("id")

    record = refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(toastie_line.pk, Decimal("1")), RefundItem(crisps_line.pk, Decimal("1"))],
        reason="wrong order",
        user=manager,
    )

    assert on_hand(cheese, location) == Decimal("8")  # the toastie was cooked: its cheese is gone
    assert on_hand(crisps, location) == Decimal("5")  # the crisps are back on the shelf
    assert StockMove.objects.filter(product=cheese, reason=StockMove.Reason.WASTE).get().delta == Decimal("-2")
    assert dict(record.lines.values_list("order_line", "restock")) == {toastie_line.pk: False, crisps_line.pk: True}


def test_a_refund_of_a_menu_item_can_put_it_back_and_of_goods_can_waste_them(location, till, manager):
    cheese = stocked_product(location, on_hand="10", kind=Product.Kind.INGREDIENT)
    toastie = ProductFactory(kind=Product.Kind.MENU_ITEM, price=Decimal("5.00"))
    RecipeLine.objects.create(menu_item=toastie, ingredient=cheese, quantity=Decimal("2"))
    crisps = stocked_product(location, on_hand="5", kind=Product.Kind.GOODS)
    order = paid(till, manager, line(toastie), line(crisps))
    toastie_line, crisps_line = order.lines.order_by("id")

    refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[
            RefundItem(toastie_line.pk, Decimal("1"), restock=True),
            RefundItem(crisps_line.pk, Decimal("1"), restock=False),
        ],
        reason="never made; crushed bag",
        user=manager,
    )

    assert (on_hand(cheese, location), on_hand(crisps, location)) == (Decimal("10"), Decimal("4"))


def test_the_refund_api_defaults_restock_by_kind_and_takes_it_per_line(location, till, manager):
    cheese = stocked_product(location, on_hand="10", kind=Product.Kind.INGREDIENT)
    toastie = ProductFactory(kind=Product.Kind.MENU_ITEM, price=Decimal("5.00"))
    RecipeLine.objects.create(menu_item=toastie, ingredient=cheese, quantity=Decimal("2"))
    crisps = stocked_product(location, on_hand="5", kind=Product.Kind.GOODS)
    order = paid(till, manager, line(toastie, "2"), line(crisps, "2"))
    toastie_line, crisps_line = order.lines.order_by("id")
    client = APIClient()
    client.force_authenticate(manager)

    def post(lines):
        body = {"order": str(order.uuid), "register": till.pk, "lines": lines, "reason": "x"}
        return client.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))

    first = post([{"line": toastie_line.pk, "quantity": "1"}, {"line": crisps_line.pk, "quantity": "1"}])
    second = post(
        [
            {"line": toastie_line.pk, "quantity": "1", "restock": True},
            {"line": crisps_line.pk, "quantity": "1", "restock": False},
        ]
    )

    assert first.status_code == second.status_code == 201
    assert [row["restock"] for row in first.json()["lines"]] == [False, True]
    assert [row["restock"] for row in second.json()["lines"]] == [True, False]
    assert (on_hand(cheese, location), on_hand(crisps, location)) == (Decimal("8"), Decimal("4"))


def test_a_refund_line_records_the_share_of_the_service_charge_it_gives_back(location, manager):
    location.service_charge_percent = Decimal("10")
    location.save()
    till = open_register(location)
    product = stocked_product(location, on_hand="5", price="6.00")
    order = open_order(location_id=location.pk, user=manager, lines=[line(product, "3")], channel="dine_in")
    take_payment(order_id=order.pk, register_id=till.pk, tenders=[TenderInput("card")], user=manager)
    sold = order.lines.get()

    first = refund(
        order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("2"))], reason="x", user=manager
    )
    rest = refund(
        order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("1"))], reason="x", user=manager
    )

    # 18.00 incl. 20% tax is 15.00 net; service 10% of net is 1.50, 0.50 a unit
    assert [(r.amount, r.lines.get().service_charge_amount) for r in (first, rest)] == [
        (Decimal("13.00"), Decimal("1.00")),
        (Decimal("6.50"), Decimal("0.50")),
    ]


def test_an_unpaid_order_cannot_be_refunded(location, till, manager):
    order = open_order(location_id=location.pk, user=manager, lines=[line(stocked_product(location))])

    with pytest.raises(Conflict):
        refund(
            order_id=order.pk,
            register_id=till.pk,
            items=[RefundItem(order.lines.get().pk, Decimal("1"))],
            reason="x",
            user=manager,
        )


def test_the_refund_api_needs_a_key_and_a_manager_and_replays(location, till, cashier, manager):
    order = paid(till, cashier, line(stocked_product(location), "2"))
    body = {
        "order": str(order.uuid),
        "register": till.pk,
        "lines": [{"line": order.lines.get().pk, "quantity": "1"}],
        "reason": "faulty",
    }
    as_cashier, as_manager = APIClient(), APIClient()
    as_cashier.force_authenticate(cashier)
    as_manager.force_authenticate(manager)
    key = str(uuid.uuid4())

    assert as_manager.post("/api/v1/refunds/", body, format="json").status_code == 400
    denied = as_cashier.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (denied.status_code, denied.json()["code"]) == (403, "approval_required")
    first = as_manager.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = as_manager.post("/api/v1/refunds/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.json()["amount"] == "10.00"
    assert first.json()["receipt"]["number"] == 2
    assert Refund.objects.count() == 1
    assert as_manager.get("/api/v1/refunds/").json()["count"] == 1
