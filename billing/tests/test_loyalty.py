from decimal import Decimal

import pytest
from django.db.models import Sum

from billing import loyalty
from billing.models import LoyaltyAccount, LoyaltyMovement, Payment
from billing.services import RefundItem, refund, take_payment
from billing.tests.factories import CustomerFactory
from core.errors import ApprovalRequired, DomainError
from inventory.models import Product
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import open_order
from orders.tests.helpers import line, open_register, stocked_product
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(location):
    """A store earning 1 point per 1.00 paid, where a point pays 0.05."""
    location.loyalty_points_per_unit = Decimal("1")
    location.loyalty_point_value = Decimal("0.05")
    location.save()
    return location


@pytest.fixture
def till(store):
    return open_register(store)


@pytest.fixture
def customer():
    return CustomerFactory()


def order_for(location, user, *lines, customer=None) -> Order:
    order = open_order(location_id=location.pk, user=user, lines=list(lines))
    if customer is not None:
        Order.objects.filter(pk=order.pk).update(customer=customer)
    return order


def pay(order, till, user, *tenders):
    return take_payment(order_id=order.pk, register_id=till.pk, tenders=list(tenders), user=user)


def points(amount) -> TenderInput:
    return TenderInput("points", amount=Decimal(amount))


def give(customer, user, n):
    return loyalty.adjust_points(customer_id=customer.pk, points=n, reason="welcome", user=user)


def balance(customer) -> int:
    return loyalty.balance_of(customer.pk)


# --- earning -------------------------------------------------------------------------------------------------------


def test_a_paid_order_with_a_customer_earns_whole_points_on_what_was_paid(store, till, cashier, customer):
    order = order_for(store, cashier, line(stocked_product(store, price="12.60")), customer=customer)

    pay(order, till, cashier, TenderInput("card"))

    earn = LoyaltyMovement.objects.get(kind="earn")
    assert (earn.points, earn.basis, earn.balance_after, earn.order_id) == (12, Decimal("12.60"), 12, order.pk)
    assert balance(customer) == 12


def test_tips_earn_no_points(store, till, cashier, customer):
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)

    pay(order, till, cashier, TenderInput("card", tip=Decimal("5.00")))

    assert balance(customer) == 10


def test_gift_card_lines_earn_no_points(store, till, cashier, customer, monkeypatch):
    monkeypatch.setattr(loyalty, "GIFT_CARD_KIND", Product.Kind.SERVICE)  # stands in for the gift-card kind
    meal = stocked_product(store, price="10.00")
    card = stocked_product(store, price="50.00", kind=Product.Kind.SERVICE, tracked=False)
    order = order_for(store, cashier, line(meal), line(card), customer=customer)

    pay(order, till, cashier, TenderInput("card"))

    assert balance(customer) == 10


def test_an_order_without_a_customer_earns_nothing(store, till, cashier):
    order = order_for(store, cashier, line(stocked_product(store)))

    pay(order, till, cashier, TenderInput("card"))

    assert not LoyaltyMovement.objects.exists()


def test_a_store_with_a_rate_of_zero_earns_nothing(store, till, cashier, customer):
    store.loyalty_points_per_unit = 0
    store.save()
    order = order_for(store, cashier, line(stocked_product(store)), customer=customer)

    pay(order, till, cashier, TenderInput("card"))

    assert not LoyaltyMovement.objects.exists()


def test_a_fractional_rate_rounds_the_points_down(store, till, cashier, customer):
    store.loyalty_points_per_unit = Decimal("0.1")  # 1 point per 10.00
    store.save()
    order = order_for(store, cashier, line(stocked_product(store, price="29.99")), customer=customer)

    pay(order, till, cashier, TenderInput("card"))

    assert balance(customer) == 2


def test_points_earned_after_payment_are_earned_once(store, till, cashier, customer):
    order = order_for(store, cashier, line(stocked_product(store, price="8.00")))
    pay(order, till, cashier, TenderInput("card"))
    Order.objects.filter(pk=order.pk).update(customer=customer)

    first = loyalty.earn_for_paid_order(order_id=order.pk, user=cashier)
    again = loyalty.earn_for_paid_order(order_id=order.pk, user=cashier)

    assert first == again and first.points == 8
    assert balance(customer) == 8


# --- redeeming -----------------------------------------------------------------------------------------------------


def test_points_pay_part_of_an_order_at_the_stores_value_and_earn_nothing_themselves(
    store, till, cashier, customer, manager
):
    give(customer, manager, 100)
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)

    sale = pay(order, till, cashier, points("2.00"), TenderInput("cash"))

    assert [(p.tender, p.amount) for p in sale.payments] == [("points", Decimal("2.00")), ("cash", Decimal("8.00"))]
    redeem = LoyaltyMovement.objects.get(kind="redeem")
    assert (redeem.points, redeem.payment_id, redeem.balance_after) == (-40, sale.payments[0].pk, 60)
    assert LoyaltyMovement.objects.get(kind="earn").points == 8
    assert balance(customer) == 68


def test_redeeming_more_points_than_the_balance_is_refused_and_changes_nothing(store, till, cashier, customer, manager):
    give(customer, manager, 39)
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)

    with pytest.raises(DomainError) as error:
        pay(order, till, cashier, points("2.00"), TenderInput("cash"))

    assert error.value.code == "insufficient_points"
    assert balance(customer) == 39
    assert not Payment.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN


def test_points_cannot_pay_more_than_what_is_owed(store, till, cashier, customer, manager):
    give(customer, manager, 1000)
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)

    with pytest.raises(DomainError) as error:
        pay(order, till, cashier, points("10.05"))

    assert error.value.code == "invalid_tender"
    assert balance(customer) == 1000


def test_points_pay_only_whole_points(store, till, cashier, customer, manager):
    give(customer, manager, 1000)
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)

    with pytest.raises(DomainError) as error:
        pay(order, till, cashier, points("1.03"), TenderInput("cash"))

    assert error.value.code == "invalid"
    assert "1.00 or 1.05" in error.value.message


def test_paying_with_points_needs_a_customer(store, till, cashier):
    order = order_for(store, cashier, line(stocked_product(store)))

    with pytest.raises(DomainError) as error:
        pay(order, till, cashier, points("1.00"), TenderInput("cash"))

    assert error.value.code == "customer_required"


def test_paying_with_points_is_refused_where_points_have_no_value(store, till, cashier, customer, manager):
    give(customer, manager, 100)
    store.loyalty_point_value = 0
    store.save()
    order = order_for(store, cashier, line(stocked_product(store)), customer=customer)

    with pytest.raises(DomainError) as error:
        pay(order, till, cashier, points("1.00"), TenderInput("cash"))

    assert error.value.code == "points_off"


def test_fewer_points_than_the_stores_minimum_are_refused(store, till, cashier, customer, manager):
    give(customer, manager, 500)
    store.loyalty_min_redeem = 100
    store.save()
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)

    with pytest.raises(DomainError) as error:
        pay(order, till, cashier, points("4.95"), TenderInput("cash"))

    assert error.value.code == "invalid" and "At least 100 points" in error.value.message


def test_points_paying_the_whole_order_earn_nothing(store, till, cashier, customer, manager):
    give(customer, manager, 200)
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)

    pay(order, till, cashier, points("10.00"))

    assert balance(customer) == 0
    assert not LoyaltyMovement.objects.filter(kind="earn").exists()


# --- refunds -------------------------------------------------------------------------------------------------------


def test_a_partial_refund_takes_back_the_points_earned_on_the_refunded_share(store, till, cashier, customer, manager):
    product = stocked_product(store, price="10.00")
    order = order_for(store, cashier, line(product, "3"), customer=customer)
    pay(order, till, cashier, TenderInput("card"))
    sold = order.lines.get()

    record = refund(
        order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("1"))], reason="cold", user=manager
    )

    reverse = LoyaltyMovement.objects.get(kind="reverse_earn")
    assert (reverse.points, reverse.refund_id, reverse.shortfall, reverse.balance_after) == (-10, record.pk, 0, 20)
    assert balance(customer) == 20


def test_refunding_everything_in_parts_takes_back_exactly_what_was_earned(store, till, cashier, customer, manager):
    order = order_for(store, cashier, line(stocked_product(store, price="3.33"), "3"), customer=customer)
    pay(order, till, cashier, TenderInput("card"))
    sold = order.lines.get()

    for _ in range(3):
        refund(
            order_id=order.pk, register_id=till.pk, items=[RefundItem(sold.pk, Decimal("1"))], reason="x", user=manager
        )

    assert LoyaltyMovement.objects.filter(kind="reverse_earn").aggregate(s=Sum("points"))["s"] == -9
    assert balance(customer) == 0


def test_a_refund_to_points_gives_the_redeemed_points_back(store, till, cashier, customer, manager):
    give(customer, manager, 200)
    order = order_for(store, cashier, line(stocked_product(store, price="5.00"), "2"), customer=customer)
    pay(order, till, cashier, points("5.00"), TenderInput("card"))  # 100 points, and 5 earned on the card
    sold = order.lines.get()

    refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(sold.pk, Decimal("1"))],
        reason="wrong",
        user=manager,
        tender="points",
    )

    assert LoyaltyMovement.objects.get(kind="return_redeemed").points == 100
    assert LoyaltyMovement.objects.get(kind="reverse_earn").points == -3  # half of 5 earned, rounded half up
    assert balance(customer) == 200 - 100 + 5 + 100 - 3


def test_a_refund_of_points_already_spent_takes_what_is_left_and_records_the_shortfall(
    store, till, cashier, customer, manager
):
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)
    pay(order, till, cashier, TenderInput("card"))
    loyalty.adjust_points(customer_id=customer.pk, points=-7, reason="spent elsewhere", user=manager)

    refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(order.lines.get().pk, Decimal("1"))],
        reason="x",
        user=manager,
    )

    reverse = LoyaltyMovement.objects.get(kind="reverse_earn")
    assert (reverse.points, reverse.shortfall, reverse.balance_after) == (-3, 7, 0)
    assert AuditEvent.objects.get(action="loyalty_reversal_short").data["shortfall"] == 7


# --- managers --------------------------------------------------------------------------------------------------


def test_a_manager_adjusts_points_with_a_reason_and_it_is_audited(store, customer, manager):
    movement = loyalty.adjust_points(customer_id=customer.pk, points=25, reason="apology", user=manager)

    assert (movement.kind, movement.points, movement.balance_after, movement.reason) == ("adjust", 25, 25, "apology")
    event = AuditEvent.objects.get(action="loyalty_adjust")
    assert (event.actor, event.reason) == (manager, "apology")


def test_a_cashier_cannot_adjust_points(store, cashier, customer):
    with pytest.raises(ApprovalRequired):
        loyalty.adjust_points(customer_id=customer.pk, points=25, reason="friend", user=cashier)


def test_an_adjustment_cannot_take_the_balance_below_zero(store, customer, manager):
    give(customer, manager, 5)

    with pytest.raises(DomainError) as error:
        loyalty.adjust_points(customer_id=customer.pk, points=-6, reason="oops", user=manager)

    assert error.value.code == "insufficient_points"
    assert LoyaltyAccount.objects.get(pk=customer.pk).balance == 5


def test_an_adjustment_needs_a_reason(store, customer, manager):
    with pytest.raises(DomainError) as error:
        loyalty.adjust_points(customer_id=customer.pk, points=5, reason=" ", user=manager)

    assert error.value.code == "required"


def test_points_paid_show_as_their_own_tender_on_the_z_report(store, till, cashier, customer, manager):
    from billing import sessions
    from billing.report_printout import report_lines

    give(customer, manager, 100)
    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)
    pay(order, till, cashier, points("5.00"), TenderInput("card"))
    session = till.sessions.get()

    z = sessions.close_session(session_id=session.pk, user=manager, denominations={"1": 0})

    tenders = {t["tender"]: t for t in z.data["tenders"]}
    assert (tenders["points"]["count"], tenders["points"]["amount"]) == (1, "5.00")
    assert any(row.strip().startswith("Points (1)") for row in report_lines(z.data, copy=False))


def test_merging_customers_moves_the_whole_balance_with_a_movement_on_each_side(store, manager):
    duplicate, kept = CustomerFactory(), CustomerFactory()
    give(duplicate, manager, 70)
    give(kept, manager, 5)

    loyalty.move_points(from_customer_id=duplicate.pk, to_customer_id=kept.pk, user=manager)

    assert (balance(duplicate), balance(kept)) == (0, 75)
    moved = LoyaltyMovement.objects.filter(reason__startswith="Moved").order_by("id")
    assert [(m.customer_id, m.points) for m in moved] == [(duplicate.pk, -70), (kept.pk, 70)]
    assert AuditEvent.objects.filter(action="loyalty_move").count() == 1


# --- a customer attached to a paid order, and customers merged (orders.signals) -----------------------------------


def test_a_customer_attached_after_payment_earns_the_sales_points_once(store, till, cashier, customer):
    from orders.services import attach_customer, detach_customer

    order = order_for(store, cashier, line(stocked_product(store, price="12.60")))
    pay(order, till, cashier, TenderInput("card"))
    assert balance(customer) == 0

    attach_customer(order.pk, customer_id=customer.pk, user=cashier)
    assert balance(customer) == 12
    with pytest.raises(DomainError) as refused:
        detach_customer(order.pk, user=cashier)
    assert refused.value.code == "points_already_moved"
    attach_customer(order.pk, customer_id=customer.pk, user=cashier)

    assert balance(customer) == 12
    assert LoyaltyMovement.objects.filter(order=order, kind="earn").count() == 1
    assert Order.objects.get(pk=order.pk).customer_id == customer.pk


def test_a_paid_orders_points_cannot_be_moved_to_another_customer_by_attaching_them(store, till, cashier, customer):
    from orders.services import attach_customer

    order = order_for(store, cashier, line(stocked_product(store, price="10.00")), customer=customer)
    pay(order, till, cashier, TenderInput("card"))
    other = CustomerFactory()

    with pytest.raises(DomainError) as refused:
        attach_customer(order.pk, customer_id=other.pk, user=cashier)

    assert refused.value.code == "points_already_moved"
    assert Order.objects.get(pk=order.pk).customer_id == customer.pk
    assert (balance(customer), balance(other)) == (10, 0)


def test_merging_customers_hands_the_merged_ones_points_to_the_one_kept(store, manager):
    from orders.services import merge_customers

    kept, duplicate = CustomerFactory(), CustomerFactory()
    give(kept, manager, 5)
    give(duplicate, manager, 30)

    merge_customers(source_id=duplicate.pk, into_id=kept.pk, user=manager)

    assert (balance(kept), balance(duplicate)) == (35, 0)
