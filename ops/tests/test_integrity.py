from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from billing.models import Payment, Receipt, ZReport
from billing.tests.factories import CashSessionFactory, RegisterFactory
from inventory.models import StockLevel, StockMove
from inventory.services import StockChange, apply_stock_changes
from inventory.tests.factories import ProductFactory
from ops.integrity import collect_violations, last_report, run_integrity_check
from orders.models import Order
from orders.tests.factories import OrderFactory, OrderLineFactory

alerts = []


def record_alert(event, message, data):
    alerts.append((event, message, data))


@pytest.fixture
def alerts_recorded(settings):
    settings.NOTIFIER = "ops.tests.test_integrity.record_alert"
    alerts.clear()
    return alerts


def _run_command():
    from io import StringIO

    out = StringIO()
    try:
        call_command("integrity_check", stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def _paid_order(location, user, *, total=Decimal("12.00"), paid=Decimal("12.00")) -> Order:
    order = OrderFactory(location=location, staff=user)
    OrderLineFactory(order=order, line_total=total, tax_amount=Decimal("2.00"))
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID, subtotal=total, total=total, tax_total=Decimal("2.00"), paid_total=paid
    )
    session = CashSessionFactory(register__location=location, opened_by=user)
    Payment.objects.create(order=order, session=session, tender="card", amount=paid, tendered=paid, created_by=user)
    return order


@pytest.mark.django_db
def test_clean_data_passes_with_exit_code_zero(location, manager):
    product = ProductFactory()
    apply_stock_changes([StockChange(product.id, location.id, Decimal("5"))], reason="purchase", user=manager)
    _paid_order(location, manager)
    code, output = _run_command()
    assert code == 0, output
    assert "0 violation(s)" in output


@pytest.mark.django_db
def test_a_corrupted_ledger_row_is_found_and_named(location, manager, alerts_recorded):
    product = ProductFactory()
    apply_stock_changes([StockChange(product.id, location.id, Decimal("5"))], reason="purchase", user=manager)
    move = StockMove.objects.get(product=product)
    level = StockLevel.objects.get(product=product, location=location)
    with connection.cursor() as cursor:  # what a bad manual fix or a broken restore does: edit the ledger in place
        cursor.execute("UPDATE inventory_stockmove SET delta = 4 WHERE id = %s", [move.id])

    code, output = _run_command()

    assert code == 1
    assert f"stock level {level.id}: on hand 5.000 but the ledger sums to 4.000" in output
    assert f"product={product.id} location={location.id}" in output
    assert alerts_recorded[0][0] == "integrity.violations"
    assert alerts_recorded[0][2]["by_invariant"] == {"stock_level_matches_ledger": 1}
    assert last_report()["violation_count"] == 1


@pytest.mark.django_db
def test_ledger_moves_without_a_stock_level_are_reported(location, manager):
    product = ProductFactory()
    apply_stock_changes([StockChange(product.id, location.id, Decimal("2"))], reason="purchase", user=manager)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM inventory_stocklevel WHERE product_id = %s", [product.id])
    (violation,) = collect_violations().violations
    assert violation.ids == {"product": product.id, "location": location.id}
    assert "there is no stock level" in violation.message


@pytest.mark.django_db
def test_an_order_whose_total_does_not_match_its_lines_is_reported(location, manager):
    order = _paid_order(location, manager)
    Order.objects.filter(pk=order.pk).update(tax_total=Decimal("3.00"))
    invariants = {v.invariant: v for v in collect_violations().violations}
    assert set(invariants) == {"order_tax_matches_lines"}
    assert invariants["order_tax_matches_lines"].ids["order"] == order.id


@pytest.mark.django_db
def test_payments_that_do_not_cover_a_paid_order_are_reported(location, manager):
    order = _paid_order(location, manager, total=Decimal("12.00"), paid=Decimal("10.00"))
    violations = collect_violations().violations
    assert [v.invariant for v in violations] == ["paid_order_paid_in_full"]
    assert violations[0].ids["order_uuid"] == str(order.uuid)


@pytest.mark.django_db
def test_paid_total_that_disagrees_with_the_payments_is_reported(location, manager):
    order = _paid_order(location, manager)
    Order.objects.filter(pk=order.pk).update(paid_total=Decimal("24.00"))
    invariants = [v.invariant for v in collect_violations().violations]
    assert "paid_total_matches_payments" in invariants


@pytest.mark.django_db
def test_a_gift_card_whose_balance_drifted_from_its_ledger_is_reported(location, manager):
    from billing.models import GiftCard
    from billing.tests.factories import GiftCardFactory

    card = GiftCardFactory(balance=Decimal("10.00"), issued_at=location)
    GiftCard.objects.filter(pk=card.pk).update(balance=Decimal("12.00"))

    report = collect_violations()

    (violation,) = [v for v in report.violations if v.invariant == "gift_card_balance_matches_ledger"]
    assert violation.ids == {"gift_card": card.pk}
    assert "ledger sums to 10.00" in violation.message


def test_gift_cards_whose_balances_match_their_ledgers_pass(location, manager):
    from billing.tests.factories import GiftCardFactory

    GiftCardFactory(balance=Decimal("10.00"), issued_at=location)

    assert collect_violations().checked["gift_cards"] == 0


def test_a_gap_in_receipt_numbers_is_reported_with_the_missing_numbers(location, manager):
    order = _paid_order(location, manager)
    register = RegisterFactory(location=location, last_receipt_number=3)
    session = CashSessionFactory(register=register, opened_by=manager)
    for number in (1, 3):
        Receipt.objects.create(register=register, number=number, order=order, session=session)
    (violation,) = collect_violations().violations
    assert violation.invariant == "receipt_numbers_gapless"
    assert violation.ids["register"] == register.id
    assert violation.ids["missing"] == [2]
    assert "missing receipt number(s) 2" in violation.message


@pytest.mark.django_db
def test_consecutive_receipt_and_z_numbers_pass(location, manager):
    order = _paid_order(location, manager)
    register = RegisterFactory(location=location, last_receipt_number=2, last_z_number=1)
    session = CashSessionFactory(register=register, opened_by=manager)
    for number in (1, 2):
        Receipt.objects.create(register=register, number=number, order=order, session=session)
    ZReport.objects.create(register=register, session=session, number=1)
    assert collect_violations().violations == []


@pytest.mark.django_db
def test_a_z_number_missing_from_the_register_counter_is_reported(location, manager):
    register = RegisterFactory(location=location, last_z_number=2)
    ZReport.objects.create(
        register=register, session=CashSessionFactory(register=register, opened_by=manager), number=2
    )
    (violation,) = collect_violations().violations
    assert violation.invariant == "z_numbers_gapless"
    assert violation.ids["missing"] == [1]


@pytest.mark.django_db
def test_clean_run_sends_no_alert(alerts_recorded):
    report = run_integrity_check()
    assert report.ok
    assert alerts_recorded == []


@pytest.mark.django_db
def test_integrity_page_is_for_managers_only(client, cashier):
    client.force_login(cashier)
    response = client.get(reverse("ops:integrity"))
    assert response.status_code == 403


@pytest.mark.django_db
def test_integrity_page_lists_the_last_violations(client, manager, location):
    StockLevel.objects.create(product=ProductFactory(), location=location, on_hand=3)
    run_integrity_check()
    client.force_login(manager)
    response = client.get(reverse("ops:integrity"))
    assert response.status_code == 200
    assert b"1 violation" in response.content
    assert b"stock_level_matches_ledger" in response.content


def test_the_integrity_check_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["ops.integrity_check"]
    assert entry["task"] == "ops.integrity_check"
    schedule = entry["schedule"]
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1 and len(schedule.day_of_week) == 7


@pytest.fixture
def no_run_requested():
    """The request mark lives in the shared cache: none before the test, none left after it."""
    from django.core.cache import cache

    from ops.integrity import REQUESTED_KEY

    cache.delete(REQUESTED_KEY)
    yield
    cache.delete(REQUESTED_KEY)


@pytest.mark.django_db
@pytest.mark.usefixtures("no_run_requested")
def test_run_now_shows_the_check_running_and_polls_until_it_reports(client, manager, location):
    client.force_login(manager)
    run_integrity_check()  # an older report

    client.post(reverse("ops:integrity"))
    running = client.get(reverse("ops:integrity")).content.decode()

    assert "data-running" in running and 'hx-trigger="every 2s"' in running
    assert "refresh" not in running.lower()


@pytest.mark.django_db
@pytest.mark.usefixtures("no_run_requested")
def test_the_integrity_page_shows_the_result_once_the_run_has_reported(client, manager, location):
    client.force_login(manager)
    client.post(reverse("ops:integrity"))
    StockLevel.objects.create(product=ProductFactory(), location=location, on_hand=3)

    run_integrity_check()  # what the worker does
    done = client.get(reverse("ops:integrity")).content.decode()

    assert "data-done" in done and "hx-trigger" not in done
    assert "1 violation" in done and "refresh" not in done.lower()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/ops/integrity/", "/ops/backups/"])
def test_every_ops_page_has_a_way_back_to_the_start_page(client, manager, path):
    client.force_login(manager)

    page = client.get(path).content.decode()

    assert '<a href="/" data-back>' in page
