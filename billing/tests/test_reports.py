from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone

from billing import reports, sessions
from billing.charts import hourly_sales_svg
from billing.tests.cash_data import order_with_lines, product, refund_line, sell
from billing.tests.factories import RegisterFactory
from core.errors import DomainError
from inventory.tests.factories import CategoryFactory, LocationFactory, UserFactory

D = Decimal
UTC = ZoneInfo("UTC")
DAY = date(2025, 3, 10)


def at(hour, minute=0, day=DAY):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def session(location, cashier):
    return sessions.open_session(register_id=RegisterFactory(location=location).pk, user=cashier, opening_float="0")


@pytest.fixture
def week(location):
    return reports.period(location=location, date_from=date(2025, 3, 9), date_to=date(2025, 3, 15))


def test_each_sale_falls_in_its_local_hour(location, session, cashier):
    item = product("5.00")
    sell(session, cashier, [(item, 1)], paid_at=at(8, 59))
    sell(session, cashier, [(item, 2)], paid_at=at(9, 0))
    sell(session, cashier, [(item, 1)], paid_at=at(9, 45))

    with override_settings(TIME_ZONE="Europe/Berlin"):
        hours = reports.by_hour(reports.period(location=location, date_from=DAY, date_to=DAY))

    assert len(hours) == 24
    assert (hours[9]["hour"], hours[9]["orders"], hours[9]["sales"]) == (9, 1, D("5.00"))
    assert (hours[10]["hour"], hours[10]["orders"], hours[10]["sales"]) == (10, 2, D("15.00"))
    assert sum(row["orders"] for row in hours) == 3


def test_sales_by_day_lists_every_day_of_the_range(location, session, cashier, week):
    sell(session, cashier, [(product("4.00"), 3)], paid_at=at(12, day=date(2025, 3, 11)))

    days = reports.by_day(week)

    assert [row["day"] for row in days] == [date(2025, 3, d) for d in range(9, 16)]
    assert days[2]["sales"] == D("12.00")
    assert days[0] == {
        "day": date(2025, 3, 9),
        "orders": 0,
        "sales": D("0"),
        "discounts": D("0"),
        "refunds": D("0"),
        "net_sales": D("0"),
        "tax": D("0"),
    }


def test_sales_of_other_locations_and_outside_the_range_are_left_out(location, session, cashier, week):
    item = product("10.00")
    sell(session, cashier, [(item, 1)], paid_at=at(12))
    sell(session, cashier, [(item, 5)], paid_at=at(12, day=date(2025, 3, 16)))
    elsewhere = LocationFactory(code="elsewhere")
    order_with_lines(elsewhere, cashier, [(item, 7)], status="paid", paid_at=at(12))
    order_with_lines(location, cashier, [(item, 9)], status="open")

    assert reports.summary(week)["sales"] == D("10.00")
    assert [row["quantity"] for row in reports.by_product(week)] == [D("1")]


def test_product_report_gives_quantity_sales_tax_and_margin(location, session, cashier, week):
    wine = product("24.00", cost="9.00", tax="20", name="House red")
    sell(session, cashier, [(wine, 2)], paid_at=at(20))
    sell(session, cashier, [(wine, 1)], paid_at=at(21))

    (row,) = reports.by_product(week)

    assert (row["product"], row["quantity"], row["sales"], row["tax"]) == ("House red", D("3"), D("72.00"), D("12.00"))
    assert (row["net"], row["cost"], row["margin"]) == (D("60.00"), D("27.00"), D("33.00"))
    assert row["margin_percent"] == D("55.0")


def test_category_and_margin_reports_group_products(location, session, cashier, week):
    drinks, food = CategoryFactory(name="Drinks"), CategoryFactory(name="Food")
    cola = product("3.00", cost="0.50", category=drinks)
    water = product("2.00", cost="0.20", category=drinks)
    burger = product("12.00", cost="4.00", category=food, tax="10")
    sell(session, cashier, [(cola, 2), (water, 1), (burger, 1)], paid_at=at(13))

    categories = {row["category"]: row for row in reports.by_category(week)}
    margins = reports.gross_margin(week)

    assert categories["Drinks"]["sales"] == D("8.00")
    assert categories["Drinks"]["cost"] == D("1.20")
    assert categories["Food"]["net"] == D("10.91")
    assert [row["category"] for row in margins] == ["Food", "Drinks"]
    assert margins[0]["margin"] == D("6.91")


def test_staff_report_shows_orders_and_average_ticket(location, session, cashier, week):
    ann = UserFactory(username="ann", first_name="Ann", last_name="Lee")
    item = product("6.00")
    sell(session, ann, [(item, 1)], paid_at=at(10))
    sell(session, ann, [(item, 2)], paid_at=at(11))
    sell(session, cashier, [(item, 1)], paid_at=at(11))

    rows = reports.by_staff(week)

    assert rows[0]["staff"] == "Ann Lee"
    assert (rows[0]["orders"], rows[0]["sales"], rows[0]["average_ticket"]) == (2, D("18.00"), D("9.00"))
    assert rows[1]["username"] == "cashier"


def test_tender_report_nets_refunds_off_what_was_taken(location, session, cashier, manager):
    today = timezone.localdate()
    item = product("9.50")
    order, _ = sell(session, cashier, [(item, 2)], tender="card", tip="1.00")
    sell(session, cashier, [(item, 1)])
    refund_line(session, cashier, manager, order, tender="card")

    rows = {
        row["tender"]: row
        for row in reports.by_tender(reports.period(location=location, date_from=today, date_to=today))
    }

    assert rows["Card"] == {
        "tender": "Card",
        "count": 1,
        "amount": D("19.00"),
        "tips": D("1.00"),
        "refunds": D("9.50"),
        "net": D("9.50"),
    }
    assert rows["Cash"]["net"] == D("9.50")


def test_tax_report_gives_base_and_tax_per_rate_less_refunded_tax(location, session, cashier, manager):
    today = timezone.localdate()
    beer, bread = product("4.40", tax="10"), product("2.40", tax="20")
    order, _ = sell(session, cashier, [(beer, 5), (bread, 1)])
    refund_line(session, cashier, manager, order, qty="1")

    rows = reports.by_tax_rate(reports.period(location=location, date_from=today, date_to=today))

    assert [(r["percent"], r["sales"], r["net"], r["tax"], r["refund_tax"], r["tax_due"]) for r in rows] == [
        (D("10"), D("22.00"), D("20.00"), D("2.00"), D("0.40"), D("1.60")),
        (D("20"), D("2.40"), D("2.00"), D("0.40"), D("0.00"), D("0.40")),
    ]


def test_refunds_and_voids_are_listed_with_their_reasons(location, session, cashier, manager):
    today = timezone.localdate()
    soup = product("5.50", name="Soup")
    order, _ = sell(session, cashier, [(soup, 2)], voided=[(soup, 1, "Rang up twice")])
    refund_line(session, cashier, manager, order, reason="Too salty")
    p = reports.period(location=location, date_from=today, date_to=today)

    (refund,) = reports.refunds(p)
    (void,) = reports.voids(p)

    assert (refund["amount"], refund["reason"], refund["by"], refund["approved_by"]) == (
        D("5.50"),
        "Too salty",
        "cashier",
        "manager",
    )
    assert (void["product"], void["value"], void["reason"], void["by"]) == (
        "Soup",
        D("5.50"),
        "Rang up twice",
        "cashier",
    )


def test_summary_nets_refunds_and_reports_margin(location, session, cashier, manager):
    today = timezone.localdate()
    item = product("10.00", cost="3.00", tax="0")
    order, _ = sell(session, cashier, [(item, 4)])
    refund_line(session, cashier, manager, order)

    total = reports.summary(reports.period(location=location, date_from=today, date_to=today))

    assert (total["orders"], total["sales"], total["refunds"], total["net_sales"]) == (
        1,
        D("40.00"),
        D("10.00"),
        D("30.00"),
    )
    # the refunded unit takes its cost back: 3 × 3.00 sold, margin 30.00 − 9.00 (not 12.00 and 28.00)
    assert (total["cost"], total["margin"], total["average_ticket"]) == (D("9.00"), D("21.00"), D("40.00"))


def test_a_backwards_or_too_long_range_is_refused(location):
    with pytest.raises(DomainError) as backwards:
        reports.period(location=location, date_from=date(2025, 3, 2), date_to=date(2025, 3, 1))
    with pytest.raises(DomainError) as too_long:
        reports.period(location=location, date_from=date(2024, 1, 1), date_to=date(2025, 3, 1))

    assert "date_to" in backwards.value.fields
    assert "date_from" in too_long.value.fields


def test_the_hourly_chart_draws_a_bar_per_hour_scaled_to_the_busiest(location):
    rows = [{"hour": h, "orders": 1 if h == 12 else 0, "sales": D("80.00") if h == 12 else D("0")} for h in range(24)]
    rows[18] = {"hour": 18, "orders": 1, "sales": D("40.00")}

    svg = hourly_sales_svg(rows, currency="EUR")

    assert svg.count("<rect") == 24
    assert 'height="200.0"><title>12:00 — 80.00 EUR (1 orders)' in svg
    assert 'height="100.0"><title>18:00' in svg
    assert "<script" not in svg


def test_a_period_without_sales_reports_zeros_not_errors(location, week):
    total = reports.summary(week)

    assert (total["orders"], total["sales"], total["margin"], total["average_ticket"]) == (0, D("0"), D("0"), D("0"))
    assert reports.by_product(week) == [] and reports.by_tax_rate(week) == []
