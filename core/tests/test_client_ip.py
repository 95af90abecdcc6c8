"""One policy for the client's address (core.client_ip), shared by the logs, the sign-in lockout and the PIN
limits: a forwarded header counts only when the direct peer is a trusted proxy (TRUSTED_PROXIES)."""

import pytest
from django.test import RequestFactory, override_settings
from django.urls import reverse

from core.client_ip import client_ip
from orders.tests.pos_helpers import give_pin, terminal
from staff.models import AuditEvent

LOGIN = "/accounts/login/"
NGINX = "172.18.0.5"
# As docker-compose.prod.yml: nginx overwrites X-Real-IP. AXES_IPWARE_META_PRECEDENCE_ORDER is what settings.py
# derived from PROXY_CLIENT_IP_HEADER before the one policy; it has no say any more.
behind_nginx = override_settings(
    PROXY_CLIENT_IP_HEADER="X-Real-IP",
    TRUSTED_PROXIES=["172.16.0.0/12"],
    AXES_IPWARE_META_PRECEDENCE_ORDER=("HTTP_X_REAL_IP", "REMOTE_ADDR"),
)


def _request(remote: str, **headers):
    return RequestFactory().get("/", REMOTE_ADDR=remote, headers=headers)


@behind_nginx
def test_the_header_nginx_sets_gives_the_client_address():
    assert client_ip(_request(NGINX, **{"X-Real-IP": "203.0.113.10"})) == "203.0.113.10"


@behind_nginx
def test_a_client_reaching_the_app_directly_cannot_choose_its_address():
    assert client_ip(_request("203.0.113.50", **{"X-Real-IP": "10.9.9.9"})) == "203.0.113.50"


@behind_nginx
def test_a_header_that_is_not_an_address_is_ignored():
    assert client_ip(_request(NGINX, **{"X-Real-IP": "nonsense"})) == NGINX
    assert client_ip(_request(NGINX)) == NGINX


@override_settings(PROXY_CLIENT_IP_HEADER="", TRUSTED_PROXIES=["127.0.0.1", "172.16.0.0/12"])
def test_without_a_named_header_the_nearest_untrusted_forwarded_for_hop_counts():
    request = _request("127.0.0.1", **{"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 172.18.0.9"})

    assert client_ip(request) == "198.51.100.7"


@override_settings(PROXY_CLIENT_IP_HEADER="X-Real-IP", TRUSTED_PROXIES=[])
def test_with_no_trusted_proxy_the_peer_is_the_client():
    assert client_ip(_request("127.0.0.1", **{"X-Real-IP": "203.0.113.10"})) == "127.0.0.1"


# --- the same address in the lockout, the logs and the PIN limit ------------------------------------------------


@pytest.mark.django_db
@behind_nginx
@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_direct_client_rotating_the_header_is_still_locked_out(client, cashier):
    for number in range(3):
        client.post(
            LOGIN,
            {"username": "cashier", "password": "wrong"},
            REMOTE_ADDR="203.0.113.50",
            HTTP_X_REAL_IP=f"10.0.0.{number}",
        )

    response = client.post(
        LOGIN,
        {"username": "cashier", "password": "secret-pass-123"},
        REMOTE_ADDR="203.0.113.50",
        HTTP_X_REAL_IP="10.0.0.99",
    )

    assert response.status_code == 429
    locked = {event.data["ip_address"] for event in AuditEvent.objects.filter(action="login_locked_out")}
    assert locked == {"203.0.113.50"}


@pytest.mark.django_db
@behind_nginx
def test_the_access_log_shows_the_address_by_the_same_policy(client, caplog):
    caplog.set_level("INFO", logger="tillhouse.request")
    client.get(LOGIN, REMOTE_ADDR=NGINX, HTTP_X_REAL_IP="203.0.113.10")
    client.get(LOGIN, REMOTE_ADDR="203.0.113.50", HTTP_X_REAL_IP="10.9.9.9")

    logged = [record.client_ip for record in caplog.records if record.name == "tillhouse.request"]

    assert logged == ["203.0.113.10", "203.0.113.50"]


@pytest.mark.django_db
@behind_nginx
def test_a_direct_client_rotating_the_header_still_meets_the_terminal_pin_limit(cashier, waiter, settings):
    settings.POS_PIN_MAX_ATTEMPTS = 10
    settings.POS_PIN_IP_MAX_ATTEMPTS = 3
    right = give_pin(waiter)
    wrong = right[:-1] + str((int(right[-1]) + 1) % 10)
    guessing = terminal(cashier)
    guessing.defaults["REMOTE_ADDR"] = "203.0.113.60"
    for number in range(3):
        guessing.post(reverse("orders:switch"), {"user": waiter.pk, "pin": wrong}, HTTP_X_REAL_IP=f"10.1.0.{number}")

    refused = guessing.post(reverse("orders:switch"), {"user": waiter.pk, "pin": right}, HTTP_X_REAL_IP="10.1.0.99")

    assert refused.status_code == 400
    assert int(guessing.session["_auth_user_id"]) == cashier.pk
    assert [event.data["ip"] for event in AuditEvent.objects.filter(action="pin_ip_locked")] == ["203.0.113.60"]
