"""Ten tills redeeming the same card at once, on real PostgreSQL from real threads (each with its own connection)."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import GiftCard, Payment
from billing.services import sell
from billing.tests.factories import GiftCardFactory
from billing.tests.test_checkout_concurrency import run_at_once
from core.errors import DomainError
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)

TILLS = 10


def redeem_at_ten_tills(location, cashier, card, *, allow_partial=False):
    product = stocked_product(location, on_hand="100", price="20.00")
    registers = [open_register(location) for _ in range(TILLS)]

    def checkout(register):
        tenders = [TenderInput("gift_card", card=card.code, allow_partial=allow_partial)]
        if allow_partial:  # 5.00 on a bank card, the rest (15.00) or what the card holds on the gift card
            tenders.insert(0, TenderInput("card", amount=Decimal("5.00")))
        return lambda: sell(register_id=register.pk, user=cashier, lines=[line(product)], tenders=tenders)

    return run_at_once([checkout(register) for register in registers])


def test_ten_tills_redeeming_the_last_twenty_of_a_card_at_once_leave_exactly_one_sale(location, cashier):
    card = GiftCardFactory(balance=Decimal("20.00"), issued_at=location)

    results = redeem_at_ten_tills(location, cashier, card)

    sales = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(sales) == 1
    assert [(type(e), e.code) for e in refused] == [(DomainError, "insufficient_balance")] * (TILLS - 1)
    assert all(e.fields["available"] == ["0.00"] for e in refused)
    card.refresh_from_db()
    assert card.balance == Decimal("0.00")
    assert card.movements.aggregate(total=Sum("amount"))["total"] == card.balance
    assert Payment.objects.filter(gift_card=card).count() == 1


def test_ten_tills_taking_what_a_card_holds_at_once_never_take_more_than_it_held(location, cashier):
    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=location)

    results = redeem_at_ten_tills(location, cashier, card, allow_partial=True)

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == TILLS - 2
    assert {e.code for e in errors} == {"insufficient_balance"}
    taken = Payment.objects.filter(gift_card=card).aggregate(total=Sum("amount"))["total"]
    card.refresh_from_db()
    assert taken == Decimal("30.00")
    assert card.balance == Decimal("0.00") == card.movements.aggregate(total=Sum("amount"))["total"]
    assert GiftCard.objects.filter(balance__lt=0).count() == 0
