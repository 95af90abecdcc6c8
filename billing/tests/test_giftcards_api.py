"""The gift-card API: redeeming as a checkout tender, balance checks, issuing, refunds onto a card."""

import json
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.models import GiftCard
from billing.tests.factories import GiftCardFactory
from orders.tests.helpers import open_register, stocked_product
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def till(location):
    return open_register(location)


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(client, url, data, key=True):
    headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())} if key else {}
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


def test_a_checkout_pays_with_a_gift_card_code_and_answers_the_balance_left(location, cashier, till):
    card = GiftCardFactory(balance=Decimal("30.00"), issued_at=location)
    product = stocked_product(location, price="12.00")

    response = post(
        client_for(cashier),
        "/api/v1/checkout/",
        {
            "register": till.pk,
            "lines": [{"product": product.pk, "quantity": "1"}],
            "tenders": [{"tender": "gift_card", "card": card.code.lower()}],
        },
    )

    assert response.status_code == 201, response.json()
    assert response.json()["card_balances"][0]["balance"] == "18.00"
    assert response.json()["payments"][0]["reference"] == card.masked_code


def test_a_checkout_with_a_card_holding_too_little_is_a_400_with_the_available_balance(location, cashier, till):
    card = GiftCardFactory(balance=Decimal("3.00"), issued_at=location)
    product = stocked_product(location, price="12.00")

    response = post(
        client_for(cashier),
        "/api/v1/checkout/",
        {
            "register": till.pk,
            "lines": [{"product": product.pk, "quantity": "1"}],
            "tenders": [{"tender": "gift_card", "card": card.code}],
        },
    )

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["fields"]["available"]) == ("insufficient_balance", ["3.00"])


def test_a_balance_check_answers_the_balance_with_the_code_masked(location, cashier):
    card = GiftCardFactory(balance=Decimal("42.00"), issued_at=location)

    response = post(client_for(cashier), "/api/v1/gift-cards/balance/", {"code": card.code}, key=False)

    assert response.status_code == 200
    assert response.json() == {
        "card": card.masked_code,
        "kind": "gift_card",
        "balance": "42.00",
        "expires_at": None,
        "expired": False,
    }


def test_a_balance_check_of_an_unknown_code_is_a_404(cashier):
    response = post(client_for(cashier), "/api/v1/gift-cards/balance/", {"code": "NOPE"}, key=False)

    assert (response.status_code, response.json()["code"]) == (404, "gift_card_not_found")


def test_too_many_unknown_codes_are_refused_for_a_while_even_for_a_real_code(location, cashier):
    from billing import giftcards

    card = GiftCardFactory(balance=Decimal("42.00"), issued_at=location)
    client = client_for(cashier)
    for i in range(giftcards.LOOKUP_MISSES_ALLOWED):
        post(client, "/api/v1/gift-cards/balance/", {"code": f"WRONG{i}"}, key=False)

    response = post(client, "/api/v1/gift-cards/balance/", {"code": card.code}, key=False)

    assert (response.status_code, response.json().get("code")) == (429, "too_many_attempts"), response.json()


def test_a_manager_issues_store_credit_and_it_is_audited(location, manager):
    response = post(
        client_for(manager),
        "/api/v1/gift-cards/",
        {"location": location.pk, "amount": "15.00", "reason": "late delivery"},
    )

    assert response.status_code == 201, response.json()
    card = GiftCard.objects.get()
    assert (card.kind, card.balance) == ("store_credit", Decimal("15.00"))
    assert response.json()["code"].replace("-", "") == card.code
    assert AuditEvent.objects.filter(action="gift_card_issued", actor=manager).exists()


def test_a_cashier_cannot_issue_a_card(location, cashier):
    response = post(
        client_for(cashier), "/api/v1/gift-cards/", {"location": location.pk, "amount": "15.00", "reason": "x"}
    )

    assert response.status_code == 403
    assert not GiftCard.objects.exists()


def test_a_refund_through_the_api_goes_to_store_credit(location, cashier, manager, till):
    product = stocked_product(location, price="9.00")
    sale = post(
        client_for(cashier),
        "/api/v1/checkout/",
        {"register": till.pk, "lines": [{"product": product.pk, "quantity": "1"}], "tenders": [{"tender": "card"}]},
    ).json()

    response = post(
        client_for(manager),
        "/api/v1/refunds/",
        {
            "order": sale["order"]["uuid"],
            "register": till.pk,
            "lines": [{"line": sale["lines"][0]["id"], "quantity": "1"}],
            "reason": "faulty",
            "store_credit": True,
        },
    )

    assert response.status_code == 201, response.json()
    credit = GiftCard.objects.get()
    assert (credit.kind, credit.balance, response.json()["tender"]) == ("store_credit", Decimal("9.00"), "gift_card")
