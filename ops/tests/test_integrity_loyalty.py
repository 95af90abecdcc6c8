"""`integrity_check` on loyalty points: a balance is never negative and is the sum of the customer's ledger."""

import pytest

from billing import loyalty
from billing.models import LoyaltyAccount, LoyaltyMovement
from billing.tests.factories import CustomerFactory
from ops.integrity import check_loyalty_points, collect_violations

pytestmark = pytest.mark.django_db


def test_balances_that_are_the_sum_of_their_ledger_pass(manager):
    customer = CustomerFactory()
    loyalty.adjust_points(customer_id=customer.pk, points=30, reason="welcome", user=manager)
    loyalty.adjust_points(customer_id=customer.pk, points=-10, reason="typo", user=manager)

    assert check_loyalty_points() == []
    assert collect_violations().checked["loyalty_points"] == 0


def test_a_balance_that_disagrees_with_the_ledger_is_reported_with_the_customer(manager):
    customer = CustomerFactory()
    loyalty.adjust_points(customer_id=customer.pk, points=30, reason="welcome", user=manager)
    LoyaltyAccount.objects.filter(pk=customer.pk).update(balance=45)  # written behind the services' back

    [violation] = check_loyalty_points()

    assert violation.invariant == "loyalty_balance_matches_ledger"
    assert violation.ids == {"customer": customer.pk}
    assert "45 points but the ledger sums to 30" in violation.message


def test_ledger_rows_without_a_balance_are_reported(manager):
    customer = CustomerFactory()
    loyalty.adjust_points(customer_id=customer.pk, points=30, reason="welcome", user=manager)
    LoyaltyAccount.objects.filter(pk=customer.pk).delete()

    assert [v.ids for v in check_loyalty_points()] == [{"customer": customer.pk}]
    assert LoyaltyMovement.objects.filter(customer=customer).exists()
