"""What goes on paper: receipts, refund receipts, kitchen tickets and X/Z reports.

Two steps, so that the printer, the HTML receipt and the tests all read the same thing:

1. ``*_document(obj)`` reads the stored snapshots (order lines, payments, receipt, location) into a plain, frozen
   document. It never prices anything again: what the guest was charged is what was saved.
2. ``render_*(doc, ...)`` turns a document into ESC/POS bytes with python-escpos's ``Dummy`` printer. These are
   pure: the same document and printer settings always give the same bytes (the golden tests rely on it).

Every text line fits the printer's columns (halved in double-width type). Characters the printer's code page cannot
print are transliterated (``é`` stays ``é`` in CP858, ``ł`` becomes ``l``, ``中`` becomes ``Zhong``) and control
characters in user text are dropped, so a note can neither print garbage nor smuggle printer commands.
"""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy
from unidecode import unidecode

from billing.loyalty import PointsLine, receipt_points
from billing.report_printout import MARKED_COPY, can_lay_out, report_lines
from core import formats
from core.inputs import is_whole_number
from core.money import ZERO, money_text, quantize
from staff.languages import store_language

DEFAULT_CODE_PAGES = ("CP858", "CP1252", "CP850", "CP437")  # CP858 is CP850 with the euro sign
# The letters each store language needs on paper: the code page is chosen to print all of them (Indonesian is
# written in plain ASCII). A letter the printer cannot print is transliterated (ß → ss), never printed as "?".
LANGUAGE_LETTERS = {"de": "ÄÖÜäöüß€", "en": "", "id": ""}
BARCODE_HEIGHT = 60
BARCODE_MODULE_WIDTH = 2  # dots; CODE128 of a receipt code stays well inside 58 mm paper at this width
QR_MODULE_SIZE = 4  # dots per module: a receipt link (QR version 4-5, 33-37 modules) is 15-19 mm wide at 203 dpi
DRAWER_PIN = 2


# --- Documents ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocLine:
    name: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal
    modifiers: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class TaxRow:
    name: str
    percent: Decimal
    tax: Decimal


@dataclass(frozen=True)
class TenderRow:
    label: str
    amount: Decimal
    tendered: Decimal = ZERO
    change: Decimal = ZERO
    rounding: Decimal = ZERO  # cash rounding on this tender (positive: the guest paid more than the total)
    reference: str = ""
    cash: bool = False  # a cash tender: what was handed over and the change are printed, even when it is 0.00
    tip: Decimal = ZERO  # on top of `amount`, paid with this tender
    balance_left: Decimal | None = None  # a gift card tender: what the card holds after this payment


@dataclass(frozen=True)
class GiftCardRow:
    """A card sold on the order, or store credit given by a refund: its full code is printed (it is the card)."""

    label: str  # "Gift card" or "Store credit"
    code: str  # XXXX-XXXX-XXXX-XXXX
    balance: Decimal
    expires_at: datetime | None = None

    @property
    def masked(self) -> str:
        return f"…{self.code[-4:]}"


@dataclass(frozen=True)
class ReceiptDoc:
    title: str  # "Receipt" or "Refund"
    store_name: str
    header: tuple[str, ...]
    footer: tuple[str, ...]
    number: str
    code: str  # printed as a barcode; the refund flow scans it back with parse_receipt_code()
    register: str
    issued_at: datetime
    staff: str
    lines: tuple[DocLine, ...]
    totals: tuple[tuple[str, Decimal], ...]  # the last row is the grand total
    taxes: tuple[TaxRow, ...]
    tenders: tuple[TenderRow, ...]
    prices_include_tax: bool = True
    currency: str = "EUR"
    cash: bool = False  # a cash tender: the drawer opens when this prints (original only)
    legal_name: str = ""  # the business's registered name, under the store's name
    address: tuple[str, ...] = ()
    tax_id: str = ""
    gift_cards: tuple[GiftCardRow, ...] = ()
    url: str = ""  # the receipt's public page, printed as a QR code (empty: no PUBLIC_BASE_URL, no QR code)
    offline_reference: str = ""  # an offline sale: the provisional reference the guest was given, and when it was made
    offline_made_at: datetime | None = None
    points: PointsLine | None = None  # an order with a customer whose sale (or this refund) moved loyalty points
    language: str = "en"  # the store's language: the labels above are in it, and amounts and dates are written in it

    @property
    def total(self) -> Decimal:
        return self.totals[-1][1]

    @property
    def points_rows(self) -> tuple[tuple[str, str], ...]:
        """The loyalty lines of the receipt: what this sale or refund did to the customer's points, and the balance
        right after it."""
        if self.points is None:
            return ()
        p = self.points

        def n(value: int) -> str:
            return formats.number(value, 0, language=self.language)

        with translation.override(self.language):
            rows = [
                (_("Points redeemed"), f"-{n(p.redeemed)}") if p.redeemed else None,
                (_("Points earned"), f"+{n(p.earned)}") if p.earned else None,
                (_("Points given back"), f"+{n(p.returned)}") if p.returned else None,
                (_("Points taken back"), f"-{n(p.reversed)}") if p.reversed else None,
                (_("Already spent, not taken back"), n(p.shortfall)) if p.shortfall else None,
                (_("Points balance"), n(p.balance)),
            ]
        return tuple(row for row in rows if row)


@dataclass(frozen=True)
class KitchenDoc:
    station: str
    ticket: str
    where: str  # "Table 12" or "TAKEAWAY"
    course: int
    waiter: str
    sent_at: datetime
    lines: tuple[DocLine, ...]
    order_note: str = ""
    language: str = "en"  # the store's language


@dataclass(frozen=True)
class ReportDoc:
    title: str
    subtitle: tuple[str, ...] = ()
    sections: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = field(default_factory=tuple)


def receipt_code(receipt) -> str:
    """What the receipt's barcode says: register and number, enough to find it again for a refund."""
    return f"R{receipt.register_id}-{receipt.number}"


def parse_receipt_code(code: str) -> tuple[int, int] | None:
    """(register id, receipt number) from a scanned receipt code, or None if it is not one."""
    code = code.strip().upper()
    if not code.startswith("R") or "-" not in code:
        return None
    register, _, number = code[1:].partition("-")
    if not (is_whole_number(register) and is_whole_number(number)):
        return None
    return int(register), int(number)


def receipt_url(receipt) -> str:
    """The absolute address of a receipt's public page (its QR code and e-mail link); empty without
    PUBLIC_BASE_URL. The token is the secret: the page is found by id and shown only if the token matches."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    path = reverse("receipt-page", kwargs={"receipt_id": receipt.pk, "token": receipt.public_token})
    return settings.PUBLIC_BASE_URL + path


def _staff_name(user) -> str:
    if user is None:
        return ""
    return user.first_name or user.get_username()


def _modifier_text(modifier) -> str:
    if isinstance(modifier, dict):
        name = str(modifier.get("name", ""))
        price = modifier.get("price")
        if price not in (None, "", "0", "0.00") and Decimal(str(price)):
            return f"{name} +{quantize(Decimal(str(price)))}"
        return name
    return str(modifier)


def _doc_line(line, *, quantity=None, total=None) -> DocLine:
    return DocLine(
        name=line.name,
        quantity=line.quantity if quantity is None else quantity,
        unit_price=line.unit_price,
        total=line.line_total if total is None else total,
        modifiers=tuple(_modifier_text(m) for m in (line.modifiers or [])),
        note=line.note,
    )


def _lines(text: str) -> tuple[str, ...]:
    return tuple(part for part in (text or "").splitlines())


def service_charge_label(order) -> str:
    """What the service charge line says: its percent and what it was taken of ("Service 10% of net")."""
    rate = percent(Decimal(order.service_charge_percent))
    if order.service_charge_base == "after_tax":
        return _("Service %(percent)s of gross") % {"percent": rate}
    return _("Service %(percent)s of net") % {"percent": rate}


def _store_identity(location) -> dict:
    return {"legal_name": location.legal_name, "address": _lines(location.address), "tax_id": location.tax_id}


def receipt_document(receipt) -> ReceiptDoc:
    """The document of a sale or refund receipt, from what was stored when it was issued, in the store's
    language."""
    language = store_language(receipt.order.location)
    with translation.override(language):
        doc = _sale_document(receipt)
    return ReceiptDoc(**{**doc.__dict__, "language": language})


def _sale_document(receipt) -> ReceiptDoc:
    order = receipt.order
    location = order.location
    if receipt.kind == receipt.Kind.REFUND and receipt.refund_id:
        return _refund_document(receipt)
    lines = [line for line in order.lines.all() if line.status == line.Status.ACTIVE]
    taxes: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for line in lines:
        taxes[(line.tax_rate_name, line.tax_rate_percent)] += line.tax_amount
    totals = [(_("Subtotal"), order.subtotal)]
    if order.discount_total:
        totals.append((_("Discount"), -order.discount_total))
    if order.service_charge:
        totals.append((service_charge_label(order), order.service_charge))
    if not lines or not lines[0].prices_include_tax:
        totals.append((_("Tax"), order.tax_total))
    totals.append((_("TOTAL"), order.total))
    payments = list(order.payments.all())
    balances = _card_balances_after(payments)
    tenders = []
    for payment in payments:
        tenders.append(
            TenderRow(
                label=str(payment.get_tender_display()),
                amount=payment.amount,
                tendered=payment.tendered,
                change=payment.change,
                rounding=payment.rounding,
                reference=payment.reference,
                cash=payment.tender == payment.Tender.CASH,
                tip=payment.tip,
                balance_left=balances.get(payment.pk),
            )
        )
    return ReceiptDoc(
        title=_("Receipt"),
        store_name=location.name,
        **_store_identity(location),
        header=_lines(location.receipt_header),
        footer=_lines(location.receipt_footer),
        number=f"{receipt.number:06d}",
        code=receipt_code(receipt),
        register=receipt.register.name,
        issued_at=receipt.issued_at,
        staff=_staff_name(order.staff),
        lines=tuple(_doc_line(line) for line in lines),
        totals=tuple(totals),
        taxes=tuple(TaxRow(name, percent, quantize(tax)) for (name, percent), tax in taxes.items() if tax),
        tenders=tuple(tenders),
        prices_include_tax=lines[0].prices_include_tax if lines else location.prices_include_tax,
        currency=settings.POS_CURRENCY,
        cash=any(p.tender == p.Tender.CASH for p in payments),
        gift_cards=_cards_issued(order_id=order.pk, refund_id=None),
        url=receipt_url(receipt),
        **_offline_identity(order),
        points=receipt_points(receipt),
    )


def _card_balances_after(payments) -> dict[int, Decimal]:
    """Per gift-card payment id: the card's balance right after it (its redeem movement)."""
    from billing.models import GiftCardMovement

    ids = [p.pk for p in payments if p.tender == p.Tender.GIFT_CARD]
    if not ids:
        return {}
    return dict(GiftCardMovement.objects.filter(payment_id__in=ids).values_list("payment_id", "balance_after"))


def _cards_issued(*, order_id: int, refund_id: int | None) -> tuple[GiftCardRow, ...]:
    """The cards a sale sold (refund_id None) or a refund gave as store credit, as issued."""
    from billing.giftcards import display_code
    from billing.models import GiftCardMovement

    moves = GiftCardMovement.objects.filter(order_id=order_id, kind=GiftCardMovement.Kind.ISSUE, refund_id=refund_id)
    return tuple(
        GiftCardRow(
            label=str(m.card.get_kind_display()),
            code=display_code(m.card.code),
            balance=m.amount,
            expires_at=m.card.expires_at,
        )
        for m in moves.select_related("card").order_by("pk")
    )


def _offline_identity(order) -> dict:
    """An offline sale's provisional reference and device time, printed with its receipt number on every copy."""
    from billing.models import OfflineSale

    found = OfflineSale.objects.filter(order_id=order.pk).values_list("reference", "made_at").first()
    return {"offline_reference": found[0], "offline_made_at": found[1]} if found else {}


def _refund_document(receipt) -> ReceiptDoc:
    refund = receipt.refund
    location = receipt.order.location
    refund_lines = list(refund.lines.select_related("order_line"))
    taxes: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for rl in refund_lines:
        taxes[(rl.order_line.tax_rate_name, rl.order_line.tax_rate_percent)] += rl.tax_amount
    tender = TenderRow(label=_("%(tender)s refunded") % {"tender": refund.get_tender_display()}, amount=-refund.amount)
    service = sum((rl.service_charge_amount for rl in refund_lines), ZERO)
    totals = []
    if service:
        totals.append((service_charge_label(receipt.order), -service))
    totals.append((_("TOTAL REFUNDED"), -refund.amount))
    return ReceiptDoc(
        title=_("Refund"),
        store_name=location.name,
        **_store_identity(location),
        header=_lines(location.receipt_header),
        footer=(_("Reason: %(reason)s") % {"reason": refund.reason}, *_lines(location.receipt_footer)),
        number=f"{receipt.number:06d}",
        code=receipt_code(receipt),
        register=receipt.register.name,
        issued_at=receipt.issued_at,
        staff=_staff_name(refund.created_by),
        lines=tuple(
            _doc_line(rl.order_line, quantity=rl.quantity, total=-(rl.amount - rl.service_charge_amount))
            for rl in refund_lines
        ),
        totals=tuple(totals),
        taxes=tuple(TaxRow(name, percent, -quantize(tax)) for (name, percent), tax in taxes.items() if tax),
        tenders=(tender,),
        prices_include_tax=refund_lines[0].order_line.prices_include_tax if refund_lines else True,
        currency=settings.POS_CURRENCY,
        cash=refund.tender == "cash",
        gift_cards=_cards_issued(order_id=receipt.order_id, refund_id=refund.pk) if refund.gift_card_id else (),
        url=receipt_url(receipt),
        points=receipt_points(receipt),
    )


@dataclass(frozen=True)
class InvoiceTaxRow:
    name: str
    percent: Decimal
    net: Decimal  # what the lines at this rate cost without tax, after discounts
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class InvoiceDoc:
    """A sale receipt laid out as an invoice for a business customer: the same lines and total, with the buyer's
    company and tax ID and the tax per rate. Its number is the receipt's (register-number, gapless per register)."""

    receipt: ReceiptDoc
    number: str
    buyer_name: str
    buyer_company: str
    buyer_tax_id: str
    tax_rows: tuple[InvoiceTaxRow, ...]
    untaxed: tuple[tuple[str, Decimal], ...]  # amounts that carry no tax (the service charge)

    @property
    def total(self) -> Decimal:
        return self.receipt.total


def invoice_buyer(receipt):
    """The customer an invoice of this receipt is made out to: a sale's customer with a company or a tax ID, or
    None (a refund, a walk-in guest, a private customer)."""
    if receipt.kind != receipt.Kind.SALE:
        return None
    customer = receipt.order.customer
    if customer is None or not (customer.company or customer.tax_id):
        return None
    return customer


def invoice_document(receipt) -> InvoiceDoc | None:
    """The invoice of a sale receipt, or None when there is no business customer to make it out to."""
    customer = invoice_buyer(receipt)
    if customer is None:
        return None
    doc = receipt_document(receipt)
    rows: dict[tuple[str, Decimal], list[Decimal]] = {}
    for line in receipt.order.lines.all():
        if line.status != line.Status.ACTIVE:
            continue
        charged = line.line_total - line.order_discount_amount
        net = charged - line.tax_amount if line.prices_include_tax else charged
        row = rows.setdefault((line.tax_rate_name, line.tax_rate_percent), [ZERO, ZERO])
        row[0] += net
        row[1] += line.tax_amount
    service = receipt.order.service_charge
    return InvoiceDoc(
        receipt=doc,
        number=str(receipt),
        buyer_name=customer.name,
        buyer_company=customer.company,
        buyer_tax_id=customer.tax_id,
        tax_rows=tuple(
            InvoiceTaxRow(name, percent, quantize(net), quantize(tax), quantize(net + tax))
            for (name, percent), (net, tax) in rows.items()
        ),
        untaxed=((service_charge_label(receipt.order), service),) if service else (),
    )


def receipt_context(doc: ReceiptDoc) -> dict:
    """The document with its amounts as text, for the web page and the e-mail."""
    lang = doc.language
    return {
        "doc": doc,
        "lines": [
            {
                "line": line,
                "qty": qty(line.quantity, lang),
                "unit": money(line.unit_price, lang),
                "total": money(line.total, lang),
            }
            for line in doc.lines
        ],
        "totals": [(label, money(amount, lang)) for label, amount in doc.totals],
        "taxes": [(tax.name, percent(tax.percent, lang), money(tax.tax, lang)) for tax in doc.taxes],
        "tenders": [
            {
                "tender": t,
                "amount": money(t.amount, lang),
                "tendered": money(t.tendered, lang),
                "change": money(t.change, lang),
                "tip": money(t.tip, lang),
                "rounding": money_text(t.rounding, sign=True)
                if lang == "en"
                else formats.amount(t.rounding, language=lang, sign=True),
                "balance_left": money(t.balance_left, lang) if t.balance_left is not None else "",
            }
            for t in doc.tenders
        ],
    }


def kitchen_document(ticket) -> KitchenDoc:
    """A kitchen ticket's document, in the store's language."""
    language = store_language(ticket.order.location)
    with translation.override(language):
        doc = _kitchen_document(ticket)
    return KitchenDoc(**{**doc.__dict__, "language": language})


def _kitchen_document(ticket) -> KitchenDoc:
    order = ticket.order
    if order.table_id:
        where = _("Table %(table)s") % {"table": order.table.name}
    else:
        where = str(order.get_channel_display()).upper()
    lines = [line for line in ticket.lines.all() if line.status == line.Status.ACTIVE]
    return KitchenDoc(
        station=ticket.station,
        ticket=str(ticket.pk),
        where=where,
        course=ticket.course,
        waiter=_staff_name(ticket.sent_by),
        sent_at=ticket.created_at,
        lines=tuple(_doc_line(line) for line in lines),
        order_note=order.note,
    )


def _report_value(value) -> str:
    if isinstance(value, Decimal):
        return money(value)
    return str(value)


def _report_rows(data: dict) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(k).replace("_", " ").capitalize(), _report_value(v))
        for k, v in data.items()
        if not isinstance(v, dict | list)
    )


def report_document(title: str, data: dict, *, subtitle: tuple[str, ...] = ()) -> ReportDoc:
    """A report from a snapshot dict: its plain values first, then one section per nested dict (or list of dicts)."""
    sections = [("", _report_rows(data))]
    for key, value in data.items():
        heading = str(key).replace("_", " ").capitalize()
        if isinstance(value, dict):
            sections.append((heading, _report_rows(value)))
        elif isinstance(value, list):
            rows = []
            for item in value:
                if isinstance(item, dict):
                    rows.extend(_report_rows(item))
                    rows.append(("", ""))
                else:
                    rows.append(("", _report_value(item)))
            sections.append((heading, tuple(rows)))
    return ReportDoc(title=title, subtitle=subtitle, sections=tuple(s for s in sections if s[1]))


def z_report_document(z_report) -> ReportDoc:
    session = z_report.session
    head = {
        "gross_sales": z_report.gross_sales,
        "net_sales": z_report.net_sales,
        "tax_total": z_report.tax_total,
        "grand_total": z_report.grand_total,
    }
    subtitle = (
        f"{z_report.register.location.name} · {z_report.register.name}",
        f"Opened {_when(session.opened_at)}",
        f"Closed {_when(session.closed_at)}" if session.closed_at else "",
    )
    return report_document(f"Z report {z_report.number}", {**head, **(z_report.data or {})}, subtitle=subtitle)


# --- Text helpers -------------------------------------------------------------------------------------------


def money(amount: Decimal, language: str = "en") -> str:
    """An amount as a receipt prints it: grouped, in the store's language ("1,250.00"; "1.250,00" in German)."""
    if language == "en":
        return money_text(amount, grouped=True)
    return formats.amount(amount, language=language)


def total_text(doc: ReceiptDoc, amount: Decimal) -> str:
    """The grand total with its currency: "EUR 27.40", "27,40 €", "Rp 125.000"."""
    if doc.language == "en":
        return f"{doc.currency} {money(amount)}"
    return formats.money(amount, language=doc.language, currency=doc.currency)


def qty(quantity: Decimal, language: str = "en") -> str:
    text = format(Decimal(quantity).normalize(), "f")
    if language != "en" and "." in text:
        return formats.number(Decimal(text), len(text.split(".")[1]), language=language)
    return text


def percent(value: Decimal, language: str = "en") -> str:
    return f"{qty(value, language)}%"


def _day(moment: datetime, language: str = "en") -> str:
    if language == "en":
        return f"{timezone.localtime(moment):%Y-%m-%d}"
    return formats.day(moment, language=language)


def _when(moment: datetime | None, language: str = "en") -> str:
    if moment is None:
        return ""
    if language == "en":
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
    return formats.when(moment, language=language)


class Paper:
    """Writes wrapped, printable text to a python-escpos printer object and remembers the current width."""

    def __init__(self, *, columns: int, profile: str, code_page: str = "", language: str = "en"):
        self.columns = columns
        self.p = Dummy(profile=profile or "default")
        self.code_page = self._pick_code_page(code_page, LANGUAGE_LETTERS.get(language, ""))
        self.scale = 1
        self.p.hw("INIT")
        self.p.charcode(self.code_page)

    def _pick_code_page(self, wanted: str, letters: str = "") -> str:
        """The printer's configured code page, else the first default one its profile has, passing over any that
        cannot print every letter of the store's language while one that can exists."""
        pages = set((self.p.profile.profile_data.get("codePages") or {}).values())
        usable = [page for page in (wanted, *DEFAULT_CODE_PAGES) if page and page in pages]
        encoder = self.p.magic.encoder
        for page in usable:
            if all(encoder.can_encode(page, letter) for letter in letters):
                return page
        return usable[0] if usable else "CP437"

    @property
    def width(self) -> int:
        return max(self.columns // self.scale, 8)

    def printable(self, text: str) -> str:
        """The text as this code page can print it: transliterated where it must be, without control characters."""
        out = []
        transliterated = False
        for ch in str(text):
            if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
                out.append(" " if ch in "\t\n\r" else "")
            elif self.p.magic.encoder.can_encode(self.code_page, ch):
                out.append(ch)
            else:
                out.append(unidecode(ch) or "_")  # "中" → "Zhong ", "ł" → "l"; never "?"
                transliterated = True
        result = "".join(out)
        return re.sub(" {2,}", " ", result).rstrip() if transliterated else result

    def style(self, *, align="left", bold=False, size="normal", invert=False):
        self.p.set(
            align=align,
            bold=bold,
            invert=invert,
            normal_textsize=size == "normal",
            double_width=size in ("2w", "2x"),
            double_height=size in ("2h", "2x"),
        )
        self.scale = 2 if size in ("2w", "2x") else 1

    def para(self, text: str, *, indent: int = 0) -> None:
        width = self.width - indent
        for raw in str(text).split("\n"):  # not splitlines(): it also splits on \x1c-\x1e, \x85 …
            wrapped = textwrap.wrap(self.printable(raw), width=width, break_on_hyphens=False) or [""]
            for part in wrapped:
                self.p.textln(" " * indent + part)

    def pair(self, left: str, right: str, *, indent: int = 0) -> None:
        """`left` wrapped on the left, `right` flush right on the first line."""
        right = self.printable(right)[: self.width]
        room = self.width - indent - len(right) - 1
        if room < 4:  # a very long amount: give it its own line
            self.para(left, indent=indent)
            self.p.textln(right.rjust(self.width))
            return
        parts = textwrap.wrap(self.printable(left), width=room, break_on_hyphens=False) or [""]
        first = " " * indent + parts[0]
        self.p.textln(first + right.rjust(self.width - len(first)))
        for part in parts[1:]:
            self.p.textln(" " * indent + part)

    def rule(self, char: str = "-") -> None:
        self.p.textln(char * self.width)

    def copy_banner(self) -> None:
        self.style(align="center", bold=True, size="2x", invert=True)
        self.para(pgettext("printed copy", "COPY"))
        self.style()

    def output(self) -> bytes:
        return self.p.output


# --- Rendering ----------------------------------------------------------------------------------------------


def render_receipt(
    doc: ReceiptDoc,
    *,
    columns: int,
    profile: str = "default",
    code_page: str = "",
    copy: bool = False,
    open_drawer: bool = False,
) -> bytes:
    """ESC/POS bytes of a receipt, in the store's language. A copy says COPY at the top and bottom and never opens
    the drawer."""
    with translation.override(doc.language):
        return _render_receipt(
            doc, columns=columns, profile=profile, code_page=code_page, copy=copy, open_drawer=open_drawer
        )


def _render_receipt(doc: ReceiptDoc, *, columns, profile, code_page, copy, open_drawer) -> bytes:
    lang = doc.language
    paper = Paper(columns=columns, profile=profile, code_page=code_page, language=lang)
    p = paper.p
    if open_drawer and not copy:
        p.cashdraw(DRAWER_PIN)
    if copy:
        paper.copy_banner()
    paper.style(align="center", bold=True, size="2x")
    paper.para(doc.store_name)
    paper.style(align="center")
    if doc.legal_name and doc.legal_name != doc.store_name:
        paper.para(doc.legal_name)
    for line in doc.address:
        paper.para(line)
    if doc.tax_id:
        paper.para(_("Tax ID %(id)s") % {"id": doc.tax_id})
    for line in doc.header:
        paper.para(line)
    p.ln()
    paper.style(align="center", bold=True)
    paper.para(doc.title.upper())
    paper.style()
    paper.pair(_("No. %(number)s") % {"number": doc.number}, doc.register)
    paper.pair(_when(doc.issued_at, lang), doc.staff)
    if doc.offline_reference:
        paper.pair(_("Offline %(reference)s") % {"reference": doc.offline_reference}, _when(doc.offline_made_at, lang))
    paper.rule()
    for line in doc.lines:
        if line.quantity == 1:
            paper.pair(line.name, money(line.total, lang))
        else:
            paper.pair(f"{qty(line.quantity, lang)} x {line.name}", money(line.total, lang))
            paper.para(f"@ {money(line.unit_price, lang)}", indent=2)
        for modifier in line.modifiers:
            paper.para(f"+ {modifier}", indent=2)
        if line.note:
            paper.para(f"* {line.note}", indent=2)
    paper.rule()
    for label, amount in doc.totals[:-1]:
        paper.pair(label, money(amount, lang))
    label, amount = doc.totals[-1]
    paper.style(bold=True, size="2h")
    paper.pair(label, total_text(doc, amount))
    paper.style()
    if doc.taxes:
        p.ln()
        included = pgettext("tax", "incl.") if doc.prices_include_tax else pgettext("tax", "added")
        for tax in doc.taxes:
            paper.pair(f"{tax.name} {percent(tax.percent, lang)} ({included})", money(tax.tax, lang))
    if doc.tenders:
        p.ln()
        for tender in doc.tenders:
            paper.pair(tender.label, money(tender.amount, lang))
            if tender.tip:
                paper.pair(_("Tip"), money(tender.tip, lang), indent=2)
            if tender.rounding:
                paper.pair(_("Cash rounding"), money(tender.rounding, lang), indent=2)
            if tender.change or tender.cash:
                paper.pair(pgettext("cash handed over", "Tendered"), money(tender.tendered, lang), indent=2)
                paper.pair(pgettext("money given back", "Change"), money(tender.change, lang), indent=2)
            if tender.reference:
                paper.para(_("Ref %(reference)s") % {"reference": tender.reference}, indent=2)
            if tender.balance_left is not None:
                paper.pair(_("Card balance left"), money(tender.balance_left, lang), indent=2)
    for card in doc.gift_cards:
        p.ln()
        paper.style(bold=True)
        paper.para(card.label.upper())
        paper.style()
        paper.pair(card.code, money(card.balance, lang))
        if card.expires_at:
            paper.para(_("Valid until %(day)s") % {"day": _day(card.expires_at, lang)}, indent=2)
    if doc.points_rows:
        p.ln()
        for label, value in doc.points_rows:
            paper.pair(label, value)
    paper.rule()
    paper.style(align="center")
    for line in doc.footer:
        paper.para(line)
    if doc.url:
        p.ln()
        paper.para(_("Your receipt online:"))
        p.qr(doc.url, ec=QR_ECLEVEL_M, size=QR_MODULE_SIZE, native=True)  # centred by the alignment above
        p.ln()
    with contextlib.redirect_stdout(io.StringIO()):  # python-escpos print()s which renderer it used
        p.barcode(
            "{B" + doc.code,
            "CODE128",
            function_type="B",
            height=BARCODE_HEIGHT,
            width=BARCODE_MODULE_WIDTH,
            pos="BELOW",
            align_ct=True,
        )
    paper.style()
    if copy:
        paper.copy_banner()
    p.cut()
    return paper.output()


def render_kitchen_ticket(
    doc: KitchenDoc, *, columns: int, profile: str = "default", code_page: str = "", copy: bool = False
) -> bytes:
    """A kitchen ticket in large type, in the store's language: station, table, course, each item with its
    modifiers and notes, the waiter."""
    with translation.override(doc.language):
        return _render_kitchen_ticket(doc, columns=columns, profile=profile, code_page=code_page, copy=copy)


def _render_kitchen_ticket(doc: KitchenDoc, *, columns, profile, code_page, copy) -> bytes:
    lang = doc.language
    paper = Paper(columns=columns, profile=profile, code_page=code_page, language=lang)
    p = paper.p
    if copy:
        paper.copy_banner()
    paper.style(align="center", bold=True, size="2x", invert=True)
    paper.para(doc.station.upper())
    paper.style(align="center", bold=True, size="2x")
    paper.para(doc.where)
    paper.style()
    paper.pair(
        # Translators: the course of a meal (starter, main, dessert) the kitchen sends out, not a class
        pgettext("meal course", "Course %(number)s") % {"number": doc.course},
        _("Ticket #%(number)s") % {"number": doc.ticket},
    )
    paper.pair(_when(doc.sent_at, lang), doc.waiter)
    paper.rule("=")
    for line in doc.lines:
        paper.style(bold=True, size="2x")
        paper.para(f"{qty(line.quantity, lang)} x {line.name}")
        paper.style(size="2h")
        for modifier in line.modifiers:
            paper.para(f"+ {modifier}", indent=2)
        if line.note:
            paper.para(f"! {line.note}", indent=2)
        paper.style()
    paper.rule("=")
    if doc.order_note:
        paper.style(bold=True, size="2h")
        paper.para(_("Note: %(note)s") % {"note": doc.order_note})
        paper.style()
    if copy:
        paper.copy_banner()
    p.cut()
    return paper.output()


def render_report(doc: ReportDoc, *, columns: int, profile: str = "default", code_page: str = "", copy=False) -> bytes:
    paper = Paper(columns=columns, profile=profile, code_page=code_page)
    if copy:
        paper.copy_banner()
    paper.style(align="center", bold=True, size="2x")
    paper.para(doc.title)
    paper.style(align="center")
    for line in doc.subtitle:
        if line:
            paper.para(line)
    paper.style()
    for heading, rows in doc.sections:
        paper.rule()
        if heading:
            paper.style(bold=True)
            paper.para(heading)
            paper.style()
        for label, value in rows:
            paper.pair(label, value) if label else paper.para(value)
    paper.rule()
    if copy:
        paper.copy_banner()
    paper.p.cut()
    return paper.output()


@dataclass(frozen=True)
class LinesDoc:
    """Text already laid out by its producer (the X/Z report printout); may be empty for a drawer kick alone.
    `marked_copy`: the producer laid the lines out as a copy (they carry their own COPY marks)."""

    lines: tuple[str, ...]
    marked_copy: bool = False


def render_lines(
    doc: LinesDoc,
    *,
    columns: int,
    profile: str = "default",
    code_page: str = "",
    copy: bool = False,
    open_drawer: bool = False,
) -> bytes:
    """A copy gets the COPY banner top and bottom unless its producer laid the lines out as a copy already."""
    paper = Paper(columns=columns, profile=profile, code_page=code_page)
    if open_drawer and not copy:
        paper.p.cashdraw(DRAWER_PIN)
    if not doc.lines:
        return paper.output()
    banner = copy and not doc.marked_copy
    if banner:
        paper.copy_banner()
    for line in doc.lines:
        paper.para(line)
    if banner:
        paper.copy_banner()
    paper.p.cut()
    return paper.output()


def job_document(job):
    """The document a print job prints: its receipt, kitchen ticket, the lines in its payload, or its Z report
    (laid out by the one X/Z layout, `billing.report_printout`, as a copy when the job is one)."""
    if job.receipt_id:
        return receipt_document(job.receipt)
    if job.kitchen_ticket_id:
        return kitchen_document(job.kitchen_ticket)
    if isinstance(job.payload.get("lines"), list):
        return LinesDoc(
            lines=tuple(str(line) for line in job.payload["lines"]),
            marked_copy=bool(job.payload.get(MARKED_COPY)),
        )
    if job.z_report_id:
        data = job.z_report.data or {}
        if can_lay_out(data):
            with translation.override(store_language(job.z_report.register.location)):
                lines = report_lines(data, copy=job.is_copy, columns=job.printer.columns)
            return LinesDoc(lines=tuple(lines), marked_copy=job.is_copy)
        return z_report_document(job.z_report)  # a snapshot without the X/Z figures: print what it stores
    report = job.payload.get("report")
    if isinstance(report, dict):
        return report_document(str(report.get("title", "Report")), report.get("data", {}))
    raise ValueError(f"Print job {job.pk} has nothing to print.")


def render_job(job) -> bytes:
    """The bytes a print job sends to its printer."""
    printer = job.printer
    options = {"columns": printer.columns, "profile": printer.profile, "code_page": printer.code_page}
    doc = job_document(job)
    if isinstance(doc, ReceiptDoc):
        open_drawer = job.payload.get("open_drawer", doc.cash) and printer.has_cash_drawer
        return render_receipt(doc, copy=job.is_copy, open_drawer=bool(open_drawer), **options)
    if isinstance(doc, KitchenDoc):
        return render_kitchen_ticket(doc, copy=job.is_copy, **options)
    if isinstance(doc, LinesDoc):
        open_drawer = bool(job.payload.get("open_drawer")) and printer.has_cash_drawer
        return render_lines(doc, copy=job.is_copy, open_drawer=open_drawer, **options)
    return render_report(doc, copy=job.is_copy, **options)
