from decimal import Decimal

import pytest

from billing.models import CashSession, Payment, PrintJob, Receipt
from billing.services import sell, take_payment
from billing.tests.factories import PrinterFactory, RegisterFactory
from core.errors import Conflict, DomainError, PermissionDenied
from core.immutable import ImmutableRowError
from inventory.models import Product, StockLevel, StockMove
from inventory.services import OutOfStock
from inventory.tests.factories import ProductFactory
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import add_lines, open_order
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db


def cash(tendered=None):
    return TenderInput(tender="cash", tendered=None if tendered is None else Decimal(tendered))


def on_hand(product, location):
    return StockLevel.objects.get(product=product, location=location).on_hand


def test_a_cash_sale_gives_change_takes_stock_and_issues_receipt_number_one(location, cashier):
    register = open_register(location, printer=PrinterFactory())
    product = stocked_product(location, on_hand="5", price="4.20")

    sale = sell(register_id=register.pk, user=cashier, lines=[line(product, "2")], tenders=[cash("10.00")])

    assert sale.order.status == Order.Status.PAID
    assert sale.order.paid_total == Decimal("8.40")
    assert sale.change == Decimal("1.60")
    assert sale.receipt.number == 1
    assert on_hand(product, location) == Decimal("3")
    job = PrintJob.objects.get(receipt=sale.receipt)
    assert job.payload == {"open_drawer": True}
    assert job.printer == register.printer


def test_receipt_numbers_follow_each_other_per_register(location, cashier):
    till_1, till_2 = open_register(location), open_register(location)
    product = stocked_product(location)

    numbers = [
        sell(register_id=till.pk, user=cashier, lines=[line(product)], tenders=[cash()]).receipt.number
        for till in (till_1, till_1, till_2, till_1)
    ]

    assert numbers == [1, 2, 1, 3]


def test_paying_an_open_order_marks_it_paid_and_a_second_payment_is_refused(location, cashier):
    register = open_register(location)
    product = stocked_product(location)
    order = open_order(location_id=location.pk, user=cashier, lines=[line(product)])

    take_payment(order_id=order.pk, register_id=register.pk, tenders=[TenderInput("card")], user=cashier)

    with pytest.raises(Conflict) as error:
        take_payment(order_id=order.pk, register_id=register.pk, tenders=[TenderInput("card")], user=cashier)
    assert error.value.code == "already_paid"
    assert Payment.objects.filter(order=order).count() == 1
    assert StockMove.objects.filter(reference=str(order.uuid)).count() == 1


def test_card_and_cash_split_across_guests_settle_the_total_with_change_only_on_cash(location, cashier):
    register = open_register(location)
    product = stocked_product(location, price="15.00")
    order = open_order(location_id=location.pk, user=cashier, lines=[line(product, "2")])

    sale = take_payment(
        order_id=order.pk,
        register_id=register.pk,
        tenders=[
            TenderInput("card", amount=Decimal("15.00"), guest=1, reference="A1"),
            TenderInput("cash", tendered=Decimal("20.00"), guest=2),
        ],
        user=cashier,
    )

    card, cash_payment = sale.payments
    assert (card.tender, card.amount, card.change, card.guest) == ("card", Decimal("15.00"), Decimal("0"), 1)
    assert (cash_payment.amount, cash_payment.change, cash_payment.guest) == (Decimal("15.00"), Decimal("5.00"), 2)


def test_a_card_cannot_pay_more_than_the_total(location, cashier):
    register = open_register(location)
    product = stocked_product(location)

    with pytest.raises(DomainError) as error:
        sell(
            register_id=register.pk,
            user=cashier,
            lines=[line(product)],
            tenders=[TenderInput("card", amount=Decimal("12.00"))],
        )

    assert error.value.code == "invalid_tender"
    assert not Order.objects.exists()


def test_tenders_that_do_not_cover_the_total_change_nothing(location, cashier):
    register = open_register(location)
    product = stocked_product(location, on_hand="3")

    with pytest.raises(DomainError) as error:
        sell(register_id=register.pk, user=cashier, lines=[line(product)], tenders=[cash("9.99")])

    assert error.value.code == "insufficient_tender"
    assert on_hand(product, location) == Decimal("3")
    assert not Receipt.objects.exists()
    register.refresh_from_db()
    assert register.last_receipt_number == 0


def test_cash_is_rounded_to_the_store_step_and_the_rounding_recorded(location, cashier):
    location.cash_rounding = Decimal("0.05")
    location.save()
    register = open_register(location)
    product = stocked_product(location, price="1.32")

    sale = sell(register_id=register.pk, user=cashier, lines=[line(product)], tenders=[cash("2.00")])

    payment = sale.payments[0]
    assert payment.amount == Decimal("1.32")
    assert payment.rounding == Decimal("-0.02")
    assert payment.change == Decimal("0.70")
    assert sale.order.paid_total == sale.order.total == Decimal("1.32")


def test_a_card_tip_is_recorded_apart_from_the_order_total(location, cashier):
    register = open_register(location)
    product = stocked_product(location)

    sale = sell(
        register_id=register.pk,
        user=cashier,
        lines=[line(product)],
        tenders=[TenderInput("card", tip=Decimal("1.50"))],
    )

    assert (sale.payments[0].amount, sale.payments[0].tip) == (Decimal("10.00"), Decimal("1.50"))
    assert sale.order.paid_total == Decimal("10.00")


def test_checkout_needs_an_open_cash_session(location, cashier):
    register = RegisterFactory(location=location)
    product = stocked_product(location)

    with pytest.raises(DomainError) as error:
        sell(register_id=register.pk, user=cashier, lines=[line(product)], tenders=[cash()])

    assert error.value.code == "no_open_session"
    assert on_hand(product, location) == Decimal("10")


def test_a_closed_session_does_not_take_sales(location, cashier):
    register = open_register(location)
    CashSession.objects.filter(register=register).update(status=CashSession.Status.CLOSED)

    with pytest.raises(DomainError) as error:
        sell(register_id=register.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[cash()])

    assert error.value.code == "no_open_session"


def test_selling_more_than_the_stock_of_a_block_product_is_refused(location, cashier):
    register = open_register(location)
    product = stocked_product(location, on_hand="1")

    with pytest.raises(OutOfStock):
        sell(register_id=register.pk, user=cashier, lines=[line(product, "2")], tenders=[cash()])

    assert on_hand(product, location) == Decimal("1")
    assert not Order.objects.exists()


def test_a_warn_product_sells_below_zero_with_a_warning(location, cashier):
    register = open_register(location)
    product = stocked_product(location, on_hand="0", policy=Product.StockPolicy.WARN)

    sale = sell(register_id=register.pk, user=cashier, lines=[line(product)], tenders=[cash()])

    assert sale.warnings
    assert on_hand(product, location) == Decimal("-1")


def test_a_menu_item_consumes_its_recipe_ingredients(location, cashier):
    from inventory.models import RecipeLine

    register = open_register(location)
    bun = stocked_product(location, on_hand="10", kind=Product.Kind.INGREDIENT)
    patty = stocked_product(location, on_hand="10", kind=Product.Kind.INGREDIENT)
    burger = ProductFactory(kind=Product.Kind.MENU_ITEM, price=Decimal("9.50"))
    RecipeLine.objects.create(menu_item=burger, ingredient=bun, quantity=Decimal("1"))
    RecipeLine.objects.create(menu_item=burger, ingredient=patty, quantity=Decimal("2"))

    sell(register_id=register.pk, user=cashier, lines=[line(burger, "2")], tenders=[cash()])

    assert on_hand(bun, location) == Decimal("8")
    assert on_hand(patty, location) == Decimal("6")


def test_staff_cannot_sell_at_a_location_they_do_not_work_at(cashier):
    from inventory.tests.factories import LocationFactory

    elsewhere = LocationFactory()
    register = open_register(elsewhere)

    with pytest.raises(PermissionDenied):
        sell(register_id=register.pk, user=cashier, lines=[line(stocked_product(elsewhere))], tenders=[cash()])


def test_a_register_of_another_location_cannot_take_the_payment(location, manager):
    from inventory.tests.factories import LocationFactory

    other = open_register(LocationFactory())
    order = open_order(location_id=location.pk, user=manager, lines=[line(stocked_product(location))])

    with pytest.raises(DomainError) as error:
        take_payment(order_id=order.pk, register_id=other.pk, tenders=[cash()], user=manager)

    assert error.value.status == 404


def test_payments_and_receipts_cannot_be_edited_after_the_sale(location, cashier):
    register = open_register(location)
    sale = sell(register_id=register.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[cash()])

    payment = sale.payments[0]
    payment.amount = Decimal("1")
    with pytest.raises(ImmutableRowError):
        payment.save()
    with pytest.raises(ImmutableRowError):
        sale.receipt.delete()


def test_a_paid_order_can_no_longer_take_lines(location, cashier):
    register = open_register(location)
    product = stocked_product(location)
    sale = sell(register_id=register.pk, user=cashier, lines=[line(product)], tenders=[cash()])

    with pytest.raises(Conflict):
        add_lines(sale.order.pk, user=cashier, lines=[line(product)])


def test_an_order_with_only_voided_lines_cannot_be_paid(location, cashier):
    from orders.services import void_line

    register = open_register(location)
    order = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location))])
    void_line(order.lines.get().pk, user=cashier, reason="changed mind")

    with pytest.raises(DomainError) as error:
        take_payment(order_id=order.pk, register_id=register.pk, tenders=[cash()], user=cashier)

    assert error.value.code == "empty_order"


def test_a_held_order_is_paid_with_a_voucher_and_another_tender(location, cashier):
    from orders.services import hold_order

    register = open_register(location)
    order = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location, price="12.00"))])
    hold_order(order.pk, user=cashier)

    sale = take_payment(
        order_id=order.pk,
        register_id=register.pk,
        tenders=[TenderInput("voucher", amount=Decimal("5.00"), reference="GIFT-1"), TenderInput("other")],
        user=cashier,
    )

    assert [(p.tender, p.amount, p.change) for p in sale.payments] == [
        ("voucher", Decimal("5.00"), 0),
        ("other", Decimal("7.00"), 0),
    ]
    assert sale.payments[0].reference == "GIFT-1"
    assert sale.print_job.payload == {"open_drawer": False}


def test_a_currency_without_decimals_rounds_cash_to_the_hundred(location, cashier, settings):
    settings.POS_CURRENCY_DECIMALS = 0
    location.cash_rounding = Decimal("100")
    location.max_change = Decimal("100000")  # the store's caps are in its own currency
    location.save()
    register = open_register(location)
    product = stocked_product(location, price="10450")

    sale = sell(register_id=register.pk, user=cashier, lines=[line(product)], tenders=[cash("20000")])

    payment = sale.payments[0]
    assert (payment.amount, payment.rounding, payment.change) == (Decimal("10450"), Decimal("50"), Decimal("9500"))
    assert sale.order.tax_total == Decimal("1742")
