"""The year-over-year screen: this year beside last, month by month, at one store or all stores together."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import reports, sessions
from billing.tests.cash_data import product, sell
from billing.tests.factories import RegisterFactory
from inventory.tests.factories import LocationFactory

D = Decimal
UTC = ZoneInfo("UTC")


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@pytest.fixture
def two_stores(location, manager):
    harbour = LocationFactory(code="harbour", name="Harbour")
    manager.staff.locations.add(harbour)
    tills = {
        store: sessions.open_session(register_id=RegisterFactory(location=store).pk, user=manager, opening_float="0")
        for store in (location, harbour)
    }
    item = product("10.00")
    sell(tills[location], manager, [(item, 2)], paid_at=at(date(2025, 3, 5)))
    sell(tills[location], manager, [(item, 1)], paid_at=at(date(2024, 3, 20)))
    sell(tills[harbour], manager, [(item, 3)], paid_at=at(date(2025, 3, 31)))
    sell(tills[harbour], manager, [(item, 4)], paid_at=at(date(2024, 12, 31)))
    return location, harbour


def test_each_month_is_beside_the_same_month_last_year(two_stores):
    main, harbour = two_stores

    one = reports.year_over_year(locations=[main], year=2025)
    both = reports.year_over_year(locations=[main, harbour], year=2025)

    march = one["months"][2]
    assert (march["month"], march["net_sales"], march["previous_net_sales"], march["change"]) == (
        "Mar",
        D("20.00"),
        D("10.00"),
        D("10.00"),
    )
    assert march["change_percent"] == D("100.0")
    assert both["months"][2]["net_sales"] == D("50.00")
    assert both["months"][11]["previous_net_sales"] == D("40.00")
    assert both["months"][11]["change_percent"] == D("-100.0")
    assert one["months"][0]["change_percent"] is None  # nothing last January: no percent
    assert both["total"] == {
        "orders": 2,
        "net_sales": D("50.00"),
        "previous_orders": 2,
        "previous_net_sales": D("50.00"),
        "change": D("0.00"),
        "change_percent": D("0.0"),
    }


def test_the_screen_shows_all_stores_or_one(two_stores, client, manager):
    main, _ = two_stores
    client.force_login(manager)

    together = client.get("/reports/year/?year=2025")
    alone = client.get(f"/reports/year/?year=2025&location={main.pk}")

    assert together.status_code == 200 and "All stores (2)" in together.content.decode()
    assert together.context["compared"]["total"]["net_sales"] == D("50.00")
    assert alone.context["compared"]["total"]["net_sales"] == D("20.00")


@pytest.mark.parametrize("year", ["1999", "2100", "next"])
def test_a_year_out_of_range_is_a_clear_error_not_a_crash(two_stores, client, manager, year):
    client.force_login(manager)

    response = client.get(f"/reports/year/?year={year}")

    assert response.status_code == 200
    assert "compared" not in response.context
    assert "year" in response.context["form"].errors
