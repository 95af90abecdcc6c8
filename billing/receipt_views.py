"""The receipt as a web page, for a guest's phone (the QR code on the paper) and e-mail: the same document the
printer prints, and for a business customer the same sale as an invoice.

The address is /receipts/<id>/<token>/: the id finds the row and the token, 128 random bits stored on the receipt,
must match it (compared in constant time). A guessed, altered or truncated link is a 404, whatever part is wrong,
and an address that keeps opening wrong links is slowed down with 429s (RECEIPT_PAGE_MISSES_PER_IP per 10 minutes).
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from billing.models import Receipt
from billing.receipts import invoice_buyer, invoice_document, money, percent, receipt_context, receipt_document
from core.client_ip import client_ip
from core.limits import count_in_window, counted
from core.money import ZERO

MISS_WINDOW_SECONDS = 600
_NO_TOKEN = "-" * 22  # compared against when the id names no receipt, so a miss takes as long either way


def _miss_key(request) -> str:
    return f"receipt-page-misses:{client_ip(request) or 'unknown'}"


def _too_many_misses(request) -> bool:
    limit = settings.RECEIPT_PAGE_MISSES_PER_IP
    return bool(limit) and counted(_miss_key(request), what="receipt link") >= limit


def _count_miss(request) -> None:
    count_in_window(_miss_key(request), MISS_WINDOW_SECONDS, what="receipt link")


def receipt_for_link(request, receipt_id: int, token: str) -> Receipt:
    """The receipt a public link names, or Http404 (counted against the caller's address)."""
    receipt = (
        Receipt.objects.select_related("register", "order__location", "order__staff", "order__customer", "refund")
        .filter(pk=receipt_id)
        .first()
    )
    expected = receipt.public_token if receipt is not None else _NO_TOKEN
    if not hmac.compare_digest(expected.encode(), token.encode()) or receipt is None:
        _count_miss(request)
        raise Http404("No such receipt.")
    return receipt


def _refused() -> HttpResponse:
    return HttpResponse("Too many wrong receipt links from this address; try again later.", status=429)


@require_GET
def receipt_page(request, receipt_id: int, token: str):
    if _too_many_misses(request):
        return _refused()
    receipt = receipt_for_link(request, receipt_id, token)
    doc = receipt_document(receipt)
    context = receipt_context(doc)
    context["has_invoice"] = invoice_buyer(receipt) is not None
    context["token"] = token
    context["receipt_id"] = receipt.pk
    with translation.override(doc.language):  # the guest's receipt speaks the store's language, as the paper does
        response = render(request, "billing/receipt.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to a page the guest goes on to
    return response


@require_GET
def receipt_invoice(request, receipt_id: int, token: str):
    if _too_many_misses(request):
        return _refused()
    receipt = receipt_for_link(request, receipt_id, token)
    invoice = invoice_document(receipt)
    if invoice is None:
        raise Http404("This receipt has no invoice.")
    context = receipt_context(invoice.receipt)
    context.update(
        invoice=invoice,
        tax_rows=[
            {
                "name": r.name,
                "percent": percent(r.percent),
                "net": money(r.net),
                "tax": money(r.tax),
                "gross": money(r.gross),
            }
            for r in invoice.tax_rows
        ],
        untaxed=[(label, money(amount), money(ZERO)) for label, amount in invoice.untaxed],
        token=token,
        receipt_id=receipt.pk,
    )
    response = render(request, "billing/invoice.html", context)
    response["Referrer-Policy"] = "no-referrer"
    return response
