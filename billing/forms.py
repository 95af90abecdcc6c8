"""Forms of the money screens: they only parse and check shape; the rules are in billing's services."""

from decimal import ROUND_CEILING, Decimal

from django import forms

from billing.models import Receipt
from billing.receipts import parse_receipt_code
from billing.services import RefundItem, default_restock
from core.errors import DomainError
from core.inputs import is_whole_number
from core.money import ZERO, quantize
from orders.pricing import TenderInput, round_cash


def denomination_field(value: Decimal) -> str:
    return f"d_{value}"


def _counts(data, denominations: list[Decimal]) -> dict[str, str]:
    return {str(d): (data.get(denomination_field(d)) or "").strip() for d in denominations}


def float_from(data, denominations: list[Decimal]) -> tuple[str | None, dict | None]:
    """The opening float as typed: a count per denomination if any was entered, otherwise a plain amount."""
    counts = {key: value for key, value in _counts(data, denominations).items() if value}
    if counts:
        return None, counts
    amount = (data.get("opening_float") or "").strip()
    return (amount or None), None


def close_count_from(data, denominations: list[Decimal]) -> dict[str, str]:
    """The blind count: every denomination, an empty field counting as none."""
    return {key: value or "0" for key, value in _counts(data, denominations).items()}


class CashMoveForm(forms.Form):
    kind = forms.ChoiceField(choices=[("pay_in", "Pay in"), ("pay_out", "Pay out")])
    amount = forms.CharField(max_length=20)
    reason = forms.CharField(max_length=200)


MAX_TENDER_ROWS = 20


def _decimal_or_none(raw, field: str) -> Decimal | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise DomainError(f"“{raw}” is not an amount.", code="invalid", fields={field: ["Not a number."]}) from None
    if not value.is_finite():
        raise DomainError("Amounts must be finite.", code="invalid", fields={field: ["Not a number."]})
    return value


TIP_PERCENT = "percent"


class PaymentForm(forms.Form):
    """One row per tender (tender_0, amount_0, tip_0, tip_mode_0, guest_0, reference_0, …). For cash the amount is
    what the guest handed over; for other tenders what is charged to it. An empty amount means “exactly what is
    left”. The tip is an amount, or with tip_mode "percent" a percent of the order's total."""

    key = forms.CharField(max_length=128)
    rows = forms.IntegerField(min_value=1, max_value=MAX_TENDER_ROWS, required=False)

    def __init__(self, *args, nothing_due: bool = False, due: Decimal = ZERO, point_value: Decimal = ZERO, **kwargs):
        super().__init__(*args, **kwargs)
        self.nothing_due = nothing_due  # a sale of 0.00 takes no tender (a manager approves it)
        self.due = due
        self.point_value = point_value  # what one loyalty point pays here; 0: points are not offered

    @staticmethod
    def guests_from(raw) -> int:
        try:
            return max(1, min(int(raw), MAX_TENDER_ROWS))
        except (TypeError, ValueError):
            return 1

    def clean(self):
        data = super().clean()
        rows = data.get("rows") or 1
        tenders = []
        try:
            for i in range(rows):
                tender = (self.data.get(f"tender_{i}") or "").strip()
                if not tender:
                    continue
                amount = _decimal_or_none(self.data.get(f"amount_{i}"), f"amount_{i}")
                tip = _decimal_or_none(self.data.get(f"tip_{i}"), f"tip_{i}")
                by_percent = self.data.get(f"tip_mode_{i}") == TIP_PERCENT
                guest = self.data.get(f"guest_{i}")
                tenders.append(
                    TenderInput(
                        tender=tender,
                        amount=None if tender == "cash" else amount,
                        tendered=amount if tender == "cash" else None,
                        tip=ZERO if by_percent or tip is None else tip,
                        tip_percent=tip if by_percent and tip is not None else None,
                        reference=(self.data.get(f"reference_{i}") or "").strip()[:64],
                        guest=int(guest) if guest and is_whole_number(str(guest)) else None,
                        card=(self.data.get(f"reference_{i}") or "").strip()[:40] if tender == "gift_card" else "",
                    )
                )
            points = self._points_tender()
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        try:
            tenders = self._gift_card_tender() + tenders
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        if points is not None:
            # "Pay with points" pays first; when it covers what is due, the other rows (left at exactly what is
            # due) have nothing left to pay and are dropped.
            tenders = [points] if points.amount >= self.due else [points, *tenders]
        if self.nothing_due:
            tenders = []
        elif not tenders:
            raise forms.ValidationError("Choose how the guest pays.")
        data["tenders"] = tenders
        return data

    def _points_tender(self) -> TenderInput | None:
        """The "Pay with points" field: a whole number of the customer's points, paid at the store's value."""
        raw = (self.data.get("points") or "").strip()
        if not raw or not self.point_value:
            return None
        if not is_whole_number(raw) or len(raw) > 10:
            raise DomainError("Points are a whole number.", code="invalid", fields={"points": ["Not a number."]})
        points = int(raw)
        if not points:
            return None
        return TenderInput(tender="points", amount=quantize(points * self.point_value))

    def tenders(self) -> list[TenderInput]:
        return self.cleaned_data["tenders"]

    def _gift_card_tender(self) -> list[TenderInput]:
        """The payment screen's gift-card box: the code scanned or typed and what to take from the card (empty:
        as much as it holds, up to what is due; the other tender pays the rest)."""
        code = (self.data.get("gift_card_code") or "").strip()[:40]
        if not code:
            return []
        amount = _decimal_or_none(self.data.get("gift_card_amount"), "gift_card_amount")
        return [TenderInput(tender="gift_card", amount=amount, card=code, allow_partial=amount is None)]

    def error_text(self) -> str:
        return " ".join(str(e) for errors in self.errors.values() for e in errors)


def quick_cash_amounts(total: Decimal, *, step: Decimal = ZERO) -> list[Decimal]:
    """Buttons for what guests usually hand over: the exact amount in cash (rounded to the store's cash `step`),
    then the next round notes above it."""
    amounts = [round_cash(total, step)]
    for note in (Decimal(5), Decimal(10), Decimal(20), Decimal(50), Decimal(100)):
        rounded = quantize((total / note).to_integral_value(rounding=ROUND_CEILING) * note)
        if rounded > amounts[-1]:
            amounts.append(rounded)
        if len(amounts) == 4:
            break
    return amounts


RESTOCK_CHOICES = {"1": True, "0": False}


def tender_rows(data, *, shares: list[Decimal]) -> list[dict]:
    """The tender rows the payment screen draws: one per guest share (or one), each with what was typed into it
    when the screen comes back after a refusal, so that nothing typed is lost."""
    data = data or {}
    count = max(len(shares), 1)
    rows = []
    for i in range(count):
        default_amount = f"{quantize(shares[i]):f}" if shares else ""
        rows.append(
            {
                "index": i,
                "guest": i + 1 if shares else None,
                "share": shares[i] if shares else None,
                "tender": data.get(f"tender_{i}") or "cash",
                "amount": data.get(f"amount_{i}", default_amount),
                "tip": data.get(f"tip_{i}", ""),
                "tip_mode": TIP_PERCENT if data.get(f"tip_mode_{i}") == TIP_PERCENT else "amount",
                "reference": data.get(f"reference_{i}", ""),
            }
        )
    return rows


def refund_items(data, lines) -> list[RefundItem]:
    """What to give back, from fields qty_<line id> (empty: nothing) and restock_<line id> ("1": back to stock,
    "0": waste, absent: as the product's kind says)."""
    items = []
    for line in lines:
        quantity = _decimal_or_none(data.get(f"qty_{line.pk}"), f"qty_{line.pk}")
        if quantity:
            restock = RESTOCK_CHOICES.get(data.get(f"restock_{line.pk}") or "")
            items.append(RefundItem(line_id=line.pk, quantity=quantity, restock=restock))
    return items


def restock_choice(data, line) -> str:
    """What the refund screen's restock choice of `line` shows: what was posted, else the product kind's default."""
    posted = (data or {}).get(f"restock_{line.pk}")
    if posted in RESTOCK_CHOICES:
        return posted
    return "1" if default_restock(line.product) else "0"


def find_receipt(code: str, *, location, register_id: int | None) -> Receipt | None:
    """The sale receipt a scanned receipt barcode (R<register>-<number>) or a typed number stands for, at
    `location`. A bare number is looked up on this terminal's register, or on the store's only register."""
    receipts = Receipt.objects.filter(kind=Receipt.Kind.SALE, register__location=location)
    parsed = parse_receipt_code(code)
    if parsed:
        return receipts.filter(register_id=parsed[0], number=parsed[1]).first()
    if not is_whole_number(code):
        return None
    if register_id:
        return receipts.filter(register_id=register_id, number=int(code)).first()
    matches = list(receipts.filter(number=int(code))[:2])
    return matches[0] if len(matches) == 1 else None


def forms_money(raw) -> Decimal | None:
    """A money amount typed on a screen, or None when empty or not a sane amount."""
    try:
        value = _decimal_or_none(raw, "amount")
    except DomainError:
        return None
    if value is None or not value.is_finite() or value < 0 or value > Decimal("1000000000"):
        return None
    return quantize(value)


def id_or_none(raw) -> int | None:
    return int(raw) if raw and is_whole_number(str(raw)) and len(str(raw)) < 19 else None
