from decimal import Decimal

import pytest

from core.errors import ApprovalRequired, Conflict, DomainError, PermissionDenied
from orders import services
from orders.models import KitchenTicket, Order, OrderLine
from orders.signals import kitchen_tickets_sent
from orders.tests.factories import TableFactory
from orders.tests.helpers import line, station_product, stocked_product
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


def open_with(location, user, *products, **extra):
    return services.open_order(location_id=location.pk, user=user, lines=[line(p) for p in products], **extra)


def test_an_order_opens_with_its_lines_priced_and_snapshotted(location, waiter):
    product = stocked_product(location, price="4.50")

    order = services.open_order(
        location_id=location.pk,
        user=waiter,
        channel=Order.Channel.TAKEAWAY,
        lines=[line(product, "2", note="hot", course=2)],
    )

    [saved] = order.lines.all()
    assert (saved.name, saved.unit_price, saved.tax_rate_percent) == (product.name, Decimal("4.50"), Decimal("20"))
    assert saved.line_total == Decimal("9.00")
    assert order.total == Decimal("9.00")
    product.price = Decimal("99")
    product.save()
    saved.refresh_from_db()
    assert saved.unit_price == Decimal("4.50")


def test_dine_in_orders_carry_the_store_service_charge(location, waiter):
    location.service_charge_percent = Decimal("10")
    location.save()
    table = TableFactory(location=location)

    order = open_with(location, waiter, stocked_product(location, price="20.00"), channel="dine_in", table_id=table.pk)

    assert order.service_charge == Decimal("1.67")  # 10% of 16.67 net of 20% tax
    assert order.total == Decimal("21.67")


def test_adding_and_changing_lines_reprices_the_order(location, waiter):
    product = stocked_product(location, price="3.00")
    order = open_with(location, waiter, product)

    [added] = services.add_lines(order.pk, user=waiter, lines=[line(product, "2")])
    services.change_line(added.pk, user=waiter, quantity=Decimal("4"))

    order.refresh_from_db()
    assert order.total == Decimal("15.00")


def test_a_line_sent_to_the_kitchen_cannot_be_changed(location, waiter):
    order = open_with(location, waiter, station_product(location, "kitchen"))
    services.send_to_kitchen(order.pk, user=waiter)

    with pytest.raises(Conflict):
        services.change_line(order.lines.get().pk, user=waiter, quantity=Decimal("2"))


def test_held_orders_resume_and_a_paid_order_cannot_be_held(location, waiter):
    order = open_with(location, waiter, stocked_product(location))

    assert services.hold_order(order.pk, user=waiter).status == Order.Status.HELD
    assert services.resume_order(order.pk, user=waiter).status == Order.Status.OPEN
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)
    with pytest.raises(Conflict):
        services.hold_order(order.pk, user=waiter)


def test_staff_void_their_own_unsent_line_with_a_reason_and_it_is_audited(location, waiter):
    order = open_with(location, waiter, stocked_product(location), stocked_product(location, price="5.00"))
    first = order.lines.order_by("id").first()

    with pytest.raises(DomainError):
        services.void_line(first.pk, user=waiter, reason="  ")
    services.void_line(first.pk, user=waiter, reason="wrong item")

    order.refresh_from_db()
    assert order.total == Decimal("5.00")
    event = AuditEvent.objects.get(action="void_line")
    assert (event.actor, event.approver, event.reason) == (waiter, None, "wrong item")


def test_voiding_a_line_already_sent_to_the_kitchen_needs_a_manager(location, waiter, manager):
    order = open_with(location, waiter, station_product(location, "kitchen"))
    services.send_to_kitchen(order.pk, user=waiter)
    sent = order.lines.get()

    with pytest.raises(ApprovalRequired):
        services.void_line(sent.pk, user=waiter, reason="guest left")
    services.void_line(sent.pk, user=waiter, reason="guest left", approver=manager)

    sent.refresh_from_db()
    assert (sent.status, sent.void_approved_by) == (OrderLine.Status.VOIDED, manager)
    assert AuditEvent.objects.get(action="void_line").approver == manager


def test_voiding_someone_elses_line_needs_a_manager(location, waiter, cashier):
    order = open_with(location, waiter, stocked_product(location))

    with pytest.raises(ApprovalRequired):
        services.void_line(order.lines.get().pk, user=cashier, reason="mistake")


def test_voiding_an_order_voids_its_lines_and_zeroes_it(location, waiter):
    order = open_with(location, waiter, stocked_product(location), stocked_product(location))

    services.void_order(order.pk, user=waiter, reason="walked out")

    order.refresh_from_db()
    assert order.status == Order.Status.VOIDED
    assert order.total == 0
    assert set(order.lines.values_list("status", flat=True)) == {"voided"}
    assert AuditEvent.objects.filter(action="void_order").exists()


def test_a_discount_within_the_role_limit_needs_no_approval(location, cashier):
    order = open_with(location, cashier, stocked_product(location, price="100.00"))

    services.apply_discount(order.pk, user=cashier, kind="percent", value=Decimal("10"), reason="regular")

    order.refresh_from_db()
    assert order.total == Decimal("90.00")
    assert not AuditEvent.objects.filter(action="discount_over_limit").exists()


def test_a_discount_over_the_role_limit_needs_a_manager_and_is_audited(location, cashier, manager):
    order = open_with(location, cashier, stocked_product(location, price="100.00"))

    with pytest.raises(ApprovalRequired):
        services.apply_discount(order.pk, user=cashier, kind="amount", value=Decimal("25"), reason="complaint")
    order.refresh_from_db()
    assert order.total == Decimal("100.00")

    services.apply_discount(
        order.pk, user=cashier, kind="amount", value=Decimal("25"), reason="complaint", approver=manager
    )
    order.refresh_from_db()
    assert order.total == Decimal("75.00")
    assert order.discount_approved_by == manager
    assert AuditEvent.objects.get(action="discount_over_limit").approver == manager


def test_a_line_discount_over_the_limit_needs_a_manager(location, waiter):
    order = open_with(location, waiter, stocked_product(location, price="10.00"))

    with pytest.raises(ApprovalRequired):
        services.apply_discount(
            order.pk, user=waiter, kind="percent", value=Decimal("50"), reason="x", line_id=order.lines.get().pk
        )


def test_a_discount_needs_a_reason_and_a_sane_value(location, manager):
    order = open_with(location, manager, stocked_product(location))

    with pytest.raises(DomainError):
        services.apply_discount(order.pk, user=manager, kind="percent", value=Decimal("10"))
    with pytest.raises(DomainError):
        services.apply_discount(order.pk, user=manager, kind="percent", value=Decimal("101"), reason="x")


def test_an_order_moves_to_another_table_of_its_location(location, waiter):
    from inventory.tests.factories import LocationFactory

    order = open_with(location, waiter, stocked_product(location), channel="dine_in")
    table = TableFactory(location=location)

    assert services.move_order(order.pk, user=waiter, table_id=table.pk).table == table
    with pytest.raises(DomainError):
        services.move_order(order.pk, user=waiter, table_id=TableFactory(location=LocationFactory()).pk)


def test_merging_two_orders_moves_the_lines_and_adds_the_totals(location, waiter):
    a = open_with(location, waiter, stocked_product(location, price="3.00"))
    b = open_with(location, waiter, stocked_product(location, price="4.00"))

    target = services.merge_orders(source_id=a.pk, target_id=b.pk, user=waiter)

    a.refresh_from_db()
    assert (a.status, a.merged_into, a.total) == (Order.Status.MERGED, b, 0)
    assert target.total == Decimal("7.00")
    assert target.lines.count() == 2


def test_splitting_by_lines_moves_part_of_a_line_to_a_new_order(location, waiter):
    product = stocked_product(location, price="2.00")
    order = services.open_order(location_id=location.pk, user=waiter, lines=[line(product, "3"), line(product)])
    first, second = order.lines.order_by("id")

    new = services.split_order(order.pk, user=waiter, quantities={first.pk: Decimal("2"), second.pk: Decimal("1")})

    order.refresh_from_db()
    assert order.total == Decimal("2.00")
    assert new.total == Decimal("6.00")
    assert sorted(new.lines.values_list("quantity", flat=True)) == [Decimal("1"), Decimal("2")]


def test_a_split_cannot_take_more_than_the_line_has(location, waiter):
    order = open_with(location, waiter, stocked_product(location), stocked_product(location))

    with pytest.raises(DomainError):
        services.split_order(order.pk, user=waiter, quantities={order.lines.first().pk: Decimal("2")})
    assert Order.objects.count() == 1


def test_splitting_part_of_a_line_divides_its_amount_discount_between_the_two_orders(location, cashier):
    product = stocked_product(location, on_hand="50", price="3.00")
    order = services.open_order(
        location_id=location.pk,
        user=cashier,
        lines=[line(product, "10", discount_kind="amount", discount_value=Decimal("3.00"))],
    )
    [first] = order.lines.all()

    new = services.split_order(order.pk, user=cashier, quantities={first.pk: Decimal("3")})

    order.refresh_from_db()
    [kept], [moved] = order.lines.all(), new.lines.all()
    assert (kept.discount_value, moved.discount_value) == (Decimal("2.10"), Decimal("0.90"))
    assert (order.total, new.total) == (Decimal("18.90"), Decimal("8.10"))


def test_splitting_one_unit_off_again_and_again_never_discounts_more_than_the_line_had(location, cashier):
    product = stocked_product(location, on_hand="50", price="3.00")
    order = services.open_order(
        location_id=location.pk,
        user=cashier,
        lines=[line(product, "10", discount_kind="amount", discount_value=Decimal("3.00"))],
    )
    [first] = order.lines.all()

    for _ in range(9):
        services.split_order(order.pk, user=cashier, quantities={first.pk: Decimal("1")})

    orders = Order.objects.filter(location=location)
    assert sum(o.discount_total for o in orders) == Decimal("3.00")
    assert sum(o.total for o in orders) == Decimal("27.00")


def test_a_split_that_takes_a_discount_over_the_role_limit_needs_a_manager(location, cashier, manager):
    product = stocked_product(location, on_hand="50", price="3.00")
    order = services.open_order(location_id=location.pk, user=cashier, lines=[line(product, "10")])
    services.apply_discount(order.pk, user=cashier, kind="amount", value=Decimal("3.00"), reason="regular")
    [first] = order.lines.all()
    line_discount = {"kind": "amount", "value": Decimal("3.00"), "reason": "regular", "line_id": first.pk}
    services.apply_discount(order.pk, user=cashier, approver=manager, **line_discount)

    with pytest.raises(ApprovalRequired):
        services.split_order(order.pk, user=cashier, quantities={first.pk: Decimal("9")})
    assert Order.objects.count() == 1

    new = services.split_order(order.pk, user=cashier, quantities={first.pk: Decimal("9")}, approver=manager)
    assert new.lines.get().discount_value == Decimal("2.70")


def test_merging_orders_that_stack_discounts_over_the_role_limit_needs_a_manager(location, cashier, manager):
    product = stocked_product(location, on_hand="50", price="10.00")
    target = open_with(location, cashier, product)
    services.apply_discount(target.pk, user=cashier, kind="percent", value=Decimal("10"), reason="regular")
    source = services.open_order(
        location_id=location.pk,
        user=cashier,
        lines=[line(product, "5", discount_kind="amount", discount_value=Decimal("5.00"))],
    )

    with pytest.raises(ApprovalRequired):
        services.merge_orders(source_id=source.pk, target_id=target.pk, user=cashier)
    source.refresh_from_db()
    assert (source.status, source.lines.count()) == (Order.Status.OPEN, 1)

    merged = services.merge_orders(source_id=source.pk, target_id=target.pk, user=cashier, approver=manager)
    assert merged.discount_approved_by == manager
    assert AuditEvent.objects.filter(action="discount_over_limit", approver=manager).exists()


def test_sending_to_the_kitchen_makes_one_ticket_per_station_and_course_and_signals_it(location, waiter):
    burger, fries = station_product(location, "kitchen"), station_product(location, "kitchen")
    beer = station_product(location, "bar")
    retail = stocked_product(location)
    order = services.open_order(
        location_id=location.pk,
        user=waiter,
        lines=[line(burger), line(fries), line(beer), line(burger, course=2), line(retail)],
    )
    received = []

    def receiver(sender, tickets, user, **kwargs):
        received.append(([t.station for t in tickets], user))

    kitchen_tickets_sent.connect(receiver)
    try:
        tickets = services.send_to_kitchen(order.pk, user=waiter)
    finally:
        kitchen_tickets_sent.disconnect(receiver)

    assert sorted((t.station, t.course, t.lines.count()) for t in tickets) == [
        ("bar", 1, 1),
        ("kitchen", 1, 2),
        ("kitchen", 2, 1),
    ]
    assert received == [([t.station for t in tickets], waiter)]
    assert order.lines.filter(sent_at__isnull=True).get().product == retail
    with pytest.raises(Conflict):
        services.send_to_kitchen(order.pk, user=waiter)
    assert KitchenTicket.objects.count() == 3


def test_staff_cannot_open_orders_at_a_location_they_do_not_work_at(waiter):
    from inventory.tests.factories import LocationFactory

    elsewhere = LocationFactory()

    with pytest.raises(PermissionDenied):
        open_with(elsewhere, waiter, stocked_product(elsewhere))


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"quantity": Decimal("0")}, "lines[0].quantity"),
        ({"quantity": Decimal("-2")}, "lines[0].quantity"),
        ({"quantity": Decimal("1E12")}, "lines[0].quantity"),
        ({"quantity": Decimal("NaN")}, "lines[0].quantity"),
        ({"quantity": Decimal("1.0001")}, "lines[0].quantity"),
        ({"note": "x" * 10_000}, "lines[0].note"),
        ({"note": "nul\x00"}, "lines[0].note"),
        ({"modifiers": [{"name": "extra", "price": "0.50"}]}, "lines[0].modifiers"),
        ({"modifiers": [987654]}, "lines[0].modifiers"),
        ({"course": 0}, "lines[0].course"),
    ],
)
def test_bad_line_input_is_refused_naming_the_field_and_nothing_is_saved(location, waiter, bad, field):
    product = stocked_product(location)

    with pytest.raises(DomainError) as error:
        services.open_order(
            location_id=location.pk,
            user=waiter,
            lines=[line(product, **bad) if "quantity" not in bad else services.NewLine(product.pk, **bad)],
        )

    assert field in error.value.fields
    assert not Order.objects.exists()


def test_an_ingredient_is_not_for_sale(location, waiter):
    from inventory.models import Product

    flour = stocked_product(location, kind=Product.Kind.INGREDIENT)

    with pytest.raises(DomainError) as error:
        open_with(location, waiter, flour)

    assert error.value.code == "not_for_sale"


def test_the_integrity_selector_finds_a_paid_order_whose_lines_do_not_add_up(location, cashier):
    from billing.services import sell
    from orders.pricing import TenderInput
    from orders.selectors import orders_whose_lines_do_not_add_up
    from orders.tests.helpers import open_register

    till = open_register(location)
    good = sell(
        register_id=till.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[TenderInput("card")]
    )
    bad = sell(
        register_id=till.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[TenderInput("card")]
    )
    assert not orders_whose_lines_do_not_add_up().exists()

    OrderLine.objects.filter(order=bad.order).update(amount_due=Decimal("1.00"))

    assert list(orders_whose_lines_do_not_add_up()) == [bad.order]
    assert good.order not in orders_whose_lines_do_not_add_up()


def test_a_new_line_with_a_discount_over_the_limit_needs_a_manager(location, cashier, manager):
    product = stocked_product(location, price="10.00")
    half_off = line(product, discount_kind="percent", discount_value=Decimal("50"))

    with pytest.raises(ApprovalRequired):
        services.open_order(location_id=location.pk, user=cashier, lines=[half_off])
    assert not Order.objects.exists()

    order = services.open_order(location_id=location.pk, user=cashier, lines=[half_off], approver=manager)

    assert order.total == Decimal("5.00")
    assert AuditEvent.objects.get(action="discount_over_limit").approver == manager
