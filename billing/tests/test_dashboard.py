"""The manager's start page: today at their stores with the sales report's figures, beside the same weekday a week
ago, and what needs a look now."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from billing import reports
from billing.dashboard import start_page
from billing.models import PrintJob
from billing.tests.cash_data import product, refund_line, sell
from billing.tests.factories import CashSessionFactory, RegisterFactory
from inventory.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_stores(location, manager):
    other = LocationFactory(code="harbour", name="Harbour")
    manager.staff.locations.add(other)
    sessions = {}
    for store in (location, other):
        sessions[store.code] = CashSessionFactory(register=RegisterFactory(location=store), opened_by=manager)
    return location, other, sessions


def test_today_is_the_sales_reports_day_for_each_store_and_all_of_them(two_stores, manager):
    main, harbour, sessions = two_stores
    soup, bread = product("6.50", cost="2.00"), product("3.00", cost="1.00")
    order, _ = sell(sessions["main"], manager, [(soup, 2)], tip="1.00")
    sell(sessions["harbour"], manager, [(bread, 3)])
    refund_line(sessions["main"], manager, manager, order, qty="1")
    sell(sessions["harbour"], manager, [(bread, 1)], paid_at=timezone.now() - timedelta(days=7))

    page = start_page(manager)

    rows = {row.label: row for row in page["rows"]}
    assert set(rows) == {"Main Street", "Harbour"}
    day = timezone.localdate()
    for store in (main, harbour):
        assert rows[store.name].today == reports.summary(reports.period(date_from=day, date_to=day, location=store))
    assert rows["Main Street"].today["net_sales"] == Decimal("6.50")  # 13.00 sold, 6.50 refunded today
    assert rows["Main Street"].today["tips"] == Decimal("1.00")
    assert rows["Harbour"].week_ago["net_sales"] == Decimal("3.00")
    assert rows["Harbour"].change_percent == Decimal("200")
    assert rows["Main Street"].change_percent is None  # nothing a week ago: no percentage to show
    total = page["total"]
    assert total.label == "All stores (2)"
    assert total.today["net_sales"] == sum(row.today["net_sales"] for row in page["rows"])
    assert total.today["margin"] == sum(row.today["margin"] for row in page["rows"])
    assert [p["product"] for p in page["top_products"]] == [bread.name, soup.name]


def test_a_till_left_open_overnight_and_a_receipt_that_did_not_print_need_a_look(two_stores, manager):
    main, _, sessions = two_stores
    sessions["main"].__class__.objects.filter(pk=sessions["main"].pk).update(
        opened_at=timezone.now() - timedelta(days=1, hours=2)
    )
    PrintJob.objects.create(kind="receipt", location=main, status=PrintJob.Status.FAILED)

    page = start_page(manager)

    assert [s.opened_before_today for s in page["open_sessions"]] == [True, False]
    assert page["print_problems"] == 1
    html = _home(manager)
    assert "the till is still open since" in html
    assert "1 receipt or ticket did not print" in html


def test_the_start_page_shows_today_to_a_manager_and_not_to_a_cashier(two_stores, manager, cashier):
    _, _, sessions = two_stores
    sell(sessions["main"], manager, [(product("4.20"), 1)])
    html = _home(manager)
    assert "Today," in html and 'data-store="All stores (2)"' in html
    assert '<td class="num" data-figure="net_sales">4.20</td>' in html
    assert "Today," not in _home(cashier)


def _home(user) -> str:
    browser = Client()
    browser.force_login(user)
    response = browser.get("/")
    assert response.status_code == 200
    return response.content.decode()
