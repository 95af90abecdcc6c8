from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import migrations, models


def backfill_service_charge(apps, schema_editor):
    """Each earlier refund line gives back its share of the line's service charge, as the refund service now
    records it: cumulative shares by quantity, the last units taking what is left."""
    RefundLine = apps.get_model("billing", "RefundLine")
    unit = Decimal(1).scaleb(-settings.POS_CURRENCY_DECIMALS)
    refunded: dict[int, tuple[Decimal, Decimal]] = {}
    rows = (
        RefundLine.objects.filter(order_line__service_charge_amount__gt=0)
        .select_related("order_line")
        .order_by("order_line_id", "id")
    )
    for row in rows.iterator():
        line = row.order_line
        quantity, given = refunded.get(line.pk, (Decimal(0), Decimal(0)))
        quantity += row.quantity
        if quantity >= line.quantity:
            share = line.service_charge_amount - given
        else:
            share = min(
                (line.service_charge_amount * quantity / line.quantity).quantize(unit, rounding=ROUND_HALF_UP),
                line.service_charge_amount,
            ) - given
        RefundLine.objects.filter(pk=row.pk).update(service_charge_amount=share)
        refunded[line.pk] = (quantity, given + share)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_printer_code_page_and_print_job_resolution"), ("orders", "0002_line_price_shares_and_merged_status")]

    operations = [
        migrations.AddField(
            model_name="refundline",
            name="service_charge_amount",
            field=models.DecimalField(
                decimal_places=4,
                default=0,
                help_text="The part of `amount` that gives back the line's service charge.",
                max_digits=14,
            ),
        ),
        migrations.RunPython(backfill_service_charge, migrations.RunPython.noop),
    ]
