"""The one layout of the X and Z reports, for the screen and for the printer.

Pure: takes the report's JSON snapshot (`SessionTotals.as_json()` plus the X/Z header fields) and returns lines no
wider than the printer's columns; the POS screen shows the same lines. Whether the lines are a copy is said
explicitly by the caller (`copy=True` for a reprint of a Z): a copy starts and ends with COPY so it can never pass
for the original. A print job carrying lines laid out as a copy says so in its payload (`MARKED_COPY`), so the
renderer never guesses from the text.
"""

import textwrap
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from core import formats
from core.money import negated_text

TENDER_LABELS = {
    "cash": gettext_lazy("Cash"),
    "card": gettext_lazy("Card"),
    "voucher": gettext_lazy("Voucher"),
    "other": gettext_lazy("Other"),
    "gift_card": gettext_lazy("Gift card"),
    "points": gettext_lazy("Points"),
}


# The print job payload key that says its lines were laid out with `copy=True` (they carry their own COPY marks).
MARKED_COPY = "marked_copy"


# The figures `report_lines` needs: every X/Z snapshot a session writes has them.
LAID_OUT_FIGURES = ("gross_sales", "discounts", "service_charge", "sales", "refunds", "net_sales", "tax_total")


def can_lay_out(data: dict) -> bool:
    """Whether `data` is an X/Z snapshot `report_lines` can lay out (not a hand-made or partial one)."""
    return all(key in data for key in (*LAID_OUT_FIGURES, "net_sales_excl_tax"))


def report_lines(data: dict, *, copy: bool, columns: int = 48) -> list[str]:
    """The report's lines in the active language (the caller activates the store's for a printout)."""
    kind = data.get("kind", "x")
    lines: list[str] = []

    def rule(char: str = "-") -> None:
        lines.append(char * columns)

    def row(label: str, value="") -> None:
        value = _unsigned_zero(str(value))
        room = max(columns - len(value) - 1, 1)
        lines.append(f"{label[:room]:<{room}} {value}")

    def centre(text: str) -> None:
        lines.append(text[:columns].center(columns).rstrip())

    if copy:
        centre(f"*** {pgettext('printed copy', 'COPY')} ***")
    if kind == "z":
        centre(_("Z REPORT No. %(number)s") % {"number": data["number"]})
    elif kind == "x":
        centre(_("X REPORT (not a closing)"))
    else:
        centre(kind.upper())
    centre(str(data.get("location", "")))
    centre(str(data.get("register_name", "")))
    rule("=")
    row(_("Session"), data.get("session", ""))
    row(_("Opened"), _short(data.get("opened_at")))
    row(_("Opened by"), data.get("opened_by", ""))
    if kind == "z":
        row(_("Closed"), _short(data.get("closed_at")))
        row(_("Closed by"), data.get("closed_by", ""))
    else:
        row(_("Printed"), _short(data.get("generated_at")))
    receipts = data.get("receipts") or {}
    if receipts.get("count"):
        row(_("Receipts"), f"{receipts['first']}-{receipts['last']} ({receipts['count']})")
    row(_("Orders"), data.get("order_count", 0))
    for sentence in data.get("numbers_skipped") or []:
        lines.extend(_wrap(_("NOTE: %(sentence)s") % {"sentence": sentence}, columns))
    rule()
    row(_("Gross sales"), with_currency(data["gross_sales"]))
    row(_("Discounts"), amount(negated_text(data["discounts"])))
    row(_("Service charge"), amount(data["service_charge"]))
    row(_("Sales"), amount(data["sales"]))
    row(_("Refunds (%(count)s)") % {"count": data.get("refund_count", 0)}, amount(negated_text(data["refunds"])))
    row(_("NET SALES"), amount(data["net_sales"]))
    row("  " + _("of which tax"), amount(data["tax_total"]))
    row("  " + _("net of tax"), amount(data["net_sales_excl_tax"]))
    voids = data.get("voids") or {}
    row(_("Voided lines (%(count)s)") % {"count": voids.get("count", 0)}, amount(voids.get("amount", "0")))
    if "tips" in data:
        row(_("Tips"), amount(data["tips"]))
    gift = data.get("gift_cards") or {}
    if any(Decimal(value) for value in gift.values()):
        rule()
        lines.append(_("GIFT CARDS (money owed, not sales)"))
        row(" " + _("Sold (liability)"), amount(gift.get("sold", "0")))
        row(" " + _("Redeemed"), amount(gift.get("redeemed", "0")))
        row(" " + _("Refunded to cards"), amount(gift.get("refunded_to_cards", "0")))
    rule()
    lines.append(_("TAX"))
    for rate in data.get("tax_rates", []):
        row(f" {rate['name']} {rate['percent']}%", amount(rate["net_tax"]))
        row(
            "   " + _("base"), rate.get("net_base", amount(rate["base"]))
        )  # Z reports before net_base printed the sales' base
    rule()
    lines.append(_("TENDERS"))
    for tender in data.get("tenders", []):
        label = str(TENDER_LABELS.get(tender["tender"], tender["tender"]))
        row(f" {label} ({tender['count']})", amount(tender["amount"]))
        if Decimal(tender["refunds"]):
            row("   " + _("refunds %(tender)s") % {"tender": label.lower()}, amount(negated_text(tender["refunds"])))
    rule()
    cash = data.get("cash") or {}
    lines.append(_("CASH DRAWER"))
    row(" " + _("Opening float"), amount(cash.get("opening_float", "")))
    if "cash_in" in cash:
        row(" " + _("Cash taken"), amount(cash["cash_in"]))
        row(" " + _("Cash refunded"), amount(negated_text(cash["cash_refunds"])))
    if "pay_ins" in cash:
        row(" " + _("Pay-ins (%(count)s)") % {"count": cash["pay_in_count"]}, amount(cash["pay_ins"]))
        row(" " + _("Pay-outs (%(count)s)") % {"count": cash["pay_out_count"]}, amount(negated_text(cash["pay_outs"])))
    row(" " + _("No-sale opens"), cash.get("no_sales", 0))
    if "expected" in cash:
        row(" " + _("Expected in drawer"), amount(cash["expected"]))
    if "counted" in cash:
        row(" " + _("Counted"), amount(cash["counted"]))
        row(" " + _("Over (+) / short (-)"), amount(cash["over_short"]))
        if data.get("approved_by"):
            row(" " + _("Signed off by"), data["approved_by"])
    if data.get("blind"):
        lines.append(" " + _("Expected cash is shown after the count."))
    if kind == "z":
        rule("=")
        row(_("Grand total before"), amount(data["grand_total_before"]))
        row(_("GRAND TOTAL"), amount(data["grand_total"]))
    if copy:
        rule("=")
        centre(f"*** {pgettext('printed copy', 'COPY')} ***")
    return lines


def _english() -> bool:
    return (translation.get_language() or "en").split("-")[0] == "en"


def amount(value) -> str:
    """A stored figure ("1234.50") as the active language writes it ("1.234,50"); English keeps it as stored."""
    text = str(value)
    if _english() or text == "":
        return text
    try:
        return formats.amount(Decimal(text))
    except ArithmeticError:
        return text


def with_currency(value) -> str:
    """A figure with the currency: "1234.50 EUR" in English (as stored), "1.234,50 €", "Rp 1.234.500"."""
    if _english():
        return f"{value} {settings.POS_CURRENCY}"
    try:
        return formats.money(Decimal(str(value)))
    except ArithmeticError:
        return f"{value} {settings.POS_CURRENCY}"


def _unsigned_zero(text: str) -> str:
    """ "-0.00" (a figure negated or subtracted to nothing) is written "0.00"; any other text is left as it is."""
    if text.startswith("-"):
        try:
            if Decimal(text) == 0:
                return text[1:]
        except ArithmeticError:
            pass
    return text


def _wrap(text: str, columns: int) -> list[str]:
    return textwrap.wrap(text, width=columns) or [""]


def _short(iso: str | None) -> str:
    moment = parse_datetime(iso) if iso else None
    if moment is None:
        return ""
    if not _english():
        return formats.when(moment)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
