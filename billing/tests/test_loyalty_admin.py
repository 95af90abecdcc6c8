"""The admin of loyalty points: the ledger is read-only; a manager adjusts a balance with a reason."""

import pytest
from django.urls import reverse

from billing.models import LoyaltyMovement
from billing.tests.factories import CustomerFactory
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db

ADJUST = "admin:billing_loyalty_adjust"


def test_a_manager_adjusts_a_customers_points_in_the_admin_and_it_is_audited(client, manager):
    customer = CustomerFactory()
    client.force_login(manager)

    response = client.post(reverse(ADJUST), {"customer": customer.pk, "points": "40", "reason": "birthday"})

    assert response.status_code == 302
    movement = LoyaltyMovement.objects.get()
    assert (movement.kind, movement.points, movement.reason, movement.user) == ("adjust", 40, "birthday", manager)
    assert AuditEvent.objects.filter(action="loyalty_adjust", actor=manager).exists()


def test_an_adjustment_below_zero_is_shown_on_the_form_and_writes_nothing(client, manager):
    customer = CustomerFactory()
    client.force_login(manager)

    response = client.post(reverse(ADJUST), {"customer": customer.pk, "points": "-5", "reason": "typo"})

    assert response.status_code == 200
    assert "0 points; 5 cannot be redeemed" in response.content.decode()
    assert not LoyaltyMovement.objects.exists()


def test_an_unknown_customer_is_named_on_the_form(client, manager):
    client.force_login(manager)

    response = client.post(reverse(ADJUST), {"customer": "999999", "points": "5", "reason": "x"})

    assert "Unknown customer." in response.content.decode()


def test_a_cashier_with_admin_access_cannot_adjust_points(client, cashier):
    cashier.is_staff = True
    cashier.save()
    client.force_login(cashier)

    response = client.post(reverse(ADJUST), {"customer": CustomerFactory().pk, "points": "5", "reason": "friend"})

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not LoyaltyMovement.objects.exists()


def test_the_ledger_in_the_admin_cannot_be_added_to_changed_or_deleted(client, manager):
    client.force_login(manager)

    assert client.get(reverse("admin:billing_loyaltymovement_changelist")).status_code == 200
    assert client.get(reverse("admin:billing_loyaltymovement_add")).status_code == 403
