"""The receipt as a web page, for email and for a guest's phone: the same document the printer prints.

The address carries the order's public uuid as well as the receipt id, so receipts cannot be walked by number.
"""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from billing.models import Receipt
from billing.receipts import money, percent, qty, receipt_document
from core.money import money_text


@require_GET
def receipt_page(request, order_uuid, receipt_id: int):
    receipt = get_object_or_404(
        Receipt.objects.select_related("register", "order__location", "order__staff", "refund"),
        pk=receipt_id,
        order__uuid=order_uuid,
    )
    doc = receipt_document(receipt)
    context = {
        "doc": doc,
        "lines": [
            {"line": line, "qty": qty(line.quantity), "unit": money(line.unit_price), "total": money(line.total)}
            for line in doc.lines
        ],
        "totals": [(label, money(amount)) for label, amount in doc.totals],
        "taxes": [(tax.name, percent(tax.percent), money(tax.tax)) for tax in doc.taxes],
        "tenders": [
            {
                "tender": t,
                "amount": money(t.amount),
                "tendered": money(t.tendered),
                "change": money(t.change),
                "tip": money(t.tip),
                "rounding": money_text(t.rounding, sign=True),
                "balance_left": money(t.balance_left) if t.balance_left is not None else "",
            }
            for t in doc.tenders
        ],
    }
    return render(request, "billing/receipt.html", context)
