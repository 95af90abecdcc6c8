"""Every /ops/ page (backups, back up now, integrity, and any added later) is for the Manager role only."""

import pytest
from django.test import Client

from posproject.tests.test_role_matrix import got_past, url_names

pytestmark = pytest.mark.django_db


def ops_paths() -> list[str]:
    return sorted(path for path in url_names().values() if path.startswith("/ops/"))


def test_there_are_ops_pages_to_check():
    assert {"/ops/backups/", "/ops/backups/run/", "/ops/integrity/"} <= set(ops_paths())


@pytest.mark.parametrize("method", ["get", "post"])
def test_staff_without_the_manager_role_are_refused_every_ops_page(cashier, method):
    cashier.is_staff = True
    cashier.save()
    browser = Client()
    browser.force_login(cashier)

    let_through = [path for path in ops_paths() if got_past(getattr(browser, method)(path))]

    assert let_through == []


def test_staff_without_the_manager_role_get_a_403_not_a_sign_in_loop(cashier):
    cashier.is_staff = True
    cashier.save()
    browser = Client()
    browser.force_login(cashier)

    assert [browser.get(path).status_code for path in ("/ops/backups/", "/ops/integrity/")] == [403, 403]


def test_anonymous_visitors_are_sent_to_sign_in():
    responses = [Client().get(path) for path in ops_paths()]

    assert {response.status_code for response in responses} == {302}
    assert not any(got_past(response) for response in responses)


def test_managers_and_superusers_open_every_ops_page(manager, django_user_model):
    owner = django_user_model.objects.create_superuser("owner", "owner@example.com", "secret-pass-123")
    for user in (manager, owner):
        browser = Client()
        browser.force_login(user)
        assert [browser.get(path).status_code for path in ("/ops/backups/", "/ops/integrity/")] == [200, 200]
