from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing import sessions
from billing.models import CashMovement, CashSession, PrintJob, ZReport
from billing.tests.cash_data import product, sell
from billing.tests.factories import PrinterFactory, RegisterFactory
from staff.pins import set_pin

D = Decimal


@pytest.fixture
def register(location):
    return RegisterFactory(location=location, name="Till 1", printer=PrinterFactory())


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def open_via_api(client, register, amount="100.00"):
    response = client.post("/api/v1/cash-sessions/", {"register": register.pk, "opening_float": amount}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_cashier_opens_moves_cash_and_closes_a_till_through_the_api(register, cashier):
    api = client_for(cashier)
    session = open_via_api(api, register)
    url = f"/api/v1/cash-sessions/{session['id']}"

    assert api.post(f"{url}/pay-in/", {"amount": "20.00", "reason": "Coins"}, format="json").status_code == 201
    assert api.post(f"{url}/pay-out/", {"amount": "5.00", "reason": "Milk"}, format="json").status_code == 201
    assert api.post(f"{url}/no-sale/", {"reason": "Change for a note"}, format="json").status_code == 201
    closed = api.post(f"{url}/close/", {"denominations": {"100": 1, "10": 1, "5": 1}}, format="json")

    assert closed.status_code == 201, closed.json()
    body = closed.json()
    assert body["number"] == 1
    assert body["data"]["cash"]["expected"] == "115.00"
    assert body["data"]["cash"]["over_short"] == "0.00"
    assert CashMovement.objects.count() == 3
    assert api.get(f"{url}/").json()["status"] == "closed"


def test_the_open_session_and_x_report_hide_the_expected_cash_from_a_cashier(register, cashier, manager):
    session = open_via_api(client_for(cashier), register, "80.00")
    sell(CashSession.objects.get(pk=session["id"]), cashier, [(product("7.25"), 1)])
    url = f"/api/v1/cash-sessions/{session['id']}"

    detail = client_for(cashier).get(f"{url}/").json()
    blind = client_for(cashier).get(f"{url}/x-report/").json()
    full = client_for(manager).get(f"{url}/x-report/").json()

    assert detail["expected_cash"] is None and detail["over_short"] is None
    assert blind["blind"] is True and "expected" not in blind["cash"]
    assert "87.25" not in str(blind)
    assert full["cash"]["expected"] == "87.25"


def test_a_large_difference_is_refused_without_sign_off_and_accepted_with_a_manager_pin(register, cashier, manager):
    api = client_for(cashier)
    session = open_via_api(api, register)
    url = f"/api/v1/cash-sessions/{session['id']}/close/"
    set_pin(user=manager, pin="482915")

    refused = api.post(url, {"denominations": {"50": 1}}, format="json")
    wrong_pin = api.post(
        url, {"denominations": {"50": 1}, "approver": manager.pk, "approver_pin": "000000"}, format="json"
    )
    signed = api.post(
        url, {"denominations": {"50": 1}, "approver": manager.pk, "approver_pin": "482915"}, format="json"
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "sign_off_required"
    assert "100" not in refused.json()["message"]
    assert wrong_pin.status_code == 403
    assert signed.status_code == 201
    assert signed.json()["data"]["approved_by"] == str(manager)


def test_a_second_close_through_the_api_is_a_conflict(register, cashier):
    api = client_for(cashier)
    session = open_via_api(api, register, "0")
    url = f"/api/v1/cash-sessions/{session['id']}/close/"

    assert api.post(url, {"denominations": {"1": 0}}, format="json").status_code == 201
    second = api.post(url, {"denominations": {"1": 0}}, format="json")

    assert second.status_code == 409
    assert second.json()["code"] == "session_closed"
    assert ZReport.objects.count() == 1


def test_a_bad_count_is_a_400_with_field_errors(register, cashier):
    api = client_for(cashier)
    session = open_via_api(api, register)

    response = api.post(f"/api/v1/cash-sessions/{session['id']}/close/", {"denominations": {"3": 1}}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"denominations.3": ["Not a denomination of this currency."]}
    assert CashSession.objects.get().status == "open"


def test_a_second_session_on_a_till_is_a_conflict(register, cashier):
    api = client_for(cashier)
    open_via_api(api, register)

    response = api.post("/api/v1/cash-sessions/", {"register": register.pk, "opening_float": "1"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "session_open"


def test_registers_list_their_open_session(register, cashier):
    session = open_via_api(client_for(cashier), register)

    (row,) = client_for(cashier).get("/api/v1/registers/").json()["results"]

    assert (row["name"], row["open_session"]) == ("Till 1", session["id"])


def test_a_z_report_cannot_be_changed_or_deleted_through_the_api(register, cashier, manager):
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    z = sessions.close_session(session_id=session.pk, user=cashier, denominations={"1": 0})
    api = client_for(manager)

    assert api.get(f"/api/v1/z-reports/{z.pk}/").json()["number"] == 1
    assert api.put(f"/api/v1/z-reports/{z.pk}/", {"net_sales": "0"}, format="json").status_code == 405
    assert api.patch(f"/api/v1/z-reports/{z.pk}/", {"net_sales": "0"}, format="json").status_code == 405
    assert api.delete(f"/api/v1/z-reports/{z.pk}/").status_code == 405
    assert api.post("/api/v1/z-reports/", {"register": register.pk}, format="json").status_code == 405
    assert ZReport.objects.get().data == z.data


def test_reprinting_a_z_report_through_the_api_queues_a_copy(register, cashier, manager):
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    z = sessions.close_session(session_id=session.pk, user=cashier, denominations={"1": 0})

    response = client_for(manager).post(f"/api/v1/z-reports/{z.pk}/reprint/")

    assert response.status_code == 202
    job = PrintJob.objects.get(pk=response.json()["print_job"])
    assert job.is_copy and "COPY" in job.payload["lines"][0]


def test_a_cashier_cannot_read_or_reprint_z_reports(register, cashier):
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    z = sessions.close_session(session_id=session.pk, user=cashier, denominations={"1": 0})

    assert client_for(cashier).get("/api/v1/z-reports/").status_code == 403
    assert client_for(cashier).post(f"/api/v1/z-reports/{z.pk}/reprint/").status_code == 403


def test_a_waiter_cannot_open_a_till(register, waiter):
    response = client_for(waiter).post(
        "/api/v1/cash-sessions/", {"register": register.pk, "opening_float": "10"}, format="json"
    )

    assert response.status_code == 403
    assert not CashSession.objects.exists()


# --- admin --------------------------------------------------------------------------------------------------


def test_the_admin_shows_a_z_report_but_cannot_edit_or_delete_it(client, register, cashier, manager):
    session = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    z = sessions.close_session(session_id=session.pk, user=cashier, denominations={"1": 0})
    client.force_login(manager)

    change = client.get(f"/admin/billing/zreport/{z.pk}/change/")
    post = client.post(f"/admin/billing/zreport/{z.pk}/change/", {"net_sales": "0"})
    delete = client.post(f"/admin/billing/zreport/{z.pk}/delete/", {"post": "yes"})
    add = client.get("/admin/billing/zreport/add/")

    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert post.status_code == 403
    assert delete.status_code == 403
    assert add.status_code == 403
    assert ZReport.objects.get().net_sales == D("0")


def test_the_api_manager_sign_off_is_refused_from_a_terminal_locked_for_wrong_pins(
    register, cashier, manager, settings
):
    """The close endpoint checks the approving manager's PIN through the same limits as the screens: a terminal
    locked for wrong PINs cannot go on guessing there."""
    settings.POS_PIN_IP_MAX_ATTEMPTS = 2
    api = APIClient(REMOTE_ADDR="10.9.8.7")
    api.force_authenticate(cashier)
    session = open_via_api(api, register)
    url = f"/api/v1/cash-sessions/{session['id']}/close/"
    set_pin(user=manager, pin="482915")
    for _ in range(2):
        api.post(url, {"denominations": {"50": 1}, "approver": manager.pk, "approver_pin": "000000"}, format="json")

    refused = api.post(
        url, {"denominations": {"50": 1}, "approver": manager.pk, "approver_pin": "482915"}, format="json"
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "pin_locked"
    assert CashSession.objects.get(pk=session["id"]).status == CashSession.Status.OPEN


@pytest.mark.django_db
def test_a_pay_out_approval_over_the_api_counts_against_the_stores_pin_limit(register, cashier, manager, settings):
    """A manager's PIN typed on a pay-out above the store's cap goes through the per-store limit: wrong PINs from
    several addresses lock the store, and the right PIN from yet another address is refused."""
    settings.POS_PIN_STORE_MAX_ATTEMPTS = 2
    set_pin(user=manager, pin="482915")
    opener = APIClient(REMOTE_ADDR="10.9.8.1")
    opener.force_authenticate(cashier)
    session = open_via_api(opener, register)
    url = f"/api/v1/cash-sessions/{session['id']}/pay-out/"
    body = {"amount": "150.00", "reason": "Supplier", "approver": manager.pk}
    for address in ("10.9.8.2", "10.9.8.3"):
        api = APIClient(REMOTE_ADDR=address)
        api.force_authenticate(cashier)
        assert api.post(url, {**body, "approver_pin": "000000"}, format="json").status_code in (400, 403)

    api = APIClient(REMOTE_ADDR="10.9.8.4")
    api.force_authenticate(cashier)
    refused = api.post(url, {**body, "approver_pin": "482915"}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "pin_locked"
    assert not CashMovement.objects.filter(session_id=session["id"], kind="pay_out").exists()


@pytest.mark.django_db
def test_a_checkout_approval_at_an_unknown_till_is_refused_before_any_pin_is_tried(cashier, manager, settings):
    """Naming a till that does not exist (or belongs to another store) must not skip the store's PIN limit nor answer
    a right PIN differently from a wrong one: the till is refused first, the same way for every PIN."""
    settings.POS_PIN_STORE_MAX_ATTEMPTS = 2
    set_pin(user=manager, pin="482915")
    answers = []
    for address, pin in (("10.9.7.1", "000000"), ("10.9.7.2", "000000"), ("10.9.7.3", "482915")):
        api = APIClient(REMOTE_ADDR=address)
        api.force_authenticate(cashier)
        body = {
            "register": 99999999,
            "lines": [{"product": 1, "quantity": "1"}],
            "tenders": [{"tender": "card"}],
            "approver": manager.pk,
            "approver_pin": pin,
        }
        response = api.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY=address)
        answers.append((response.status_code, response.json()["code"]))

    assert answers == [(404, "not_found")] * 3
