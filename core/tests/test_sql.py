"""The checkout's hand-written statements write and read exactly what the ORM would."""

from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from billing.models import PrintJob
from core.sql import columns, insert_rows, instance
from inventory.models import Product, TaxRate
from inventory.tests.factories import LocationFactory, ProductFactory
from orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db

SKIP = {"id", "uuid", "opened_at", "created_at", "updated_at", "order"}


def _row(obj) -> dict:
    return {k: v for k, v in model_to_dict(type(obj).objects.get(pk=obj.pk)).items() if k not in SKIP}


def test_inserted_rows_read_back_as_the_orm_would_have_saved_them(cashier):
    location = LocationFactory()
    product = ProductFactory(price=Decimal("2.50"))
    note = 'Table 4\'s "usual" \\ no nuts — 🍕 ×2'  # quotes, a backslash, non-ASCII, beyond the BMP
    by_orm, by_sql = Order(location=location, staff=cashier, note=note), Order(location=location, staff=cashier)
    by_orm.save()
    by_sql.note = note
    insert_rows([by_sql])

    lines = [
        OrderLine(
            order=order,
            product=product,
            name="Tea",
            unit_price=Decimal("2.50"),
            quantity=Decimal("1.5"),
            tax_rate_name="Std",
            tax_rate_percent=Decimal("20.000"),
            unit_cost=Decimal("1.0000"),
            modifiers=[{"name": "lemon", "price": "0.10"}],
            added_by=cashier,
        )
        for order in (by_orm, by_sql, by_sql)
    ]
    lines[0].save()
    insert_rows(lines[1:])

    assert by_sql.pk and not by_sql._state.adding and by_sql.opened_at is not None
    assert _row(by_sql) == _row(by_orm)
    assert Order.objects.get(pk=by_sql.pk).note == note
    assert lines[1].pk < lines[2].pk and lines[1].created_at is not None
    assert _row(lines[1]) == _row(lines[2]) == _row(lines[0])
    assert OrderLine.objects.get(pk=lines[2].pk).modifiers == [{"name": "lemon", "price": "0.10"}]

    job = insert_rows([PrintJob(kind=PrintJob.Kind.RECEIPT, payload={"open_drawer": True}, location=location)])[0]
    assert PrintJob.objects.get(pk=job.pk).payload == {"open_drawer": True}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the hand-written reads run on PostgreSQL only")
def test_a_hand_written_read_builds_the_instances_the_orm_builds():
    product = ProductFactory(price=Decimal("3.10"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns(Product, 'p')}, {columns(TaxRate, 't')} FROM inventory_product p "  # noqa: S608
            "JOIN inventory_taxrate t ON t.id = p.tax_rate_id WHERE p.id = %s",
            [product.pk],
        )
        row = cursor.fetchone()
    built, end = instance(Product, row)
    rate, _ = instance(TaxRate, row, end)

    expected = Product.objects.select_related("tax_rate").get(pk=product.pk)
    assert model_to_dict(built) == model_to_dict(expected)
    assert model_to_dict(rate) == model_to_dict(expected.tax_rate)
    assert not built._state.adding and built.price == Decimal("3.10")
