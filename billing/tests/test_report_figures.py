"""The sales reports agree with the Z reports and the stock ledger: refunds count in the period they were given,
costs are captured when a line is sold (a recipe item costs its ingredients), a tax-exclusive store's product rows
carry the tax its summary does, and reports open on the user's own store (or all of them), never a warehouse."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing import reports, sessions
from billing.report_printout import report_lines
from billing.services import RefundItem, refund, sell
from billing.tests.factories import RegisterFactory
from inventory.models import Location, Product, RecipeLine, StockMove
from inventory.tests.factories import LocationFactory, ProductFactory, TaxRateFactory
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import NewLine
from staff.tests.factories import StaffProfileFactory, UserFactory

D = Decimal


@pytest.fixture
def till(location, manager):
    register = RegisterFactory(location=location)
    session = sessions.open_session(register_id=register.pk, user=manager, opening_float="100.00")
    return register, session


def _product(price, *, cost="0", tax="20", **kwargs):
    rate = TaxRateFactory(name=f"VAT {tax}", percent=D(tax))
    return ProductFactory(price=D(price), cost=D(cost), tax_rate=rate, stock_policy=Product.StockPolicy.ALLOW, **kwargs)


def _sell(register, user, *items, channel=Order.Channel.RETAIL):
    return sell(
        register_id=register.pk,
        user=user,
        lines=[NewLine(product_id=item.pk, quantity=D(qty)) for item, qty in items],
        tenders=[TenderInput("card")],
        channel=channel,
    )


def _refund(register, user, sale, *, qty="1", restock=True):
    line = sale.lines[0]
    return refund(
        order_id=sale.order.pk,
        register_id=register.pk,
        items=[RefundItem(line.pk, D(qty), restock=restock)],
        reason="Not as ordered",
        user=user,
    )


def _today(location):
    today = timezone.localdate()
    return reports.period(location=location, date_from=today, date_to=today)


def test_the_summary_tax_is_the_tax_due_after_refunds_as_on_the_z(location, manager, till):
    register, session = till
    beer = _product("6.00", tax="20")
    sale = _sell(register, manager, (beer, 3))
    _refund(register, manager, sale)

    summary = reports.summary(_today(location))
    z = sessions.close_session(session_id=session.pk, user=manager, denominations={"100": 1})

    assert z.tax_total == D("2.00")  # 3.00 sold − 1.00 refunded
    assert summary["tax"] == z.tax_total  # was 3.00, the tax before refunds
    assert summary["net_of_tax"] == D(z.data["net_sales_excl_tax"]) == D("10.00")


def test_the_z_taxable_base_per_rate_is_net_of_refunds_like_its_tax(location, manager, till):
    register, session = till
    beer, bread = _product("6.00", tax="20"), _product("5.50", tax="10")
    sale = _sell(register, manager, (beer, 3), (bread, 1))
    _refund(register, manager, sale)

    z = sessions.close_session(session_id=session.pk, user=manager, denominations={"100": 1})
    rates = {rate["name"]: rate for rate in z.data["tax_rates"]}
    printed = report_lines(z.data, copy=False, columns=48)

    assert (rates["VAT 20"]["base"], rates["VAT 20"]["refund_base"], rates["VAT 20"]["net_base"]) == (
        "15.00",
        "5.00",
        "10.00",
    )
    assert (rates["VAT 20"]["net_tax"], rates["VAT 10"]["net_base"]) == ("2.00", "5.00")
    assert printed[printed.index(next(line for line in printed if line.startswith(" VAT 20"))) + 1].endswith("10.00")


def test_a_refund_takes_its_tax_cost_and_margin_back_on_the_day_it_is_given(location, manager, till):
    register, _ = till
    wine = _product("12.00", cost="5.00", tax="20")
    sale = _sell(register, manager, (wine, 2))
    yesterday = timezone.localdate() - timedelta(days=1)
    Order.objects.filter(pk=sale.order.pk).update(paid_at=sale.order.paid_at - timedelta(days=1))
    _refund(register, manager, sale)

    sale_day = reports.summary(reports.period(location=location, date_from=yesterday, date_to=yesterday))
    refund_day = reports.summary(_today(location))

    assert (sale_day["net_sales"], sale_day["cost"], sale_day["margin"]) == (D("24.00"), D("10.00"), D("10.00"))
    # the refund day: 12.00 given back, of which 2.00 tax; the wine's 5.00 cost comes back (it was 0 and 0)
    assert (refund_day["net_sales"], refund_day["tax"]) == (D("-12.00"), D("-2.00"))
    assert (refund_day["cost"], refund_day["margin"]) == (D("-5.00"), D("-5.00"))
    both = reports.summary(reports.period(location=location, date_from=yesterday, date_to=timezone.localdate()))
    assert (both["net_sales"], both["cost"], both["margin"]) == (D("12.00"), D("5.00"), D("5.00"))
    assert both["margin"] <= both["net_sales"]


def test_a_recipe_item_costs_its_ingredients_at_the_time_of_sale(location, manager, till):
    register, _ = till
    allow = Product.StockPolicy.ALLOW
    leeks = ProductFactory(name="Leeks", kind=Product.Kind.INGREDIENT, cost=D("2.20"), stock_policy=allow)
    stock = ProductFactory(name="Stock", kind=Product.Kind.INGREDIENT, cost=D("0.40"), stock_policy=allow)
    soup = _product("7.70", cost="0", tax="10", kind=Product.Kind.MENU_ITEM, name="Soup")
    RecipeLine.objects.create(menu_item=soup, ingredient=leeks, quantity=D("2"))
    RecipeLine.objects.create(menu_item=soup, ingredient=stock, quantity=D("0.5"))

    sale = _sell(register, manager, (soup, 2))
    Product.objects.filter(pk=leeks.pk).update(cost=D("9.00"))  # a dearer delivery after the sale
    summary = reports.summary(_today(location))
    ledger = sum(-move.delta * move.unit_cost for move in StockMove.objects.filter(reference=str(sale.order.uuid)))

    sale.lines[0].refresh_from_db()
    assert sale.lines[0].unit_cost == D("4.60")  # 2 × 2.20 + 0.5 × 0.40, not the menu item's own 0
    assert summary["cost"] == ledger == D("9.20")
    assert summary["margin"] == D("14.00") - D("9.20")


def test_a_restocked_refund_goes_back_at_the_cost_it_left_at(location, manager, till):
    register, _ = till
    beer = _product("6.00", cost="2.50")
    sale = _sell(register, manager, (beer, 2))
    Product.objects.filter(pk=beer.pk).update(cost=D("4.00"))

    _refund(register, manager, sale)

    back = StockMove.objects.get(reason=StockMove.Reason.REFUND, product=beer)
    assert (back.delta, back.unit_cost) == (D("1"), D("2.50"))
    assert reports.summary(_today(location))["cost"] == D("2.50")


def test_the_product_rows_of_a_tax_exclusive_store_carry_the_tax_the_summary_does(manager):
    store = LocationFactory(code="us", name="Exclusive", prices_include_tax=False, service_charge_percent=D("10"))
    StaffProfileFactory(user=UserFactory(username="us-manager", role="Manager")).locations.add(store)
    register = RegisterFactory(location=store)
    sessions.open_session(register_id=register.pk, user=manager, opening_float="0")
    burger, soda = _product("10.00", tax="8"), _product("2.50", tax="5")
    _sell(register, manager, (burger, 2), (soda, 3), channel=Order.Channel.DINE_IN)
    p = _today(store)

    summary = reports.summary(p)
    products = reports.by_product(p)

    assert summary["sales"] == D("20.00") + D("1.60") + D("7.50") + D("0.38") + D("2.75")  # goods, tax, service
    assert sum(row["sales"] for row in products) == summary["sales"] - summary["service_charge"] == D("29.48")
    assert sum(row["tax"] for row in products) == summary["tax"] == D("1.98")


# --- stores ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def two_stores(location, manager):
    LocationFactory(code="central", name="Central Warehouse", kind=Location.Kind.WAREHOUSE)
    other = LocationFactory(code="harbour", name="Harbour")
    beer = _product("6.00", cost="2.00")
    for store, qty in ((location, 1), (other, 2)):
        register = RegisterFactory(location=store)
        sessions.open_session(register_id=register.pk, user=manager, opening_float="0")
        _sell(register, manager, (beer, qty))
    return location, other


def test_a_report_opens_on_the_users_own_store_never_a_warehouse(client, manager, two_stores):
    client.force_login(manager)

    page = client.get("/reports/")

    assert page.status_code == 200
    assert page.context["period"].locations == (two_stores[0],)
    assert "Central Warehouse" not in page.content.decode()


def test_a_manager_of_several_stores_opens_on_all_of_them_and_they_are_the_sum(client, manager, two_stores):
    manager.staff.locations.add(two_stores[1])
    client.force_login(manager)

    page = client.get("/reports/")
    one = client.get(f"/reports/?location={two_stores[1].pk}")

    assert page.context["period"].locations == tuple(sorted(two_stores, key=lambda store: store.pk))
    assert page.context["summary"]["sales"] == D("18.00")
    assert one.context["summary"]["sales"] == D("12.00")
    assert "All stores (2)" in page.content.decode()


def test_the_api_summary_without_a_store_is_every_store_with_the_previous_period(manager, two_stores):
    api = APIClient()
    api.force_authenticate(manager)
    today = timezone.localdate().isoformat()

    every = api.get(f"/api/v1/reports/summary/?date_from={today}&date_to={today}")
    each = [api.get(f"/api/v1/reports/summary/?location={s.pk}&date_from={today}") for s in two_stores]

    assert every.status_code == 200
    body = every.json()
    assert body["locations"] == sorted(s.pk for s in two_stores)
    assert body["summary"]["sales"] == "18.00"
    assert [answer.json()["summary"]["sales"] for answer in each] == ["6.00", "12.00"]
    assert body["previous"]["date_to"] == (timezone.localdate() - timedelta(days=1)).isoformat()
    assert body["previous"]["summary"]["sales"] == "0.00"


def test_the_summary_csv_lists_this_period_beside_the_previous_one(client, manager, two_stores):
    client.force_login(manager)
    today = timezone.localdate()

    answer = client.get(f"/reports/csv/summary/?location=all&date_from={today}&date_to={today}")

    rows = [line.split(",") for line in answer.content.decode().splitlines()]
    assert rows[0][1:] == [
        f"{today} to {today}",
        f"{today - timedelta(days=1)} to {today - timedelta(days=1)}",
        "Change",
    ]
    assert ["Sales", "18.00", "0.00", "18.00"] in rows


def test_the_previous_period_is_as_many_days_just_before(location):
    p = reports.period(location=location, date_from=date(2025, 3, 10), date_to=date(2025, 3, 16))

    assert (p.previous().date_from, p.previous().date_to) == (date(2025, 3, 3), date(2025, 3, 9))
