"""Any sequence of gift-card movements through the real services keeps every card's balance equal to its ledger
and never below zero, and the liability the reports show equals the sum of the balances."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing import giftcards, reports
from billing.models import GiftCard
from billing.services import RefundItem, refund, sell
from core.errors import DomainError
from inventory.models import Product
from inventory.tests.factories import ProductFactory
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("80.00"), places=2)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), amounts),
        st.tuples(st.just("redeem"), st.integers(0, 3), amounts, st.booleans()),
        st.tuples(st.just("refund"), st.integers(0, 5)),
        st.tuples(st.just("store_credit"), st.integers(0, 5)),
        st.tuples(st.just("expire"), st.integers(0, 3)),
        st.tuples(st.just("adjust"), st.integers(0, 3), amounts, st.booleans()),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture
def shop(location, manager):
    till = open_register(location)
    return {
        "till": till,
        "gift_card": ProductFactory(kind=Product.Kind.GIFT_CARD, name="Gift card", price=Decimal("0")),
        "goods": stocked_product(location, on_hand="1000", price="1.00"),
    }


def _apply(step, shop, manager, sales):
    cards = list(GiftCard.objects.order_by("pk"))
    kind = step[0]
    if kind == "issue":
        sell(
            register_id=shop["till"].pk,
            user=manager,
            lines=[line(shop["gift_card"], unit_price=step[1])],
            tenders=[TenderInput("cash")],
        )
    elif kind == "redeem" and cards:
        card, amount, partial = cards[step[1] % len(cards)], step[2], step[3]
        quantity = str(int(amount.to_integral_value()) or 1)
        sale = sell(
            register_id=shop["till"].pk,
            user=manager,
            lines=[line(shop["goods"], quantity)],
            tenders=[TenderInput("gift_card", card=card.code, allow_partial=partial), TenderInput("card")]
            if partial
            else [TenderInput("gift_card", card=card.code)],
        )
        sales.append(sale)
    elif kind in ("refund", "store_credit") and sales:
        sale = sales.pop(step[1] % len(sales))
        refund(
            order_id=sale.order.pk,
            register_id=shop["till"].pk,
            items=[RefundItem(sale.lines[0].pk, sale.lines[0].quantity)],
            reason="property",
            user=manager,
            tender="gift_card" if kind == "refund" and any(p.gift_card_id for p in sale.payments) else None,
            store_credit=kind == "store_credit",
        )
    elif kind == "expire" and cards:
        card = cards[step[1] % len(cards)]
        GiftCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        giftcards.expire_due_cards()
    elif kind == "adjust" and cards:
        card, amount = cards[step[1] % len(cards)], step[2]
        giftcards.adjust_card(card_id=card.pk, amount=amount if step[3] else -amount, reason="property", user=manager)


def _check(location):
    for card in GiftCard.objects.all():
        assert card.balance >= 0
        assert card.balance == card.movements.aggregate(total=Sum("amount"))["total"]
    today = timezone.localdate()
    liability = reports.gift_card_liability(reports.period(location=location, date_from=today, date_to=today))
    assert liability["outstanding"] == (GiftCard.objects.aggregate(total=Sum("balance"))["total"] or Decimal("0"))
    assert (
        liability["sold"]
        + liability["refunded_to_cards"]
        + liability["adjusted"]
        - liability["redeemed"]
        - (liability["breakage"])
        == liability["outstanding"]
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_any_sequence_of_card_movements_keeps_balances_equal_to_the_ledger_and_the_liability_to_their_sum(
    location, manager, shop, plan
):
    with transaction.atomic():
        try:
            sales = []
            for step in plan:
                try:
                    with transaction.atomic():
                        _apply(step, shop, manager, sales)
                    event(f"{step[0]} applied")
                except DomainError as refusal:
                    event(f"{step[0]} refused: {refusal.code}")  # a refusal changes nothing
                _check(location)
        finally:
            transaction.set_rollback(True)
