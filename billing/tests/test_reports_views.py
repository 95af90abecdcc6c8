import csv
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing import sessions
from billing.models import PrintJob
from billing.tests.cash_data import product, refund_line, sell
from billing.tests.factories import PrinterFactory, RegisterFactory

D = Decimal


@pytest.fixture
def register(location):
    return RegisterFactory(location=location, name="Till 1", printer=PrinterFactory())


@pytest.fixture
def session(register, cashier):
    return sessions.open_session(register_id=register.pk, user=cashier, opening_float="50.00")


@pytest.fixture
def day_of_sales(session, cashier, manager):
    tart = product("4.50", name="=HYPERLINK(evil)")
    order, _ = sell(session, cashier, [(tart, 2)])
    sell(session, cashier, [(product("12.00", name="Quiche"), 1)], tender="card")
    refund_line(session, cashier, manager, order, reason="Dropped on the floor")
    return session


def today_query(location) -> str:
    today = timezone.localdate().isoformat()
    return f"location={location.pk}&date_from={today}&date_to={today}"


def test_the_sales_screen_shows_totals_the_hourly_chart_and_every_report(client, manager, location, day_of_sales):
    client.force_login(manager)

    page = client.get(f"/reports/?{today_query(location)}")
    refunds = client.get(f"/reports/?{today_query(location)}&report=refunds")

    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and html.count("<rect") == 24
    for title in ("Sales by day", "Sales by product", "Payments by tender", "Tax by rate", "Refunds", "Voided lines"):
        assert title in html
    assert page.context["table"]["report"].slug == "day"
    assert page.context["summary"]["net_sales"] == D("16.50")
    assert "Dropped on the floor" in refunds.content.decode()
    assert "Dropped on the floor" not in html


def test_the_sales_screen_explains_a_backwards_range(client, manager, location):
    client.force_login(manager)

    page = client.get(f"/reports/?location={location.pk}&date_from=2025-03-05&date_to=2025-03-01")

    assert page.status_code == 200
    assert "The end date is before the start date." in page.content.decode()


def test_reports_are_for_managers_only(client, cashier, location):
    client.force_login(cashier)

    assert client.get("/reports/").status_code == 403
    assert client.get(f"/reports/csv/product/?{today_query(location)}").status_code == 403


def test_the_csv_export_has_the_report_rows_and_neutralises_formulas(client, manager, location, day_of_sales):
    client.force_login(manager)

    response = client.get(f"/reports/csv/product/?{today_query(location)}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["SKU", "Product", "Qty", "Sales"]
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["Quiche"][2:4] == ["1.000", "12.00"]
    assert "'=HYPERLINK(evil)" in by_name


def test_the_csv_export_neutralises_cells_starting_with_a_tab_or_a_carriage_return(
    client, manager, location, session, cashier
):
    sell(session, cashier, [(product("3.00", name="\t=1+2"), 1), (product("4.00", name="\r@SUM(A1:A9)"), 1)])
    client.force_login(manager)

    response = client.get(f"/reports/csv/product/?{today_query(location)}")

    names = {row[1] for row in csv.reader(io.StringIO(response.content.decode(), newline=""))}
    assert {"'\t=1+2", "'\r@SUM(A1:A9)"} <= names


def test_an_unknown_csv_report_is_a_400(client, manager, location):
    client.force_login(manager)

    assert client.get(f"/reports/csv/nonsense/?{today_query(location)}").status_code == 400


def test_the_report_api_answers_with_columns_and_rows_as_strings(manager, location, day_of_sales):
    api = APIClient()
    api.force_authenticate(manager)

    tender = api.get(f"/api/v1/reports/tender/?{today_query(location)}")
    summary = api.get(f"/api/v1/reports/summary/?{today_query(location)}")

    assert tender.status_code == 200
    body = tender.json()
    assert body["columns"][0] == {"key": "tender", "title": "Tender"}
    assert {row["tender"]: row["net"] for row in body["rows"]} == {"Cash": "4.50", "Card": "12.00"}
    assert summary.json()["summary"]["net_sales"] == "16.50"


def test_the_report_api_refuses_bad_parameters_and_cashiers(manager, cashier, location):
    api = APIClient()
    api.force_authenticate(manager)
    cashier_api = APIClient()
    cashier_api.force_authenticate(cashier)

    missing = api.get("/api/v1/reports/day/?location=999999")
    unknown = api.get(f"/api/v1/reports/nonsense/?location={location.pk}")
    backwards = api.get(f"/api/v1/reports/day/?location={location.pk}&date_from=2025-03-05&date_to=2025-03-01")

    assert missing.status_code == 404 and "location" in missing.json()["fields"]
    assert unknown.status_code == 404
    assert backwards.status_code == 400 and "date_to" in backwards.json()["fields"]
    assert cashier_api.get(f"/api/v1/reports/day/?location={location.pk}").status_code == 403


def test_the_z_report_page_is_marked_copy_and_can_be_reprinted(client, manager, cashier, day_of_sales):
    z = sessions.close_session(session_id=day_of_sales.pk, user=cashier, denominations={"50": 1, "1": 1}, note="ok")
    client.force_login(manager)

    page = client.get(f"/reports/z/{z.pk}/")
    reprint = client.post(f"/reports/z/{z.pk}/reprint/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "COPY" in html and f"Z report No. {z.number}" in html
    assert z.data["net_sales"] in html
    assert reprint.status_code == 302
    assert PrintJob.objects.filter(z_report=z, is_copy=True).count() == 1


def test_the_x_report_page_of_a_cashier_is_blind(client, cashier, manager, day_of_sales):
    client.force_login(cashier)
    blind = client.get(f"/reports/sessions/{day_of_sales.pk}/x/").content.decode()
    client.force_login(manager)
    full = client.get(f"/reports/sessions/{day_of_sales.pk}/x/").content.decode()

    assert "Expected cash is shown after the count." in blind
    assert "Expected in drawer" not in blind
    assert "Expected in drawer" in full


def test_printing_an_x_report_from_its_page_queues_a_report_job(client, cashier, day_of_sales):
    client.force_login(cashier)

    response = client.post(f"/reports/sessions/{day_of_sales.pk}/x/print/")

    assert response.status_code == 302
    job = PrintJob.objects.get(kind="report")
    assert job.payload["report"] == "x" and not job.is_copy


def test_the_sessions_screen_links_open_sessions_to_x_and_closed_ones_to_z(client, manager, cashier, register):
    first = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    z = sessions.close_session(session_id=first.pk, user=cashier, denominations={"1": 0})
    second = sessions.open_session(register_id=register.pk, user=cashier, opening_float="0")
    client.force_login(manager)

    html = client.get("/reports/sessions/").content.decode()

    assert f"/reports/z/{z.pk}/" in html
    assert f"/reports/sessions/{second.pk}/x/" in html
