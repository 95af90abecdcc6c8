import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from core.errors import Conflict, DomainError
from core.sql import run_batch
from inventory import queries, services
from inventory.models import LowStockAlert, Product, PurchaseOrder, StockCount, StockLevel, StockMove, Supplier
from inventory.selectors import ledger_mismatches
from inventory.services import OutOfStock, PurchaseLineInput
from inventory.tests.conftest import put_in_stock
from inventory.tests.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


def on_hand(product, location) -> Decimal:
    level = StockLevel.objects.filter(product=product, location=location).first()
    return level.on_hand if level else Decimal(0)


# --- adjustments and waste ---------------------------------------------------------------------------------------


def test_an_adjustment_writes_one_move_carrying_its_reason(stocked, location, manager):
    services.adjust_stock(product=stocked, location=location, delta="-2", reason="Broken in delivery", user=manager)

    move = StockMove.objects.get(product=stocked, reason=StockMove.Reason.ADJUSTMENT)
    assert (move.delta, move.note, move.user) == (Decimal("-2"), "Broken in delivery", manager)
    assert on_hand(stocked, location) == 8
    assert ledger_mismatches() == []


def test_an_adjustment_without_a_reason_is_refused_and_writes_nothing(stocked, location):
    with pytest.raises(DomainError) as error:
        services.adjust_stock(product=stocked, location=location, delta="3", reason="  ")
    assert "reason" in error.value.fields
    assert on_hand(stocked, location) == 10
    assert StockMove.objects.filter(reason=StockMove.Reason.ADJUSTMENT).count() == 0


def test_an_adjustment_cannot_take_a_block_product_below_zero(stocked, location):
    with pytest.raises(OutOfStock):
        services.adjust_stock(product=stocked, location=location, delta="-11", reason="Shrinkage")
    assert on_hand(stocked, location) == 10


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("1.0000000001", "at most 3 decimal places"),
        ("-1", "must not be negative"),
        ("0", "must not be zero"),
        ("abc", "not a number"),
        ("NaN", "finite"),
        ("100000000000", "smaller than"),
    ],
)
def test_waste_with_a_meaningless_quantity_is_refused_with_a_clear_message(stocked, location, quantity, message):
    with pytest.raises(DomainError) as error:
        services.record_waste(product=stocked, location=location, quantity=quantity)
    assert message in error.value.message.lower()
    assert error.value.fields
    assert on_hand(stocked, location) == 10


def test_waste_takes_stock_off_the_shelf(stocked, location):
    services.record_waste(product=stocked, location=location, quantity="1.5", note="Expired")

    assert on_hand(stocked, location) == Decimal("8.5")
    assert StockMove.objects.get(reason=StockMove.Reason.WASTE).delta == Decimal("-1.5")


def test_an_unknown_product_is_refused(location):
    with pytest.raises(DomainError) as error:
        services.adjust_stock(product=999999, location=location, delta="1", reason="Found")
    assert error.value.code == "unknown_product"
    assert StockMove.objects.count() == 0


def test_a_service_product_has_no_stock_to_adjust(location):
    service = ProductFactory(kind=Product.Kind.SERVICE)
    with pytest.raises(DomainError) as error:
        services.adjust_stock(product=service, location=location, delta="1", reason="Found")
    assert error.value.code == "not_tracked"


# --- transfers ---------------------------------------------------------------------------------------------------


def test_a_transfer_moves_stock_out_of_one_location_into_another_under_one_reference(stocked, location, warehouse):
    result = services.transfer_stock(product=stocked, source=location, destination=warehouse, quantity="4")

    assert on_hand(stocked, location) == 6
    assert on_hand(stocked, warehouse) == 4
    out_leg, in_leg = sorted(result.moves, key=lambda move: move.delta)
    assert (out_leg.delta, in_leg.delta) == (Decimal("-4"), Decimal("4"))
    assert out_leg.reference == in_leg.reference != ""


def test_a_transfer_of_more_than_a_block_product_has_writes_neither_leg(stocked, location, warehouse):
    with pytest.raises(OutOfStock):
        services.transfer_stock(product=stocked, source=location, destination=warehouse, quantity="11")
    assert on_hand(stocked, location) == 10
    assert on_hand(stocked, warehouse) == 0
    assert StockMove.objects.filter(reason=StockMove.Reason.TRANSFER).count() == 0


def test_a_transfer_that_fails_while_writing_its_moves_leaves_both_locations_as_they_were(
    stocked, location, warehouse, monkeypatch
):
    def fail(*groups, before=()):  # the stock levels are written, then the ledger rows fail
        if before:
            run_batch(list(before))
        raise RuntimeError("disk full")

    def fail_rows(objs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(queries, "insert_batch", fail)  # PostgreSQL: levels and moves in one round trip
    monkeypatch.setattr(queries, "insert_rows", fail_rows)  # elsewhere: the moves after bulk_update
    with pytest.raises(RuntimeError):
        services.transfer_stock(product=stocked, source=location, destination=warehouse, quantity="4")
    monkeypatch.undo()

    assert on_hand(stocked, location) == 10
    assert on_hand(stocked, warehouse) == 0


def test_a_transfer_to_the_same_location_is_refused(stocked, location):
    with pytest.raises(DomainError) as error:
        services.transfer_stock(product=stocked, source=location, destination=location, quantity="1")
    assert "destination" in error.value.fields


# --- sales and recipes -------------------------------------------------------------------------------------------


@pytest.fixture
def burger(location):
    burger = ProductFactory(name="Cheeseburger", kind=Product.Kind.MENU_ITEM)
    parts = {
        "bun": ProductFactory(name="Bun", kind=Product.Kind.INGREDIENT),
        "patty": ProductFactory(name="Patty", kind=Product.Kind.INGREDIENT),
        "cheese": ProductFactory(name="Cheddar (kg)", kind=Product.Kind.INGREDIENT, unit="kg"),
    }
    for name, quantity in [("bun", "1"), ("patty", "1"), ("cheese", "0.025")]:
        burger.recipe_lines.create(ingredient=parts[name], quantity=Decimal(quantity))
        put_in_stock(parts[name], location, 10)
    return burger, parts


def test_selling_a_menu_item_moves_each_ingredient_out_of_stock(burger, location):
    item, parts = burger
    services.consume_for_sale(location=location, items=[(item.pk, Decimal(3))], reference="order-1")

    assert on_hand(parts["bun"], location) == 7
    assert on_hand(parts["patty"], location) == 7
    assert on_hand(parts["cheese"], location) == Decimal("9.925")
    assert not StockMove.objects.filter(product=item).exists()


def test_returning_a_menu_item_puts_its_ingredients_back(burger, location):
    item, parts = burger
    services.consume_for_sale(location=location, items=[(item.pk, Decimal(2))], reference="order-1")
    services.return_to_stock(location=location, items=[(item.pk, Decimal(2))], reference="refund-1")

    assert [on_hand(part, location) for part in parts.values()] == [10, 10, 10]


def test_an_allow_product_goes_negative(location):
    product = ProductFactory(stock_policy=Product.StockPolicy.ALLOW)
    put_in_stock(product, location, 1)

    result = services.consume_for_sale(location=location, items=[(product.pk, Decimal(3))], reference="o")

    assert on_hand(product, location) == -2
    assert result.warnings == []


def test_a_warn_product_sells_below_zero_and_flags_it(location):
    product = ProductFactory(name="Espresso beans", stock_policy=Product.StockPolicy.WARN)
    put_in_stock(product, location, 1)

    result = services.consume_for_sale(location=location, items=[(product.pk, Decimal(2))], reference="o")

    assert on_hand(product, location) == -1
    assert result.warnings == ["Espresso beans is below zero at -1."]


# --- purchasing --------------------------------------------------------------------------------------------------


@pytest.fixture
def purchase_order(stocked, location, manager):
    supplier = Supplier.objects.create(name="Fizz Ltd")
    return services.create_purchase_order(
        supplier=supplier,
        location=location,
        lines=[PurchaseLineInput(product=stocked, quantity="10", unit_cost="5.00")],
        user=manager,
    )


def test_a_partial_receipt_adds_stock_and_leaves_the_order_partly_received(purchase_order, stocked, location):
    line = purchase_order.lines.get()
    services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "4"})

    purchase_order.refresh_from_db()
    assert purchase_order.status == PurchaseOrder.Status.PARTIAL
    assert on_hand(stocked, location) == 14
    move = StockMove.objects.get(reason=StockMove.Reason.PURCHASE, reference__startswith="po:")
    assert (move.delta, move.unit_cost) == (Decimal(4), Decimal("5.00"))


def test_receiving_the_rest_completes_the_order(purchase_order, stocked, location):
    line = purchase_order.lines.get()
    services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "4"})
    services.receive_purchase_order(purchase_order=purchase_order)

    purchase_order.refresh_from_db()
    assert purchase_order.status == PurchaseOrder.Status.RECEIVED
    assert on_hand(stocked, location) == 20
    with pytest.raises(Conflict):
        services.receive_purchase_order(purchase_order=purchase_order)


def test_receiving_more_than_ordered_is_refused_and_writes_nothing(purchase_order, stocked, location):
    line = purchase_order.lines.get()
    with pytest.raises(DomainError) as error:
        services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "11"})

    assert error.value.code == "over_receipt"
    assert on_hand(stocked, location) == 10
    assert purchase_order.receipts.count() == 0
    stocked.refresh_from_db()
    assert stocked.cost == Decimal("4.00")


def test_receiving_more_than_ordered_is_accepted_when_allowed(purchase_order, stocked, location):
    line = purchase_order.lines.get()
    services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "12"}, allow_over_receipt=True)

    purchase_order.refresh_from_db()
    assert purchase_order.status == PurchaseOrder.Status.RECEIVED
    assert on_hand(stocked, location) == 22


def test_receiving_updates_the_cost_as_a_moving_average_to_the_cent(purchase_order, stocked, location):
    line = purchase_order.lines.get()
    line.unit_cost = Decimal("5.55")
    line.save()
    services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "3"})

    stocked.refresh_from_db()
    # (10 × 4.00 + 3 × 5.55) / 13 = 4.357692… → 4.36
    assert stocked.cost == Decimal("4.36")


def test_the_moving_average_rounds_half_a_cent_up():
    cost = services.moving_average_cost(
        on_hand=Decimal(1), cost=Decimal("1.00"), received=Decimal(1), unit_cost=Decimal("1.01")
    )
    assert cost == Decimal("1.01")


def test_the_moving_average_weighs_stock_at_every_location(purchase_order, stocked, location, warehouse):
    put_in_stock(stocked, warehouse, 10)  # 20 on hand at 4.00 in all
    line = purchase_order.lines.get()
    services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "10"})

    stocked.refresh_from_db()
    # (20 × 4.00 + 10 × 5.00) / 30 = 4.3333… → 4.33
    assert stocked.cost == Decimal("4.33")


def test_a_delivery_with_no_stock_on_hand_sets_the_cost(location, manager):
    product = ProductFactory(cost=Decimal("9.99"))
    order = services.create_purchase_order(
        supplier=Supplier.objects.create(name="Acme"),
        location=location,
        lines=[PurchaseLineInput(product=product, quantity="2", unit_cost="3.10")],
    )
    services.receive_purchase_order(purchase_order=order)

    product.refresh_from_db()
    assert product.cost == Decimal("3.10")


def test_the_same_delivery_note_cannot_be_received_twice(purchase_order, stocked, location):
    line = purchase_order.lines.get()
    services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "2"}, delivery_note="DN-7")
    with pytest.raises(Conflict):
        services.receive_purchase_order(purchase_order=purchase_order, quantities={line.pk: "2"}, delivery_note="DN-7")
    assert on_hand(stocked, location) == 12


def test_a_cancelled_order_cannot_be_received(purchase_order):
    services.cancel_purchase_order(purchase_order=purchase_order)
    with pytest.raises(Conflict):
        services.receive_purchase_order(purchase_order=purchase_order)


def test_an_order_listing_a_product_twice_is_refused(stocked, location):
    with pytest.raises(DomainError) as error:
        services.create_purchase_order(
            supplier=Supplier.objects.create(name="Acme"),
            location=location,
            lines=[PurchaseLineInput(stocked, "1", "1.00"), PurchaseLineInput(stocked, "2", "1.00")],
        )
    assert "lines[1].product" in error.value.fields
    assert PurchaseOrder.objects.count() == 0


# --- stock counts ------------------------------------------------------------------------------------------------


def test_a_count_snapshots_what_the_ledger_expects(stocked, location, manager):
    count = services.start_stock_count(location=location, user=manager)

    assert count.lines.get(product=stocked).expected == 10


def test_posting_a_count_writes_the_variance_as_a_move(stocked, location, manager):
    count = services.start_stock_count(location=location, user=manager)
    services.record_counted_quantities(stock_count=count, counted={stocked.pk: "7"})
    services.post_stock_count(stock_count=count, user=manager)

    move = StockMove.objects.get(reason=StockMove.Reason.COUNT)
    assert move.delta == -3
    assert on_hand(stocked, location) == 7
    count.refresh_from_db()
    assert (count.status, count.posted_by) == (StockCount.Status.POSTED, manager)


def test_sales_made_during_a_count_are_kept_when_it_is_posted(stocked, location, manager):
    count = services.start_stock_count(location=location, user=manager)
    services.consume_for_sale(location=location, items=[(stocked.pk, Decimal(2))], reference="o")
    services.record_counted_quantities(stock_count=count, counted={stocked.pk: "9"})
    services.post_stock_count(stock_count=count, user=manager)

    assert on_hand(stocked, location) == 7  # 9 counted at the snapshot, 2 sold since


def test_a_posted_count_cannot_be_posted_again(stocked, location, manager):
    count = services.start_stock_count(location=location, user=manager)
    services.record_counted_quantities(stock_count=count, counted={stocked.pk: "7"})
    services.post_stock_count(stock_count=count, user=manager)

    with pytest.raises(Conflict) as error:
        services.post_stock_count(stock_count=count, user=manager)
    assert "already posted" in error.value.message
    assert on_hand(stocked, location) == 7
    assert StockMove.objects.filter(reason=StockMove.Reason.COUNT).count() == 1


def test_a_second_open_count_at_a_location_is_refused(stocked, location):
    services.start_stock_count(location=location)
    with pytest.raises(Conflict):
        services.start_stock_count(location=location)


def test_a_negative_counted_quantity_is_refused(stocked, location):
    count = services.start_stock_count(location=location)
    with pytest.raises(DomainError):
        services.record_counted_quantities(stock_count=count, counted={stocked.pk: "-1"})
    assert count.lines.get().counted is None


# --- low stock ---------------------------------------------------------------------------------------------------

SENT: list[tuple[str, str, dict]] = []


def collecting_notifier(event, message, data):
    SENT.append((event, message, data))


@pytest.fixture
def notifications(settings):
    settings.NOTIFIER = f"{__name__}.collecting_notifier"
    SENT.clear()
    return SENT


def test_the_daily_low_stock_check_lists_products_at_or_below_their_reorder_point_per_location(
    location, warehouse, notifications, django_capture_on_commit_callbacks
):
    low = ProductFactory(name="Milk", reorder_point=Decimal(5))
    fine = ProductFactory(name="Sugar", reorder_point=Decimal(5))
    put_in_stock(low, location, 5)
    put_in_stock(fine, location, 6)
    put_in_stock(low, warehouse, 50)

    with django_capture_on_commit_callbacks(execute=True):
        found = services.record_low_stock_alerts()

    assert {loc.code: [a.product.name for a in alerts] for loc, alerts in found.items()} == {"main": ["Milk"]}
    assert [(event, data["location"]) for event, _, data in notifications] == [("low_stock", "main")]
    assert "Milk" in notifications[0][1]


def test_the_low_stock_check_run_twice_a_day_notifies_once(location, notifications, django_capture_on_commit_callbacks):
    put_in_stock(ProductFactory(reorder_point=Decimal(5)), location, 1)

    with django_capture_on_commit_callbacks(execute=True):
        services.record_low_stock_alerts()
        services.record_low_stock_alerts()

    assert LowStockAlert.objects.count() == 1
    assert len(notifications) == 1


def test_the_low_stock_task_records_alerts(location):
    from inventory.tasks import check_low_stock

    put_in_stock(ProductFactory(reorder_point=Decimal(2)), location, 1)

    assert check_low_stock.apply().get() == 1
    assert LowStockAlert.objects.count() == 1


def test_the_low_stock_check_is_scheduled_daily():
    from django.conf import settings

    from posproject.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["inventory.check_low_stock"]
    assert entry["task"] in app.tasks
    assert entry["schedule"].hour == {5}


# --- concurrency -------------------------------------------------------------------------------------------------


def run_in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def runner(index):
        try:
            barrier.wait()
            results[index] = work()
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_twenty_terminals_selling_the_last_five_units_of_a_block_product_sell_exactly_five(location):
    assert connection.vendor == "postgresql"
    product = ProductFactory(stock_policy=Product.StockPolicy.BLOCK)
    put_in_stock(product, location, 5)

    results = run_in_threads(
        20,
        lambda: services.consume_for_sale(location=location, items=[(product.pk, Decimal(1))], reference="t"),
    )

    sold = [r for r in results if isinstance(r, services.StockResult)]
    refused = [r for r in results if isinstance(r, OutOfStock)]
    assert (len(sold), len(refused)) == (5, 15)
    assert on_hand(product, location) == 0
    assert StockMove.objects.filter(product=product, reason=StockMove.Reason.SALE).count() == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_never_take_a_block_product_below_zero_or_lose_a_leg(location):
    product = ProductFactory(stock_policy=Product.StockPolicy.BLOCK)
    warehouse = LocationFactory(code="warehouse")
    put_in_stock(product, location, 5)

    results = run_in_threads(
        10,
        lambda: services.transfer_stock(product=product.pk, source=location.pk, destination=warehouse.pk, quantity=1),
    )

    assert sum(isinstance(r, services.StockResult) for r in results) == 5
    assert (on_hand(product, location), on_hand(product, warehouse)) == (0, 5)
    assert ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_two_clerks_receiving_the_same_delivery_at_once_book_it_once(location):
    product = ProductFactory(cost=Decimal("4.00"))
    order = services.create_purchase_order(
        supplier=Supplier.objects.create(name="Fizz"),
        location=location,
        lines=[PurchaseLineInput(product, "6", "5.00")],
    )

    results = run_in_threads(4, lambda: services.receive_purchase_order(purchase_order=order.pk))

    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    assert on_hand(product, location) == 6
    product.refresh_from_db()
    assert product.cost == Decimal("5.00")


@pytest.mark.django_db(transaction=True)
def test_a_count_posted_from_two_screens_at_once_is_posted_once(location):
    product = ProductFactory()
    put_in_stock(product, location, 10)
    count = services.start_stock_count(location=location)
    services.record_counted_quantities(stock_count=count, counted={product.pk: "7"})

    results = run_in_threads(4, lambda: services.post_stock_count(stock_count=count.pk))

    assert sum(isinstance(r, services.StockResult) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, services.StockResult))
    assert on_hand(product, location) == 7
    assert StockMove.objects.filter(reason=StockMove.Reason.COUNT).count() == 1
