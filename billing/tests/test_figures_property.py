"""Generated days of activity at two stores (one tax-inclusive with cash rounding, one tax-exclusive), run through
the real services, and every source of figures compared for every session, store and day.

Each example opens a till per store per day, rings up sales (several tax rates, a recipe item, line and order
discounts, a dine-in service charge, voided lines, split tenders, tips, cash over and rounding), refunds parts of
earlier sales (restocked or wasted, also in a later day's session), changes an ingredient's cost between days, and
closes each till with its Z. Then, for every store and day and for all stores together:

    report summary == the Z reports of the day's sessions == the daily rollups written at each close
        == the accounting export == plain SQL over orders, lines, payments and refunds

and all stores == the sum of the stores, a day == the sum of its hours, the products, tax rates and tenders add up
to the summary, the cost is what the stock ledger booked, and the margin is never above net sales when costs are
not negative, and the rollups rebuilt from the raw rows are the rollups written when each Z was closed. A source
answers the figures it has (the accounting export has no cost or voids, for instance); each is compared with every
other source that answers it. Another source is one more function in `SOURCES`.

`FIGURES_EXAMPLES` sets how many examples run (a few dozen by default, so that `make test` stays quick).
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import accounting, figures, reports, rollups, sessions
from billing.models import DailyRollup, ZReport
from billing.services import RefundItem, refund, take_payment
from billing.tests.factories import RegisterFactory
from core.errors import DomainError
from core.money import ZERO, quantize
from inventory.models import Location, Product, RecipeLine, StockMove
from inventory.tests.factories import LocationFactory, ProductFactory, TaxRateFactory
from orders.models import Order, OrderLine
from orders.pricing import TenderInput
from orders.services import NewLine, apply_discount, open_order, void_line

D = Decimal
EXAMPLES = int(os.environ.get("FIGURES_EXAMPLES", "20"))
FIRST_DAY = date(2025, 3, 10)
KEYS = (
    "orders",
    "sales",
    "discounts",
    "service_charge",
    "refunds",
    "refund_count",
    "net_sales",
    "tax",
    "net_of_tax",
    "cost",
    "margin",
    "tips",
    "rounding",
    "voids",
    "void_count",
)


# --- the world and the plan -------------------------------------------------------------------------------------


@dataclass
class World:
    stores: list[Location]
    registers: list[int]
    products: list[Product]
    ingredient: Product
    user: object


@pytest.fixture
def world(manager):
    inclusive = LocationFactory(
        code="incl", name="Inclusive", prices_include_tax=True, service_charge_percent=D("10"), cash_rounding=D("0.05")
    )
    exclusive = LocationFactory(
        code="excl", name="Exclusive", prices_include_tax=False, service_charge_percent=D("12.5")
    )
    LocationFactory(code="wh", name="A Warehouse", kind=Location.Kind.WAREHOUSE)
    standard, reduced, zero = (
        TaxRateFactory(name="VAT 20", percent=D("20")),
        TaxRateFactory(name="VAT 10", percent=D("10")),
        TaxRateFactory(name="VAT 0", percent=D("0")),
    )
    allow = Product.StockPolicy.ALLOW
    goods = [
        ProductFactory(name="Beer", price=D("4.80"), cost=D("2.10"), tax_rate=standard, stock_policy=allow),
        ProductFactory(name="Bread", price=D("3.35"), cost=D("1.05"), tax_rate=reduced, stock_policy=allow),
        ProductFactory(name="Book", price=D("12.99"), cost=D("7.40"), tax_rate=zero, stock_policy=allow),
    ]
    stock = ProductFactory(name="Stock", kind=Product.Kind.INGREDIENT, cost=D("0.38"), stock_policy=allow)
    leeks = ProductFactory(name="Leeks", kind=Product.Kind.INGREDIENT, cost=D("2.20"), stock_policy=allow)
    soup = ProductFactory(
        name="Soup", kind=Product.Kind.MENU_ITEM, price=D("7.90"), cost=D("0"), tax_rate=reduced, stock_policy=allow
    )
    RecipeLine.objects.create(menu_item=soup, ingredient=stock, quantity=D("0.5"))
    RecipeLine.objects.create(menu_item=soup, ingredient=leeks, quantity=D("2"))
    stores = [inclusive, exclusive]
    return World(
        stores=stores,
        registers=[RegisterFactory(location=store).pk for store in stores],
        products=[*goods, soup],
        ingredient=leeks,
        user=manager,
    )


@dataclass(frozen=True)
class Sale:
    store: int
    dine_in: bool
    lines: tuple[tuple[int, int, int], ...]  # (product index, quantity, line discount percent)
    order_discount: int  # percent
    void_first: bool
    tenders: int  # 0 cash exact, 1 cash over, 2 card with a tip, 3 card + cash, 4 voucher + card
    tip: Decimal


@dataclass(frozen=True)
class Refund:
    sale: int  # which earlier sale (modulo how many there are)
    line: int
    quantity: int
    restock: bool


sales = st.builds(
    Sale,
    store=st.integers(0, 1),
    dine_in=st.booleans(),
    lines=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 3), st.sampled_from([0, 0, 10])), min_size=1, max_size=4
    ).map(tuple),
    order_discount=st.sampled_from([0, 0, 5, 15]),
    void_first=st.booleans(),
    tenders=st.integers(0, 4),
    tip=st.sampled_from([D("0"), D("1.50")]),
)
refunds = st.builds(
    Refund, sale=st.integers(0, 50), line=st.integers(0, 3), quantity=st.integers(1, 3), restock=st.booleans()
)
days = st.lists(st.lists(st.one_of(sales, sales, refunds), min_size=1, max_size=6), min_size=1, max_size=2)
leek_costs = st.sampled_from([D("2.20"), D("3.10"), D("1.40")])


# --- running the plan -------------------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)

    def __call__(self):
        self.now += timedelta(minutes=7)
        return self.now

    def start_day(self, n: int):
        self.now = datetime.combine(FIRST_DAY + timedelta(days=n), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)


def _tenders(kind: int, total: Decimal, tip: Decimal) -> list[TenderInput]:
    half = quantize(total / 2)
    if kind == 0 or total < D("0.10"):
        return [TenderInput("cash")]
    if kind == 1:
        return [TenderInput("cash", tendered=total + D("5.00"))]
    if kind == 2:
        return [TenderInput("card", tip=tip)]
    if kind == 3:
        return [TenderInput("card", amount=half, tip=tip), TenderInput("cash")]
    return [TenderInput("voucher", amount=half), TenderInput("card")]


def _sell(world: World, sale: Sale) -> Order:
    user, store = world.user, world.stores[sale.store]
    order = open_order(
        location_id=store.pk,
        user=user,
        channel=Order.Channel.DINE_IN if sale.dine_in else Order.Channel.RETAIL,
        lines=[
            NewLine(
                product_id=world.products[index].pk,
                quantity=D(quantity),
                discount_kind="percent" if percent else "",
                discount_value=D(percent),
            )
            for index, quantity, percent in sale.lines
        ],
    )
    lines = list(order.lines.order_by("id"))
    if sale.void_first and len(lines) > 1:
        void_line(lines[0].pk, user=user, reason="Rang up twice")
    if sale.order_discount:
        apply_discount(order.pk, user=user, kind="percent", value=D(sale.order_discount), reason="Regular")
    order.refresh_from_db()
    take_payment(
        order_id=order.pk,
        register_id=world.registers[sale.store],
        tenders=_tenders(sale.tenders, order.total, sale.tip),
        user=user,
    )
    return order


def _refund(world: World, sold: list[Order], plan: Refund) -> None:
    if not sold:
        return
    order = sold[plan.sale % len(sold)]
    lines = list(order.lines.filter(status=OrderLine.Status.ACTIVE).order_by("id"))
    line = lines[plan.line % len(lines)]
    left = line.quantity - line.quantity_refunded
    if left <= 0:
        return
    try:
        refund(
            order_id=order.pk,
            register_id=world.registers[world.stores.index(order.location)],
            items=[RefundItem(line.pk, min(D(plan.quantity), left), restock=plan.restock)],
            reason="Not as ordered",
            user=world.user,
        )
    except DomainError as error:  # a tender that cannot give that much back: nothing was written
        assert error.code in ("refund_exceeds_paid", "refund_exceeds_cash_paid", "nothing_to_refund"), error.code
    line.refresh_from_db()


def _run(world: World, plan: list[list], costs: list[Decimal], clock: Clock) -> list[ZReport]:
    sold: list[Order] = []
    z_reports = []
    for n, events in enumerate(plan):
        clock.start_day(n)
        Product.objects.filter(pk=world.ingredient.pk).update(cost=costs[n % len(costs)])
        tills = [
            sessions.open_session(register_id=pk, user=world.user, opening_float="100.00") for pk in world.registers
        ]
        for event in events:
            if isinstance(event, Sale):
                sold.append(_sell(world, event))
            else:
                _refund(world, sold, event)
        for till in tills:
            cents = int(sessions.expected_cash(till) * 100)
            z_reports.append(sessions.close_session(session_id=till.pk, user=world.user, denominations={"0.01": cents}))
    return z_reports


# --- the sources ---------------------------------------------------------------------------------------------------
# Each takes stores and a day and answers every figure of KEYS, quantised to the currency.


def summary_source(stores: list[Location], day: date) -> dict:
    summary = reports.summary(reports.period(locations=stores, date_from=day, date_to=day))
    return {key: summary[key] for key in KEYS}


def dashboard_source(stores: list[Location], day: date) -> dict:
    """The start page's "Today" (billing.dashboard) of someone who works at exactly these stores, at noon that day."""
    from django.contrib.auth import get_user_model

    from billing.dashboard import start_page
    from staff.models import StaffProfile

    user, _ = get_user_model().objects.get_or_create(username="dash-" + "-".join(sorted(s.code for s in stores)))
    StaffProfile.objects.get_or_create(user=user)[0].locations.set(stores)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    page = start_page(user, now=noon)
    row = page["total"] or page["rows"][0]
    return {key: row.today[key] for key in KEYS}


def z_source(stores: list[Location], day: date) -> dict:
    """The sum of the Z reports of the stores' sessions opened that day (one per store and day here)."""
    total = dict.fromkeys(KEYS, ZERO)
    names = {"orders": "order_count", "tax": "tax_total", "net_of_tax": "net_sales_excl_tax"}
    for z in ZReport.objects.filter(register__location__in=stores):
        if z.session.opened_at.date() != day:
            continue
        for key in KEYS:
            if key == "voids":
                value = z.data["voids"]["amount"]
            elif key == "void_count":
                value = z.data["voids"]["count"]
            else:
                value = z.data[names.get(key, key)]
            total[key] += D(str(value))
    return {
        key: value if key not in ("orders", "refund_count", "void_count") else int(value)
        for key, value in total.items()
    }


def _one(query: str, params: list) -> Decimal:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0] or ZERO


def sql_source(stores: list[Location], day: date) -> dict:
    """Plain SQL over the raw rows: orders paid that day, their active and voided lines, refunds given that day and
    their lines, payments taken that day."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    window = [[store.pk for store in stores], start, start + timedelta(days=1)]
    sold = (
        "FROM orders_order o WHERE o.location_id = ANY(%s) AND o.paid_at >= %s AND o.paid_at < %s "
        "AND o.status IN ('paid', 'refunded')"
    )
    given = (
        "FROM billing_refund r JOIN orders_order o ON o.id = r.order_id "
        "WHERE o.location_id = ANY(%s) AND r.created_at >= %s AND r.created_at < %s"
    )
    lines = f"FROM orders_orderline l WHERE l.order_id IN (SELECT o.id {sold})"
    refund_lines = (
        "FROM billing_refundline rl JOIN orders_orderline l ON l.id = rl.order_line_id "
        f"WHERE rl.refund_id IN (SELECT r.id {given})"
    )
    paid = (
        "FROM billing_payment p JOIN orders_order o ON o.id = p.order_id "
        "WHERE o.location_id = ANY(%s) AND p.created_at >= %s AND p.created_at < %s"
    )

    def one(select: str, source: str) -> Decimal:
        return _one(f"SELECT {select} {source}", window)

    sales, tax, service = one("SUM(o.total)", sold), one("SUM(o.tax_total)", sold), one("SUM(o.service_charge)", sold)
    refunded, refund_tax = one("SUM(r.amount)", given), one("SUM(r.tax_amount)", given)
    refund_service = one("SUM(rl.service_charge_amount)", refund_lines)
    cost = one("SUM(l.unit_cost * l.quantity)", lines + " AND l.status = 'active'")
    refund_cost = one("SUM(l.unit_cost * rl.quantity)", refund_lines)
    net_sales, net_tax = sales - refunded, tax - refund_tax
    return {
        key: quantize(value) if isinstance(value, Decimal) else value
        for key, value in {
            "orders": int(one("COUNT(*)", sold)),
            "sales": sales,
            "discounts": one("SUM(o.discount_total)", sold),
            "service_charge": service,
            "refunds": refunded,
            "refund_count": int(one("COUNT(*)", given)),
            "net_sales": net_sales,
            "tax": net_tax,
            "net_of_tax": net_sales - net_tax,
            "cost": cost - refund_cost,
            "margin": net_sales - net_tax - (service - refund_service) - (cost - refund_cost),
            "tips": one("SUM(p.tip)", paid),
            "rounding": one("SUM(p.rounding)", paid),
            "voids": one("SUM(l.unit_price * l.quantity)", lines + " AND l.status = 'voided'"),
            "void_count": int(one("COUNT(*)", lines + " AND l.status = 'voided'")),
        }.items()
    }


def rollup_source(stores: list[Location], day: date) -> dict:
    """The `total` rollup rows written at each Z close, summed over the stores, through billing.figures."""
    rows = DailyRollup.objects.filter(location__in=stores, day=day, dimension=DailyRollup.Dimension.TOTAL)
    sums = figures.add_sums(*({key: getattr(row, key) for key in figures.SUM_KEYS} for row in rows))
    f = figures.figures_from(sums).rounded()
    return {
        "orders": f.orders,
        "sales": f.sales,
        "discounts": f.discounts,
        "service_charge": f.service_charge,
        "refunds": f.refunds,
        "refund_count": f.refund_count,
        "net_sales": f.net_sales,
        "tax": f.net_tax,
        "net_of_tax": f.net_of_tax,
        "cost": f.net_cost,
        "margin": f.margin,
        "tips": f.tips,
        "rounding": f.rounding,
        "voids": f.voids,
        "void_count": f.void_count,
    }


def export_source(stores: list[Location], day: date) -> dict:
    """The accounting exports of the stores for the day, added up: the figures a bookkeeper posts."""
    total: dict = dict.fromkeys(("net_sales", "tax", "service_charge", "discounts", "tips", "rounding"), ZERO)
    total.update(orders=0, refunds=ZERO, refund_count=0, net_of_tax=ZERO)
    for store in stores:
        export = accounting.day_export(store, day)
        revenue = export["revenue"]
        rates_base = sum((D(rate["base"]) for rate in revenue["by_tax_rate"]), ZERO)
        rates_tax = sum((D(rate["tax"]) for rate in revenue["by_tax_rate"]), ZERO)
        # the rates add up to the goods' base and tax, each rounded once (a cent apart at most per rate)
        assert abs(rates_base - D(revenue["goods_base"])) <= D("0.01") * len(revenue["by_tax_rate"])
        assert abs(rates_tax - D(revenue["tax"])) <= D("0.01") * len(revenue["by_tax_rate"])
        # the tenders' net (what was paid, cash rounding and tips left out, less what was given back) is net sales
        tenders_net = sum((D(t["net"]) for t in export["tenders"]), ZERO)
        assert abs(tenders_net - D(revenue["net_sales"])) <= D("0.01") * len(export["tenders"]), export
        total["orders"] += revenue["orders"]
        total["net_sales"] += D(revenue["net_sales"])
        total["tax"] += D(revenue["tax"])
        total["net_of_tax"] += D(revenue["goods_base"]) + D(revenue["service_charge"])
        total["discounts"] += D(revenue["discounts"])
        total["service_charge"] += D(export["service_charge"]["charged"])
        total["tips"] += D(export["tips"])
        total["rounding"] += D(export["rounding"])
        total["refunds"] += D(export["refunds"]["amount"])
        total["refund_count"] += export["refunds"]["count"]
    return total


SOURCES: list[tuple[str, Callable[[list[Location], date], dict]]] = [
    ("report summary", summary_source),
    ("start page", dashboard_source),
    ("Z reports", z_source),
    ("daily rollups", rollup_source),
    ("accounting export", export_source),
    ("plain SQL", sql_source),
]


# --- the checks ----------------------------------------------------------------------------------------------------


def _check_sources_agree(stores: list[Location], day: date) -> dict:
    answers = [(name, source(stores, day)) for name, source in SOURCES]
    for n, (first_name, first) in enumerate(answers):
        for name, answer in answers[n + 1 :]:
            differences = {
                key: (first[key], answer[key])
                for key in KEYS
                if key in first and key in answer and first[key] != answer[key]
            }
            assert not differences, f"{[s.code for s in stores]} {day}: {first_name} ≠ {name}: {differences}"
    return answers[0][1]


def _check_parts_add_up(stores: list[Location], day: date) -> None:
    p = reports.period(locations=stores, date_from=day, date_to=day)
    scope = reports.period_scope(p)
    f = figures.figures_for(scope)
    # the products, the tax rates and the tenders add up to the figures
    products = figures.lines_by_product(scope.lines, scope.refund_lines).values()
    goods_refunded = f.refunds - f.refund_service_charge
    assert sum((row["sales"] for row in products), ZERO) == f.goods_sales - goods_refunded
    assert sum((row["tax"] for row in products), ZERO) == f.net_tax
    assert sum((row["net"] for row in products), ZERO) == f.net_goods_of_tax
    assert sum((row["cost"] for row in products), ZERO) == f.net_cost
    assert sum((row["margin"] for row in products), ZERO) == f.margin
    rates = figures.rates_for(scope)
    assert sum((rate.net_base for rate in rates), ZERO) == f.net_goods_of_tax
    assert sum((rate.net_tax for rate in rates), ZERO) == f.net_tax
    tenders = reports.by_tender(p)
    assert sum((row["net"] for row in tenders), ZERO) == quantize(f.payments - f.refunds)
    # every sale is paid in full when it is rung up: the day's payments are its sales
    assert f.payments == f.sales
    # a day is the sum of its hours
    (row,) = reports.by_day(p)
    hours = reports.by_hour(p)
    for key in ("orders", "sales", "discounts", "refunds", "net_sales", "tax"):
        assert sum((hour[key] for hour in hours), ZERO) == row[key], key
    # the cost is what the stock ledger booked for the day's sales less what the refunds took back (at the cost
    # the goods left at; what is not restocked is then booked out again as waste, at that cost too)
    moves = StockMove.objects.filter(location__in=stores, created_at__date=day)
    sold_cost = sum((-m.delta * m.unit_cost for m in moves.filter(reason=StockMove.Reason.SALE)), ZERO)
    back_cost = sum((m.delta * m.unit_cost for m in moves.filter(reason=StockMove.Reason.REFUND)), ZERO)
    assert (f.cost, f.refund_cost) == (sold_cost, back_cost)
    # margin is never above net sales when costs are not negative
    if f.net_cost >= 0:
        assert f.margin <= f.net_goods_of_tax
        if f.net_tax >= 0 and f.net_service_charge >= 0:
            assert f.margin <= f.net_sales
    if not f.refund_count:
        assert f.margin <= f.net_sales


def _check_all_stores_are_the_sum_of_the_stores(stores: list[Location], day: date) -> None:
    together = figures.figures_for(
        reports.period_scope(reports.period(locations=stores, date_from=day, date_to=day))
    ).as_dict()
    each = [
        figures.figures_for(reports.period_scope(reports.period(location=store, date_from=day, date_to=day))).as_dict()
        for store in stores
    ]
    assert together == {key: sum((one[key] for one in each), ZERO) for key in together}


def _rollup_rows() -> list[dict]:
    return list(DailyRollup.objects.order_by("location", "day", "dimension", "key").values(*rollups.COLUMNS, "key"))


def _check_rollups_rebuilt_from_raw_are_the_rollups_written_at_close(stores: list[Location], days: int) -> None:
    written = _rollup_rows()
    assert bool(written) == Order.objects.filter(status__in=reports.SOLD).exists(), "a Z writes its days' rollups"
    last = FIRST_DAY + timedelta(days=days - 1)
    assert rollups.differences(date_from=FIRST_DAY, date_to=last) == []
    rollups.rebuild(location_ids=[store.pk for store in stores], date_from=FIRST_DAY, date_to=last)
    assert _rollup_rows() == written


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=days, costs=st.lists(leek_costs, min_size=2, max_size=2))
def test_every_source_gives_the_same_figures_for_every_session_store_and_day(world, plan, costs):
    clock = Clock()
    with transaction.atomic(), mock.patch("django.utils.timezone.now", clock):
        try:
            z_reports = _run(world, plan, costs, clock)
            assert len(z_reports) == 2 * len(plan)
            for n in range(len(plan)):
                day = FIRST_DAY + timedelta(days=n)
                for store in world.stores:
                    _check_sources_agree([store], day)
                    _check_parts_add_up([store], day)
                _check_sources_agree(world.stores, day)
                _check_parts_add_up(world.stores, day)
                _check_all_stores_are_the_sum_of_the_stores(world.stores, day)
            _check_rollups_rebuilt_from_raw_are_the_rollups_written_at_close(world.stores, len(plan))
        finally:
            transaction.set_rollback(True)
