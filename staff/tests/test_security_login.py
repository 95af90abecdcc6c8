"""Login lockout (per username + client IP, and per client IP across usernames), the manager's unlock, the
managers-only admin and the idle sign-out."""

import time

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from orders.tests.pos_helpers import PINS, give_pin
from staff.middleware import LAST_ACTIVITY_KEY
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "secret-pass-123"  # inventory.tests.factories.UserFactory


def _fail_logins(client, username, times, **extra):
    for _ in range(times):
        client.post(LOGIN, {"username": username, "password": "wrong"}, **extra)


def _login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_wrong_passwords_lock_that_username_even_with_the_right_password(client, cashier):
    _fail_logins(client, "cashier", 3)

    response = _login(client, "cashier")

    assert response.status_code == 429
    assert b"Sign-in locked" in response.content
    assert "_auth_user_id" not in client.session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_lockout_is_per_address_so_the_same_username_signs_in_from_another_till(client, cashier):
    _fail_logins(client, "cashier", 3, REMOTE_ADDR="10.0.0.7")

    response = _login(client, "cashier", REMOTE_ADDR="10.0.0.8")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(cashier.pk)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_lockout_is_per_username_so_others_sign_in_from_the_same_address(client, cashier, waiter):
    _fail_logins(client, "cashier", 3)

    assert _login(client, "waiter").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3, LOGIN_IP_FAILURE_LIMIT=6)
def test_passwords_sprayed_across_usernames_lock_that_address_for_everyone(client, cashier, waiter, manager):
    for username in ("cashier", "waiter", "manager", "owner", "admin", "kitchen"):  # one try each: under 3
        _fail_logins(client, username, 1, REMOTE_ADDR="10.0.0.7")

    response = _login(client, "waiter", REMOTE_ADDR="10.0.0.7")

    assert response.status_code == 429
    assert b"Too many failed sign-ins from this device." in response.content
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.filter(action="login_locked_out").first()
    assert event.data["ip_address"] == "10.0.0.7" and event.data["scope"] == "address"
    assert _login(client, "waiter", REMOTE_ADDR="10.0.0.8").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3, LOGIN_IP_FAILURE_LIMIT=6)
def test_failures_under_the_address_limit_leave_other_usernames_free_to_sign_in(client, cashier, waiter):
    for username in ("cashier", "owner", "admin", "kitchen", "bar"):
        _fail_logins(client, username, 1)

    assert _login(client, "waiter").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3, LOGIN_IP_FAILURE_LIMIT=4)
def test_a_manager_lifts_an_address_lockout_with_axes_reset_ip(client, cashier, waiter):
    for username in ("cashier", "owner", "admin", "kitchen"):
        _fail_logins(client, username, 1)
    assert _login(client, "waiter").status_code == 429

    call_command("axes_reset_ip", "127.0.0.1")

    assert _login(client, "waiter").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3, PROXY_CLIENT_IP_HEADER="X-Real-IP", TRUSTED_PROXIES=["172.16.0.0/12"])
def test_behind_the_proxy_the_client_address_is_the_one_nginx_forwards(client, cashier):
    proxy = {"REMOTE_ADDR": "172.18.0.5"}
    _fail_logins(client, "cashier", 3, HTTP_X_REAL_IP="203.0.113.10", **proxy)

    assert _login(client, "cashier", HTTP_X_REAL_IP="203.0.113.10", **proxy).status_code == 429
    assert _login(client, "cashier", HTTP_X_REAL_IP="203.0.113.11", **proxy).status_code == 302
    assert AccessAttempt.objects.get().ip_address == "203.0.113.10"


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_lockout_leaves_an_audit_event(client, cashier):
    _fail_logins(client, "cashier", 3)

    event = AuditEvent.objects.get(action="login_locked_out")
    assert event.object_id == "cashier"
    assert event.data["ip_address"] == "127.0.0.1"


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_manager_unlocks_a_login_in_the_admin_and_it_is_audited(client, cashier, manager):
    _fail_logins(client, "cashier", 3)
    attempt = AccessAttempt.objects.get(username="cashier")
    admin_client = client.__class__()
    admin_client.force_login(manager)

    response = admin_client.post(
        "/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True
    )

    assert b"Unlocked 1 login(s)." in response.content
    assert _login(client, "cashier").status_code == 302
    event = AuditEvent.objects.get(action="login_unlocked")
    assert (event.actor, event.object_id) == (manager, "cashier")


@override_settings(AXES_FAILURE_LIMIT=3)
def test_axes_reset_username_command_unlocks_a_login_and_it_is_audited(client, cashier):
    _fail_logins(client, "cashier", 3)

    call_command("axes_reset_username", "cashier")

    assert _login(client, "cashier").status_code == 302
    assert AuditEvent.objects.filter(action="login_unlocked", object_id="cashier", actor=None).count() == 1


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_admin_login_is_locked_out_too(client, manager):
    for _ in range(3):
        client.post("/admin/login/", {"username": "manager", "password": "wrong"})

    response = client.post("/admin/login/", {"username": "manager", "password": "secret-pass-123"})

    assert response.status_code == 429


# --- the admin is for managers ---------------------------------------------------------------------------------


def test_a_cashier_marked_staff_still_cannot_open_the_admin(client, cashier):
    cashier.is_staff = True
    cashier.save()
    client.force_login(cashier)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_cashier_cannot_sign_in_through_the_admin_login(client, cashier):
    cashier.is_staff = True
    cashier.save()

    response = client.post("/admin/login/", {"username": "cashier", "password": "secret-pass-123"})

    assert response.status_code == 200
    assert b"manager account" in response.content
    assert "_auth_user_id" not in client.session


def test_a_manager_signs_in_to_the_admin(client, manager):
    response = client.post("/admin/login/?next=/admin/", {"username": "manager", "password": "secret-pass-123"})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@override_settings(ADMIN_OTP_REQUIRED=True)
def test_with_two_factor_on_a_manager_without_a_one_time_code_is_kept_out_of_the_admin(client, manager):
    client.force_login(manager)

    assert client.get("/admin/").status_code == 302
    response = client.post("/admin/login/", {"username": "manager", "password": "secret-pass-123"})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


@override_settings(ADMIN_OTP_REQUIRED=True)
def test_with_two_factor_on_a_manager_signs_in_with_the_code_from_the_authenticator_app(client, manager):
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)

    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "manager",
            "password": "secret-pass-123",
            "otp_device": device.persistent_id,
            "otp_token": f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.get("/admin/").status_code == 200


# --- idle sign-out --------------------------------------------------------------------------------------------


def _idle_for(client, seconds):
    session = client.session
    session[LAST_ACTIVITY_KEY] = int(time.time()) - seconds
    session.save()


def test_staff_idle_longer_than_the_timeout_are_signed_out(client, cashier):
    _login(client, "cashier")
    _idle_for(client, 16 * 60)

    response = client.get("/", follow=True)

    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert b"signed out after 15 minutes without activity" in response.content


def test_activity_inside_the_timeout_keeps_staff_signed_in_and_slides_the_window(client, cashier):
    _login(client, "cashier")
    _idle_for(client, 14 * 60)

    assert client.get("/").status_code == 200
    assert client.session[LAST_ACTIVITY_KEY] >= int(time.time()) - 5


@override_settings(SESSION_IDLE_TIMEOUT_MINUTES=5)
def test_the_idle_timeout_is_a_setting(client, cashier):
    _login(client, "cashier")
    _idle_for(client, 6 * 60)

    assert client.get("/").status_code == 302


@override_settings(ADMIN_OTP_REQUIRED=True)
def test_with_two_factor_on_a_manager_who_came_by_pin_needs_password_and_code_for_the_admin(client, cashier, manager):
    give_pin(manager)
    client.force_login(cashier)
    client.post("/pos/switch/", {"user": manager.pk, "pin": PINS["manager"]})

    by_pin = client.get("/admin/")
    _login(client, "manager")
    by_password = client.get("/admin/")

    assert by_pin.status_code == 302 and by_pin["Location"].startswith(LOGIN)
    assert by_password.status_code == 302 and by_password["Location"].startswith("/admin/login/")


# --- the kitchen display's poll -----------------------------------------------------------------------------------

BOARD_POLL = {"HTTP_X_BACKGROUND_POLL": "1"}


def test_the_kitchen_board_refreshes_itself_as_a_background_poll(client, kitchen_user):
    client.force_login(kitchen_user)

    page = client.get("/pos/kitchen/").content.decode()

    board = page[page.index('id="kitchen-board"') :].split(">", 1)[0]
    assert "X-Background-Poll" in board


def test_a_kitchen_display_signed_in_with_the_kitchen_role_stays_signed_in_on_its_board_poll(client, kitchen_user):
    _login(client, "kitchen")
    _idle_for(client, 14 * 60)

    assert client.get("/pos/kitchen/board/", **BOARD_POLL).status_code == 200
    assert client.session[LAST_ACTIVITY_KEY] >= int(time.time()) - 5


def test_a_manager_who_leaves_the_kitchen_board_open_is_signed_out_after_the_timeout(client, manager):
    _login(client, "manager")
    client.get("/pos/kitchen/board/", **BOARD_POLL)
    _idle_for(client, 16 * 60)

    client.get("/pos/kitchen/board/", **BOARD_POLL)

    assert "_auth_user_id" not in client.session
