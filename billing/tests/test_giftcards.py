"""Gift cards and store credit: selling, redeeming, refunding, expiring and adjusting (billing.giftcards)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from billing import giftcards, reports, sessions
from billing.models import GiftCard, GiftCardMovement, Payment
from billing.services import RefundItem, refund, sell, take_payment
from billing.tests.factories import GiftCardFactory
from core.errors import ApprovalRequired, DomainError
from inventory.models import Product, StockMove
from inventory.tests.factories import ProductFactory
from orders.pricing import TenderInput
from orders.services import open_order
from orders.tests.helpers import line, open_register, stocked_product
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def till(location):
    return open_register(location)


@pytest.fixture
def gift_card_product():
    return ProductFactory(kind=Product.Kind.GIFT_CARD, name="Gift card", price=Decimal("0"), cost=Decimal("0"))


def ledger(card) -> Decimal:
    return card.movements.aggregate(total=Sum("amount"))["total"]


def card_tender(card, amount=None, **extra) -> TenderInput:
    return TenderInput("gift_card", amount=None if amount is None else Decimal(amount), card=card.code, **extra)


def sell_card(till, user, product, amount="50.00", tenders=None):
    return sell(
        register_id=till.pk,
        user=user,
        lines=[line(product, unit_price=Decimal(amount))],
        tenders=tenders or [TenderInput("cash")],
    )


# --- selling -----------------------------------------------------------------------------------------------------


def test_selling_a_gift_card_issues_a_card_with_its_amount_when_the_order_is_paid(
    location, till, cashier, gift_card_product
):
    sale = sell_card(till, cashier, gift_card_product, "50.00")

    (card,) = sale.gift_cards
    card.refresh_from_db()
    assert (card.balance, card.initial_value, card.kind, card.order) == (
        Decimal("50.00"),
        Decimal("50.00"),
        GiftCard.Kind.GIFT_CARD,
        sale.order,
    )
    assert list(card.movements.values_list("kind", "amount")) == [("issue", Decimal("50.00"))]


def test_a_gift_card_line_carries_no_tax_and_takes_nothing_from_stock(location, till, cashier, gift_card_product):
    sale = sell_card(till, cashier, gift_card_product, "40.00")

    (sold,) = sale.lines
    assert (sold.tax_amount, sold.tax_rate_percent, sold.unit_cost) == (Decimal("0.00"), Decimal("0"), Decimal("0"))
    assert not StockMove.objects.filter(product=gift_card_product).exists()


def test_selling_a_gift_card_and_a_meal_taxes_only_the_meal_and_counts_only_the_meal_as_sales(
    location, till, cashier, gift_card_product
):
    meal = stocked_product(location, price="12.00")  # 20% included: 2.00 tax
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(meal), line(gift_card_product, unit_price=Decimal("25.00"))],
        tenders=[TenderInput("cash")],
    )

    assert (sale.order.total, sale.order.tax_total) == (Decimal("37.00"), Decimal("2.00"))
    totals = sessions.session_totals(sale.receipt.session)
    assert (totals.sales, totals.net_sales, totals.tax_total) == (Decimal("12.00"), Decimal("12.00"), Decimal("2.00"))
    assert totals.gift_cards["sold"] == Decimal("25.00")
    assert [(r.name, r.net_base, r.net_tax) for r in totals.tax_rates] == [
        ("Standard", Decimal("10.00"), Decimal("2.00"))
    ]
    assert totals.payments_total == Decimal("37.00")


def test_the_sales_reports_show_gift_cards_sold_apart_from_sales(location, till, cashier, gift_card_product):
    meal = stocked_product(location, price="12.00")
    sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(meal), line(gift_card_product, unit_price=Decimal("25.00"))],
        tenders=[TenderInput("cash")],
    )
    today = timezone.localdate()
    period = reports.period(location=location, date_from=today, date_to=today)

    summary = reports.summary(period)
    liability = reports.gift_card_liability(period)

    assert (summary["sales"], summary["net_sales"], summary["tax"]) == (
        Decimal("12.00"),
        Decimal("12.00"),
        Decimal("2.00"),
    )
    assert summary["gift_cards_sold"] == Decimal("25.00")
    assert (liability["sold"], liability["outstanding"]) == (Decimal("25.00"), Decimal("25.00"))
    assert Product.objects.get(pk=gift_card_product.pk).pk not in reports.product_sums(period)


def test_a_gift_card_amount_above_the_card_limit_is_refused(location, till, cashier, gift_card_product, settings):
    settings.GIFT_CARD_MAX_BALANCE = "500"

    with pytest.raises(DomainError) as caught:
        sell_card(till, cashier, gift_card_product, "500.01")

    assert caught.value.code == "gift_card_limit"
    assert not GiftCard.objects.exists()


def test_a_card_expires_the_configured_number_of_days_after_issue(location, till, cashier, gift_card_product, settings):
    settings.GIFT_CARD_EXPIRY_DAYS = 365

    (card,) = sell_card(till, cashier, gift_card_product).gift_cards

    assert card.expires_at - card.created_at < timedelta(days=365, seconds=5)
    assert card.expires_at - card.created_at > timedelta(days=364, hours=23)


def test_with_no_expiry_configured_a_card_never_expires(location, till, cashier, gift_card_product, settings):
    settings.GIFT_CARD_EXPIRY_DAYS = 0

    (card,) = sell_card(till, cashier, gift_card_product).gift_cards

    assert card.expires_at is None


def test_a_card_code_is_sixteen_unambiguous_characters_and_reads_back_however_typed():
    code = giftcards.new_code()

    assert len(code) == 16 and set(code) <= set(giftcards.ALPHABET)
    assert giftcards.normalize_code(giftcards.display_code(code).lower()) == code


# --- redeeming ---------------------------------------------------------------------------------------------------


def test_a_card_pays_part_of_an_order_and_cash_the_rest(location, till, cashier):
    card = GiftCardFactory(balance=Decimal("10.00"), issued_at=location)
    meal = stocked_product(location, price="24.00")

    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(meal)],
        tenders=[card_tender(card, "10.00"), TenderInput("cash", tendered=Decimal("20.00"))],
    )

    card.refresh_from_db()
    assert card.balance == Decimal("0.00")
    paid_by_card = sale.payments[0]
    assert (paid_by_card.tender, paid_by_card.amount, paid_by_card.gift_card) == ("gift_card", Decimal("10.00"), card)
    assert sale.change == Decimal("6.00")
    redeem = card.movements.get(kind="redeem")
    assert (redeem.amount, redeem.balance_after, redeem.payment_id) == (
        Decimal("-10.00"),
        Decimal("0.00"),
        paid_by_card.pk,
    )


def test_a_card_is_redeemed_across_visits_and_stores_until_it_is_empty(location, cashier, manager):
    from inventory.tests.factories import LocationFactory

    other = LocationFactory(code="north")
    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=location)
    for store, user in ((location, cashier), (other, manager)):
        register = open_register(store)
        sell(
            register_id=register.pk,
            user=user,
            lines=[line(stocked_product(store, price="15.00"))],
            tenders=[card_tender(card)],
        )

    card.refresh_from_db()
    assert card.balance == Decimal("0.00") == ledger(card)
    assert sorted(card.movements.filter(kind="redeem").values_list("location__code", flat=True)) == ["main", "north"]


def test_a_card_holding_less_than_asked_is_refused_with_its_balance(location, till, cashier):
    card = GiftCardFactory(balance=Decimal("5.00"), issued_at=location)

    with pytest.raises(DomainError) as caught:
        sell(register_id=till.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[card_tender(card)])

    assert caught.value.code == "insufficient_balance"
    assert caught.value.fields["available"] == ["5.00"]
    card.refresh_from_db()
    assert card.balance == Decimal("5.00")


def test_a_partial_redemption_takes_what_the_card_holds_and_leaves_the_rest_to_other_tenders(location, till, cashier):
    card = GiftCardFactory(balance=Decimal("4.00"), issued_at=location)

    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(stocked_product(location, price="10.00"))],
        tenders=[card_tender(card, allow_partial=True), TenderInput("card")],
    )

    assert [(p.tender, p.amount) for p in sale.payments] == [("gift_card", Decimal("4.00")), ("card", Decimal("6.00"))]
    card.refresh_from_db()
    assert card.balance == Decimal("0.00")


def test_a_tip_cannot_be_taken_from_a_gift_card(location, till, cashier):
    card = GiftCardFactory(balance=Decimal("50.00"), issued_at=location)

    with pytest.raises(DomainError) as caught:
        sell(
            register_id=till.pk,
            user=cashier,
            lines=[line(stocked_product(location))],
            tenders=[card_tender(card, tip=Decimal("1.00"))],
        )

    assert caught.value.fields == {
        "tenders[0].tip": ["A tip cannot be taken from a gift card: add it to another tender."]
    }
    card.refresh_from_db()
    assert card.balance == Decimal("50.00")


def test_an_unknown_card_code_is_not_found(location, till, cashier):
    with pytest.raises(DomainError) as caught:
        sell(
            register_id=till.pk,
            user=cashier,
            lines=[line(stocked_product(location))],
            tenders=[TenderInput("gift_card", card="0000-0000-0000-0000")],
        )

    assert (caught.value.code, caught.value.status) == ("gift_card_not_found", 404)


def test_an_expired_card_is_refused(location, till, cashier):
    card = GiftCardFactory(balance=Decimal("50.00"), issued_at=location, expires_at=timezone.now() - timedelta(days=1))

    with pytest.raises(DomainError) as caught:
        sell(register_id=till.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[card_tender(card)])

    assert caught.value.code == "gift_card_expired"


def test_a_failed_sale_leaves_the_card_balance_untouched(location, till, cashier):
    card = GiftCardFactory(balance=Decimal("50.00"), issued_at=location)
    scarce = stocked_product(location, on_hand="0")

    with pytest.raises(DomainError):
        sell(register_id=till.pk, user=cashier, lines=[line(scarce)], tenders=[card_tender(card)])

    card.refresh_from_db()
    assert card.balance == Decimal("50.00") == ledger(card)


def test_an_open_order_is_paid_with_a_card(location, till, cashier):
    card = GiftCardFactory(balance=Decimal("50.00"), issued_at=location)
    order = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location, price="8.00"))])

    take_payment(order_id=order.pk, register_id=till.pk, tenders=[card_tender(card)], user=cashier)

    card.refresh_from_db()
    assert card.balance == Decimal("42.00") == ledger(card)


# --- refunds -----------------------------------------------------------------------------------------------------


def test_a_refund_goes_back_to_the_card_that_paid(location, till, cashier, manager):
    card = GiftCardFactory(balance=Decimal("50.00"), issued_at=location)
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(stocked_product(location, price="20.00"))],
        tenders=[card_tender(card)],
    )

    record = refund(
        order_id=sale.order.pk,
        register_id=till.pk,
        items=[RefundItem(sale.lines[0].pk, Decimal("1"))],
        reason="cold",
        user=manager,
        tender="gift_card",
    )

    card.refresh_from_db()
    assert (record.tender, record.gift_card, card.balance) == ("gift_card", card, Decimal("50.00"))
    assert card.movements.get(kind="refund").refund == record
    assert ledger(card) == card.balance


def test_a_refund_to_a_card_cannot_exceed_what_the_card_paid(location, till, cashier, manager):
    card = GiftCardFactory(balance=Decimal("5.00"), issued_at=location)
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(stocked_product(location, price="20.00"))],
        tenders=[card_tender(card, "5.00"), TenderInput("card")],
    )

    with pytest.raises(DomainError) as caught:
        refund(
            order_id=sale.order.pk,
            register_id=till.pk,
            items=[RefundItem(sale.lines[0].pk, Decimal("1"))],
            reason="cold",
            user=manager,
            tender="gift_card",
        )

    assert caught.value.code == "refund_exceeds_paid"


def test_a_refund_to_a_card_that_has_expired_since_is_refused_in_favour_of_store_credit(
    location, till, cashier, manager
):
    card = GiftCardFactory(balance=Decimal("50.00"), issued_at=location)
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(stocked_product(location, price="20.00"))],
        tenders=[card_tender(card)],
    )
    GiftCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(DomainError) as caught:
        refund(
            order_id=sale.order.pk,
            register_id=till.pk,
            items=[RefundItem(sale.lines[0].pk, Decimal("1"))],
            reason="cold",
            user=manager,
            tender="gift_card",
        )

    assert caught.value.code == "gift_card_expired"


def test_a_refund_to_store_credit_issues_a_new_card_for_the_order_customer(location, till, cashier, manager):
    from orders.models import Customer

    customer = Customer.objects.create(name="Ada", phone="+4412345")
    order = open_order(location_id=location.pk, user=cashier, lines=[line(stocked_product(location, price="20.00"))])
    order.customer = customer
    order.save(update_fields=["customer"])
    take_payment(order_id=order.pk, register_id=till.pk, tenders=[TenderInput("cash")], user=cashier)

    record = refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(order.lines.get().pk, Decimal("1"))],
        reason="wrong size",
        user=manager,
        store_credit=True,
    )

    credit = record.gift_card
    assert (record.tender, credit.kind, credit.balance, credit.customer) == (
        "gift_card",
        GiftCard.Kind.STORE_CREDIT,
        Decimal("20.00"),
        customer,
    )
    assert ledger(credit) == Decimal("20.00")
    assert sessions.session_totals(record.session).cash.cash_refunds == Decimal("0.00")


def test_a_gift_card_sold_cannot_be_refunded(location, till, cashier, manager, gift_card_product):
    sale = sell_card(till, cashier, gift_card_product)

    with pytest.raises(DomainError) as caught:
        refund(
            order_id=sale.order.pk,
            register_id=till.pk,
            items=[RefundItem(sale.lines[0].pk, Decimal("1"))],
            reason="changed mind",
            user=manager,
        )

    assert caught.value.code == "gift_card_not_refundable"


# --- expiry and adjustments --------------------------------------------------------------------------------------


def test_expiry_writes_off_the_balance_of_a_card_past_its_date_as_breakage(location, cashier):
    card = GiftCardFactory(balance=Decimal("12.50"), issued_at=location, expires_at=timezone.now() - timedelta(hours=1))
    fresh = GiftCardFactory(balance=Decimal("9.00"), issued_at=location, expires_at=timezone.now() + timedelta(days=1))

    assert giftcards.expire_due_cards() == 1

    card.refresh_from_db()
    assert (card.balance, ledger(card)) == (Decimal("0.00"), Decimal("0.00"))
    assert card.movements.get(kind="expire").amount == Decimal("-12.50")
    fresh.refresh_from_db()
    assert fresh.balance == Decimal("9.00")
    start = timezone.now() - timedelta(days=1)
    summary = giftcards.liability_summary(start, timezone.now() + timedelta(seconds=1))
    assert (summary["breakage"], summary["outstanding"]) == (Decimal("12.50"), Decimal("9.00"))


def test_expiring_twice_writes_off_once(location):
    GiftCardFactory(balance=Decimal("7.00"), issued_at=location, expires_at=timezone.now() - timedelta(hours=1))

    assert (giftcards.expire_due_cards(), giftcards.expire_due_cards()) == (1, 0)
    assert GiftCardMovement.objects.filter(kind="expire").count() == 1


def test_the_expiry_task_writes_off_due_cards(location):
    from billing.tasks import expire_gift_cards

    GiftCardFactory(balance=Decimal("7.00"), issued_at=location, expires_at=timezone.now() - timedelta(hours=1))

    assert expire_gift_cards.run() == 1


def test_a_manager_adjusts_a_card_with_a_reason_and_it_is_audited(location, manager):
    card = GiftCardFactory(balance=Decimal("20.00"), issued_at=location)

    giftcards.adjust_card(card_id=card.pk, amount=Decimal("-5.00"), reason="printed twice", user=manager)

    card.refresh_from_db()
    assert card.balance == Decimal("15.00") == ledger(card)
    event = AuditEvent.objects.get(action="gift_card_adjusted")
    assert (event.actor, event.reason) == (manager, "printed twice")


def test_a_cashier_cannot_adjust_a_card(location, cashier):
    card = GiftCardFactory(balance=Decimal("20.00"), issued_at=location)

    with pytest.raises(ApprovalRequired):
        giftcards.adjust_card(card_id=card.pk, amount=Decimal("5.00"), reason="goodwill", user=cashier)


def test_an_adjustment_never_takes_a_card_below_zero(location, manager):
    card = GiftCardFactory(balance=Decimal("3.00"), issued_at=location)

    with pytest.raises(DomainError) as caught:
        giftcards.adjust_card(card_id=card.pk, amount=Decimal("-3.01"), reason="typo", user=manager)

    assert caught.value.code == "insufficient_balance"


def test_the_ledger_check_finds_a_card_whose_balance_drifted_from_its_movements(location):
    card = GiftCardFactory(balance=Decimal("10.00"), issued_at=location)
    GiftCard.objects.filter(pk=card.pk).update(balance=Decimal("11.00"))

    assert [row["card"] for row in giftcards.ledger_mismatches()] == [card.pk]


def test_a_gift_card_payment_without_a_card_is_refused_by_the_database(location, till, cashier):
    from django.db import IntegrityError, transaction

    order = sell(
        register_id=till.pk, user=cashier, lines=[line(stocked_product(location))], tenders=[TenderInput("cash")]
    ).order

    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            order=order,
            session=order.payments.get().session,
            tender="gift_card",
            amount=Decimal("1.00"),
            created_by=cashier,
        )


def test_a_gift_card_redemption_adds_no_round_trip_to_a_counter_sale(location, till, cashier):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    card = GiftCardFactory(balance=Decimal("50.00"), issued_at=location)
    products = [stocked_product(location, price="2.50") for _ in range(5)]

    def counter_sale(tenders):
        with CaptureQueriesContext(connection) as sent:
            sell(register_id=till.pk, user=cashier, lines=[line(p) for p in products], tenders=tenders)
        return len(sent.captured_queries)

    counter_sale([TenderInput("card")])  # warm: the first sale reads what later ones find cached

    card_only = counter_sale([TenderInput("card")])
    with_gift_card = counter_sale([card_tender(card, "5.00"), TenderInput("card")])

    assert with_gift_card == card_only


def test_a_gift_card_balance_check_still_answers_while_the_cache_is_down(monkeypatch, location, cashier):
    from django.core.cache import cache

    from billing.giftcards import check_balance, display_code

    card = GiftCardFactory(issued_at=location)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", down)
    monkeypatch.setattr(cache, "get", down)

    assert check_balance(display_code(card.code), user=cashier).pk == card.pk
