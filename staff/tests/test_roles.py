import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from inventory.tests.factories import UserFactory


@pytest.mark.django_db
def test_the_four_staff_roles_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Manager", "Cashier", "Waiter", "Kitchen"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "permission", "expected"),
    [
        ("Manager", "inventory.change_product", True),
        ("Manager", "billing.view_zreport", True),
        ("Cashier", "billing.add_payment", True),
        ("Cashier", "inventory.change_product", False),
        ("Cashier", "auth.view_user", False),
        ("Waiter", "orders.add_order", True),
        ("Waiter", "billing.add_payment", False),
        ("Kitchen", "orders.change_kitchenticket", True),
        ("Kitchen", "orders.add_order", False),
    ],
)
def test_each_role_has_the_permissions_its_work_needs_and_no_more(role, permission, expected):
    user = UserFactory(username=f"someone-{role.lower()}", role=role)
    assert user.has_perm(permission) is expected


@pytest.mark.django_db
def test_a_cashier_cannot_reach_the_admin_user_pages(client, cashier):
    client.force_login(cashier)
    response = client.get(reverse("admin:auth_user_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_a_manager_signs_in_and_reaches_the_admin(client, manager):
    response = client.post(reverse("login"), {"username": "manager", "password": "secret-pass-123"})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200


@pytest.mark.django_db
def test_the_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content
