"""Cash sessions: opening a till with a counted float, pay-ins and pay-outs, drawer opens, X reports, and the
blind-count close that writes the immutable Z report.

Locking: every write here locks the session's `Register` row first (the row `take_payment` locks for the receipt
counter), then the `CashSession` row. So a close waits for any checkout in flight on that till, a checkout that
comes after the close finds no open session, and a second close is refused.

Totals are computed by one aggregate query per kind (payments by tender, refunds by tender, cash movements by kind,
orders, lines by tax rate, refund lines by tax rate, voided lines, receipts): closing a session costs the same
handful of queries whatever its size.

Open orders are not tied to a session: they stay open when a till closes and are paid in a later session.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from billing import figures, rollups
from billing.models import CashMovement, CashSession, Payment, Receipt, Refund, Register, ZReport
from billing.printing import queue_print_job
from billing.report_printout import MARKED_COPY, report_lines
from core.errors import ApprovalRequired, Conflict, DomainError, NotFound, PermissionDenied
from core.inputs import clean_amount
from core.money import ZERO, quantize
from orders.models import Order, OrderLine
from staff.access import check_location, manager_approval
from staff.audit import audit
from staff.languages import store_language
from staff.models import AuditEvent
from staff.roles import is_manager


class SessionClosed(Conflict):
    code = "session_closed"


class SessionAlreadyOpen(Conflict):
    code = "session_open"


class SignOffRequired(ApprovalRequired):
    code = "sign_off_required"


# --- reading -------------------------------------------------------------------------------------------------


def approval_threshold() -> Decimal:
    return quantize(Decimal(str(settings.CASH_OVER_SHORT_APPROVAL_THRESHOLD)))


def denominations() -> list[Decimal]:
    """The notes and coins a count asks for, largest first."""
    return sorted((Decimal(str(d)) for d in settings.CASH_DENOMINATIONS), reverse=True)


def open_session_for(register_id: int) -> CashSession | None:
    return CashSession.objects.filter(register_id=register_id, status=CashSession.Status.OPEN).first()


@dataclass(frozen=True)
class TaxRateTotals:
    name: str
    percent: Decimal
    base: Decimal  # taxable base of the session's sales
    tax: Decimal
    refund_base: Decimal  # taxable base given back by the session's refunds
    refund_tax: Decimal
    net_base: Decimal  # base − refund_base: with net_tax, what a VAT return declares
    net_tax: Decimal


@dataclass(frozen=True)
class TenderTotals:
    tender: str
    count: int
    amount: Decimal
    tips: Decimal
    refunds: Decimal
    net: Decimal


@dataclass(frozen=True)
class CashTotals:
    opening_float: Decimal
    cash_in: Decimal
    cash_refunds: Decimal
    pay_ins: Decimal
    pay_in_count: int
    pay_outs: Decimal
    pay_out_count: int
    no_sales: int
    expected: Decimal  # what the drawer should hold: float + cash taken − cash refunded + pay-ins − pay-outs


@dataclass(frozen=True)
class SessionTotals:
    """Running totals of a cash session. Money is Decimal, quantised to the currency; `as_json()` gives the
    snapshot a Z report stores (money as strings), the shape X and Z printouts, screens and the API read.

    Each figure is quantised once, from the unrounded sums (as the snapshot always was): a derived figure such as
    `net_sales` is quantize(sales − refunds), not the difference of two quantised figures."""

    session: int
    register: int
    opened_at: datetime | None
    opened_by: str
    order_count: int
    receipts: dict
    gross_sales: Decimal
    discounts: Decimal
    service_charge: Decimal
    sales: Decimal
    refunds: Decimal
    refund_count: int
    net_sales: Decimal
    tax_total: Decimal  # tax on the session's sales less the tax refunded in it
    net_sales_excl_tax: Decimal
    cost: Decimal  # cost of the goods sold less the cost taken back by refunds, at the costs captured when sold
    margin: Decimal  # net of tax, goods only, less cost
    tax_rates: tuple[TaxRateTotals, ...]
    void_count: int
    voids: Decimal
    tips: Decimal
    rounding: Decimal
    payments_total: Decimal
    tenders: tuple[TenderTotals, ...]
    cash: CashTotals
    gift_cards: dict | None = None  # money owed, apart from sales: sold, redeemed, refunded_to_cards

    def as_json(self) -> dict:
        """The JSON snapshot (money as strings): the format stored in `ZReport.data`; do not change its keys."""
        cash = self.cash
        return {
            "session": self.session,
            "register": self.register,
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
            "opened_by": self.opened_by,
            "order_count": self.order_count,
            "receipts": dict(self.receipts),
            "gross_sales": _m(self.gross_sales),
            "discounts": _m(self.discounts),
            "service_charge": _m(self.service_charge),
            "sales": _m(self.sales),
            "refunds": _m(self.refunds),
            "refund_count": self.refund_count,
            "net_sales": _m(self.net_sales),
            "tax_total": _m(self.tax_total),
            "net_sales_excl_tax": _m(self.net_sales_excl_tax),
            "cost": _m(self.cost),
            "margin": _m(self.margin),
            "tax_rates": [
                {
                    "name": rate.name,
                    "percent": format(rate.percent.normalize(), "f"),
                    "base": _m(rate.base),
                    "tax": _m(rate.tax),
                    "refund_base": _m(rate.refund_base),
                    "refund_tax": _m(rate.refund_tax),
                    "net_base": _m(rate.net_base),
                    "net_tax": _m(rate.net_tax),
                }
                for rate in self.tax_rates
            ],
            "voids": {"count": self.void_count, "amount": _m(self.voids)},
            "tips": _m(self.tips),
            "rounding": _m(self.rounding),
            "payments_total": _m(self.payments_total),
            "gift_cards": {key: _m(value) for key, value in (self.gift_cards or {}).items()},
            "tenders": [
                {
                    "tender": t.tender,
                    "count": t.count,
                    "amount": _m(t.amount),
                    "tips": _m(t.tips),
                    "refunds": _m(t.refunds),
                    "net": _m(t.net),
                }
                for t in self.tenders
            ],
            "cash": {
                "opening_float": _m(cash.opening_float),
                "cash_in": _m(cash.cash_in),
                "cash_refunds": _m(cash.cash_refunds),
                "pay_ins": _m(cash.pay_ins),
                "pay_in_count": cash.pay_in_count,
                "pay_outs": _m(cash.pay_outs),
                "pay_out_count": cash.pay_out_count,
                "no_sales": cash.no_sales,
                "expected": _m(cash.expected),
            },
        }


def session_scope(session: CashSession) -> figures.Scope:
    """The rows a session's figures count: the orders that got their sale receipt in it, and its own payments and
    refunds (whatever session the refunded sale was in)."""
    sale_orders = Receipt.objects.filter(session=session, kind=Receipt.Kind.SALE).values("order_id")
    return figures.scope(
        orders=Order.objects.filter(id__in=sale_orders),
        lines=OrderLine.objects.filter(order_id__in=sale_orders, status=OrderLine.Status.ACTIVE),
        refunds=Refund.objects.filter(session=session),
        payments=Payment.objects.filter(session=session),
    )


def session_totals(session: CashSession) -> SessionTotals:
    """Running totals of a session (see `SessionTotals`; `.as_json()` for the JSON-ready snapshot).

    Sales are the orders that got their sale receipt in this session. Tenders, refunds and cash movements are the
    session's own rows. Every figure is defined in `billing.figures` (`session_scope` says which rows count).
    """
    scope = session_scope(session)
    sums = figures.figures_for(scope)
    rates = figures.rates_for(scope)
    payments = figures.payments_by_tender(scope.payments)
    refunds = figures.refunds_by_tender(scope.refunds)
    moves = {
        row["kind"]: row
        for row in CashMovement.objects.filter(session=session)
        .values("kind")
        .annotate(count=Count("id"), amount=figures.total("amount"))
        .order_by()
    }
    receipts = Receipt.objects.filter(session=session).aggregate(
        first=Min("number"),
        last=Max("number"),
        count=Count("id"),
        sales=Count("id", filter=Q(kind=Receipt.Kind.SALE)),
        refunds=Count("id", filter=Q(kind=Receipt.Kind.REFUND)),
    )

    def count(rows: dict, key: str) -> int:
        return rows[key]["count"] if key in rows else 0

    tenders = []
    for tender in Payment.Tender.values:
        if tender not in payments and tender not in refunds:
            continue
        paid, refunded = figures.column(payments, tender), figures.column(refunds, tender)
        tenders.append(
            TenderTotals(
                tender=tender,
                count=count(payments, tender),
                amount=quantize(paid),
                tips=quantize(figures.column(payments, tender, "tips")),
                refunds=quantize(refunded),
                net=quantize(paid - refunded),
            )
        )
    tax_rates = tuple(
        TaxRateTotals(
            name=rate.name,
            percent=rate.percent,
            base=quantize(rate.base),
            tax=quantize(rate.tax),
            refund_base=quantize(rate.refund_base),
            refund_tax=quantize(rate.refund_tax),
            net_base=quantize(rate.net_base),
            net_tax=quantize(rate.net_tax),
        )
        for rate in rates
    )
    cash_in = figures.column(payments, Payment.Tender.CASH, "drawer")
    cash_refunds = figures.column(refunds, Payment.Tender.CASH)
    pay_ins = figures.column(moves, CashMovement.Kind.PAY_IN)
    pay_outs = figures.column(moves, CashMovement.Kind.PAY_OUT)
    return SessionTotals(
        session=session.pk,
        register=session.register_id,
        opened_at=session.opened_at,
        opened_by=str(session.opened_by),
        order_count=sums.orders,
        receipts=receipts,
        gross_sales=quantize(sums.gross_sales),
        discounts=quantize(sums.discounts),
        service_charge=quantize(sums.service_charge),
        sales=quantize(sums.sales),
        refunds=quantize(sums.refunds),
        refund_count=sums.refund_count,
        net_sales=quantize(sums.net_sales),
        tax_total=quantize(sums.net_tax),
        net_sales_excl_tax=quantize(sums.net_of_tax),
        cost=quantize(sums.net_cost),
        margin=quantize(sums.margin),
        tax_rates=tax_rates,
        void_count=sums.void_count,
        voids=quantize(sums.voids),
        tips=quantize(sums.tips),
        rounding=quantize(sums.rounding),
        payments_total=quantize(sums.payments),
        tenders=tuple(tenders),
        cash=CashTotals(
            opening_float=quantize(session.opening_float),
            cash_in=quantize(cash_in),
            cash_refunds=quantize(cash_refunds),
            pay_ins=quantize(pay_ins),
            pay_in_count=count(moves, CashMovement.Kind.PAY_IN),
            pay_outs=quantize(pay_outs),
            pay_out_count=count(moves, CashMovement.Kind.PAY_OUT),
            no_sales=count(moves, CashMovement.Kind.NO_SALE),
            expected=quantize(session.opening_float + cash_in - cash_refunds + pay_ins - pay_outs),
        ),
        gift_cards={
            "sold": quantize(sums.gift_cards),
            "redeemed": quantize(figures.column(payments, Payment.Tender.GIFT_CARD)),
            "refunded_to_cards": quantize(figures.column(refunds, Payment.Tender.GIFT_CARD)),
        },
    )


def expected_cash(session: CashSession) -> Decimal:
    """What the drawer should hold now: three small aggregates (cash payments use the session/tender index)."""
    cash_in = Payment.objects.filter(session=session, tender=Payment.Tender.CASH).aggregate(
        total=figures.total(figures.DRAWER_IN)
    )["total"]
    cash_out = Refund.objects.filter(session=session, tender=Payment.Tender.CASH).aggregate(
        total=figures.total("amount")
    )["total"]
    moves = CashMovement.objects.filter(session=session).aggregate(
        ins=Coalesce(Sum("amount", filter=Q(kind=CashMovement.Kind.PAY_IN)), ZERO, output_field=figures.MONEY),
        outs=Coalesce(Sum("amount", filter=Q(kind=CashMovement.Kind.PAY_OUT)), ZERO, output_field=figures.MONEY),
    )
    return quantize(session.opening_float + cash_in - cash_out + moves["ins"] - moves["outs"])


def blind(totals: dict) -> dict:
    """The totals a cashier may see before counting the drawer: nothing that gives away the cash expected."""
    hidden = dict(totals)
    hidden["tenders"] = [row for row in totals["tenders"] if row["tender"] != Payment.Tender.CASH]
    hidden["cash"] = {key: totals["cash"][key] for key in ("opening_float", "pay_in_count", "pay_out_count")}
    hidden["cash"]["no_sales"] = totals["cash"]["no_sales"]
    for key in ("payments_total", "rounding", "tips"):
        hidden.pop(key)
    hidden["blind"] = True
    return hidden


def sees_expected_cash(user, session: CashSession) -> bool:
    """Managers always; anyone once the session is closed (the count has been submitted)."""
    return session.status == CashSession.Status.CLOSED or is_manager(user)


def x_report(*, session_id: int, user) -> dict:
    """Running totals of an open session. A non-manager gets the blind version (see `blind`).

    Raises NotFound, PermissionDenied (not this user's location), SessionClosed (read its Z report instead).
    """
    session = _get_session(session_id, user)
    if session.status != CashSession.Status.OPEN:
        raise SessionClosed(f"Session {session.pk} is closed; read its Z report.")
    totals = session_totals(session).as_json()
    totals["kind"] = "x"
    totals["generated_at"] = timezone.now().isoformat()
    return totals if is_manager(user) else blind(totals)


# --- writing -------------------------------------------------------------------------------------------------


@transaction.atomic
def open_session(
    *,
    register_id: int,
    user,
    opening_float: Decimal | str | None = None,
    float_denominations: dict | None = None,
) -> CashSession:
    """Open a till with its counted float (an amount, or a count by denomination: {"20": 2, "0.50": 4}).

    Raises NotFound (no such active register), PermissionDenied (not this user's location), SessionAlreadyOpen,
    DomainError "invalid" (bad amount or count).
    """
    register = _lock_register(register_id, user)
    if float_denominations:
        amount = count_denominations(float_denominations, field="float_denominations")
        counted = _normalise_count(float_denominations)
    elif opening_float is not None:
        amount = clean_amount(opening_float, field="opening_float")
        counted = {}
    else:
        raise DomainError(
            "Count the float.", code="invalid", fields={"opening_float": ["Enter the float or count it."]}
        )
    if not register.active:
        raise DomainError("This register is not active.", code="register_inactive")
    if CashSession.objects.filter(register=register, status=CashSession.Status.OPEN).exists():
        raise SessionAlreadyOpen(f"{register.name} already has an open session; close it first.")
    session = CashSession.objects.create(register=register, opened_by=user, opening_float=amount)
    _audit("cash_session_opened", user, register, session, data={"float": _m(amount), "counted": counted})
    return session


def pay_in(*, session_id: int, user, amount: Decimal | str, reason: str, approver=None) -> CashMovement:
    """Cash put into the drawer that is not a sale (change delivered from the bank, …). Above the store's
    `max_pay_in` a manager approves. See `_move`."""
    return _move(
        CashMovement.Kind.PAY_IN, session_id=session_id, user=user, amount=amount, reason=reason, approver=approver
    )


def pay_out(*, session_id: int, user, amount: Decimal | str, reason: str, approver=None) -> CashMovement:
    """Cash taken out of the drawer that is not a refund (a supplier paid in cash, a safe drop, …). Above the
    store's `max_pay_out` a manager approves.

    The answer never depends on the cash expected in the drawer unless a manager takes part (the user or the
    approver): a cashier's count stays blind. With a manager, raises DomainError "insufficient_cash" when the
    drawer does not hold that much (naming no amount); besides that, what `_move` raises.
    """
    return _move(
        CashMovement.Kind.PAY_OUT, session_id=session_id, user=user, amount=amount, reason=reason, approver=approver
    )


def no_sale(*, session_id: int, user, reason: str) -> CashMovement:
    """Record a drawer opened without a sale (audited), and kick the drawer if the register's printer has one."""
    return _move(CashMovement.Kind.NO_SALE, session_id=session_id, user=user, amount=ZERO, reason=reason)


@transaction.atomic
def _move(kind: str, *, session_id: int, user, amount, reason: str, approver=None) -> CashMovement:
    """Raises NotFound, PermissionDenied, SessionClosed, DomainError "invalid" (amount ≤ 0, no reason),
    ApprovalRequired (above the store's cap without a manager)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason.", code="invalid", fields={"reason": ["A reason is required."]})
    if kind != CashMovement.Kind.NO_SALE:
        amount = clean_amount(amount, field="amount")
        if amount <= 0:
            raise DomainError("The amount must be positive.", code="invalid", fields={"amount": ["Must be > 0."]})
    register, session = _lock_session(session_id, user)
    caps = {
        CashMovement.Kind.PAY_IN: register.location.max_pay_in,
        CashMovement.Kind.PAY_OUT: register.location.max_pay_out,
    }
    approved_by = None
    if kind in caps and (amount > caps[kind] or approver is not None):
        label = "A pay-in" if kind == CashMovement.Kind.PAY_IN else "A pay-out"
        approved_by = manager_approval(user, approver, f"{label} over {quantize(caps[kind])}")
    if kind == CashMovement.Kind.PAY_OUT and (approved_by or is_manager(user)) and amount > expected_cash(session):
        raise DomainError(
            "The drawer does not hold that much cash.",
            code="insufficient_cash",
            fields={"amount": ["More than the cash in the drawer."]},
        )
    movement = CashMovement.objects.create(session=session, kind=kind, amount=amount, reason=reason[:200], user=user)
    _audit(
        f"cash_{kind}",
        user,
        register,
        session,
        approver=approved_by,
        reason=reason,
        data={"movement": movement.pk, "amount": _m(amount)},
    )
    if kind == CashMovement.Kind.NO_SALE and register.printer_id and register.printer.has_cash_drawer:
        queue_print_job(
            kind="report",
            printer=register.printer,
            location=register.location,
            payload={"report": "drawer", "open_drawer": True, "lines": []},
            user=user,
        )
    return movement


def close_session(
    *,
    session_id: int,
    user,
    denominations: dict,
    approver=None,
    note: str = "",
) -> ZReport:
    """Close a till with a blind count and write its Z report.

    `denominations` is the count entered before the expected amount is shown ({"50": 3, "0.20": 7}). If the
    drawer is over or short by more than `CASH_OVER_SHORT_APPROVAL_THRESHOLD`, `approver` must be a manager
    (the closing user, if a manager, signs off for themselves). The Z number is the register's next one and the
    register's perpetual grand total grows by the session's net sales. The Z is queued for printing, and the daily
    rollups of the days the session touched are rewritten in the same transaction (billing.rollups).

    Raises NotFound, PermissionDenied, DomainError "invalid" (bad count), SessionClosed (already closed — a second
    close), SignOffRequired (over/short above the threshold without a manager; the attempt is audited and the
    message does not reveal the difference, so the count stays blind).
    """
    counted = count_denominations(denominations)
    normalised = _normalise_count(denominations)
    if approver is not None and not is_manager(approver):
        raise PermissionDenied("Only a manager can sign off a till.", fields={"approver": ["Not a manager."]})
    sign_off = approver or (user if is_manager(user) else None)
    try:
        with transaction.atomic():
            register, session = _lock_session(session_id, user)
            figures_now = session_totals(session)
            expected = figures_now.cash.expected
            over_short = counted - expected
            needs_sign_off = abs(over_short) > approval_threshold()
            if needs_sign_off and sign_off is None:
                raise _NeedsSignOff(register, session, expected, over_short)
            now = timezone.now()
            session.status = CashSession.Status.CLOSED
            session.closed_by = user
            session.closed_at = now
            session.counted_cash = counted
            session.counted_denominations = normalised
            session.expected_cash = expected
            session.over_short = over_short
            session.approved_by = sign_off if needs_sign_off else None
            session.save(
                update_fields=[
                    "status",
                    "closed_by",
                    "closed_at",
                    "counted_cash",
                    "counted_denominations",
                    "expected_cash",
                    "over_short",
                    "approved_by",
                ]
            )
            number = register.last_z_number + 1
            net = figures_now.net_sales
            grand_total = register.grand_total + net
            totals = figures_now.as_json()
            totals.update(
                kind="z",
                number=number,
                register_name=register.name,
                location=register.location.name,
                closed_at=now.isoformat(),
                closed_by=str(user),
                grand_total_before=_m(register.grand_total),
                grand_total=_m(grand_total),
                approved_by=str(session.approved_by) if session.approved_by else None,
                note=note.strip()[:200],
                numbers_skipped=numbers_skipped_since_last_z(register),
            )
            totals["cash"].update(counted=_m(counted), over_short=_m(over_short), denominations=normalised)
            totals["movements"] = [
                {
                    "kind": m.kind,
                    "amount": _m(m.amount),
                    "reason": m.reason,
                    "user": str(m.user),
                    "at": m.created_at.isoformat(),
                }
                for m in session.movements.select_related("user").order_by("created_at", "id")
            ]
            z = ZReport.objects.create(
                register=register,
                session=session,
                number=number,
                gross_sales=figures_now.gross_sales,
                net_sales=net,
                tax_total=figures_now.tax_total,
                grand_total=grand_total,
                data=totals,
            )
            Register.objects.filter(pk=register.pk).update(last_z_number=number, grand_total=grand_total)
            rollups.roll_up_session(session)
            _audit(
                "cash_session_closed",
                user,
                register,
                session,
                approver=session.approved_by,
                reason=note.strip()[:200],
                data={"z": number, "counted": _m(counted), "expected": _m(expected), "over_short": _m(over_short)},
            )
            _queue_report(register, z=z, data=totals, is_copy=False, user=user)
            return z
    except _NeedsSignOff as refused:
        _audit(
            "cash_count_needs_sign_off",
            user,
            refused.register,
            refused.session,
            data={"counted": _m(counted), "expected": _m(refused.expected), "over_short": _m(refused.over_short)},
        )
        raise SignOffRequired(
            "The count does not match closely enough: a manager must sign off this close.",
            fields={"approver": ["A manager must sign off."]},
        ) from None


@transaction.atomic
def print_x_report(*, session_id: int, user) -> dict:
    """Queue an X report (running totals) on the register's printer and return what was printed."""
    totals = x_report(session_id=session_id, user=user)
    session = CashSession.objects.select_related("register__location", "register__printer").get(pk=session_id)
    totals.update(register_name=session.register.name, location=session.register.location.name)
    _queue_report(session.register, z=None, data=totals, is_copy=False, user=user)
    return totals


@transaction.atomic
def reprint_z_report(*, z_report_id: int, user):
    """Queue a copy of a Z report (printed with COPY) and audit the reprint. Raises NotFound, PermissionDenied."""
    z = ZReport.objects.select_related("register__location", "register__printer").filter(pk=z_report_id).first()
    if z is None:
        raise NotFound("No such Z report.")
    check_location(user, z.register.location_id, message="This Z report belongs to another location.")
    job = _queue_report(z.register, z=z, data=z.data, is_copy=True, user=user)
    _audit("z_report_reprinted", user, z.register, z.session, data={"z": z.number, "print_job": job.pk})
    return job


# --- counting ------------------------------------------------------------------------------------------------


def count_denominations(counts: dict, *, field: str = "denominations") -> Decimal:
    """Total of a count {"50": 2, "0.20": 5}; keys must be configured denominations, counts whole and ≥ 0.

    Raises DomainError "invalid" with the offending keys as fields.
    """
    if not isinstance(counts, dict) or not counts:
        raise DomainError("Count the drawer.", code="invalid", fields={field: ["Enter a count per denomination."]})
    allowed = set(denominations())
    errors: dict[str, list[str]] = {}
    total = ZERO
    for key, number in counts.items():
        try:
            value = Decimal(str(key).strip())
        except ArithmeticError:
            value = None
        if value is None or value not in allowed:
            errors[f"{field}.{key}"] = ["Not a denomination of this currency."]
            continue
        if isinstance(number, bool) or not isinstance(number, int | str):
            errors[f"{field}.{key}"] = ["Enter a whole number."]
            continue
        try:
            pieces = int(str(number).strip() or "0")
        except ValueError:
            errors[f"{field}.{key}"] = ["Enter a whole number."]
            continue
        if pieces < 0 or pieces > 1_000_000:
            errors[f"{field}.{key}"] = ["Enter a number between 0 and 1,000,000."]
            continue
        total += value * pieces
    if errors:
        raise DomainError("The count has invalid entries.", code="invalid", fields=errors)
    return quantize(total)


def _normalise_count(counts: dict) -> dict:
    """{"50.00": "2", "0.20": 0} → {"50": 2}: canonical keys, whole counts, no zero entries (input already valid)."""
    normalised = {}
    for key, number in counts.items():
        pieces = int(str(number).strip() or "0")
        if pieces:
            normalised[format(Decimal(str(key).strip()).normalize(), "f")] = pieces
    return normalised


# --- helpers -------------------------------------------------------------------------------------------------


@dataclass
class _NeedsSignOff(Exception):
    register: Register
    session: CashSession
    expected: Decimal
    over_short: Decimal


def _m(value) -> str:
    return str(quantize(value if value is not None else ZERO))


def _get_session(session_id: int, user) -> CashSession:
    session = CashSession.objects.select_related("register__location", "opened_by").filter(pk=session_id).first()
    if session is None:
        raise NotFound("No such cash session.")
    check_location(user, session.register.location_id, message="This till belongs to another location.")
    return session


def _lock_register(register_id: int, user) -> Register:
    register = (
        Register.objects.select_for_update(of=("self",))
        .select_related("location", "printer")
        .filter(pk=register_id)
        .first()
    )
    if register is None:
        raise NotFound("No such register.", fields={"register": ["No such register."]})
    check_location(user, register.location_id, message="This till belongs to another location.")
    return register


def _lock_session(session_id: int, user) -> tuple[Register, CashSession]:
    """Lock the register, then the session (the order every billing write uses), and check it is open."""
    register_id = CashSession.objects.filter(pk=session_id).values_list("register_id", flat=True).first()
    if register_id is None:
        raise NotFound("No such cash session.")
    register = _lock_register(register_id, user)
    session = CashSession.objects.select_for_update(of=("self",)).select_related("opened_by").get(pk=session_id)
    if session.status != CashSession.Status.OPEN:
        raise SessionClosed(f"Session {session.pk} is already closed.")
    return register, session


# The audit action a restore writes when it moves a register's counters above numbers issued before it.
NUMBERS_CONTINUED_ACTION = "numbers_continued_after_restore"


def numbers_skipped_since_last_z(register: Register) -> list[str]:
    """The sentences of the restores since this register's last Z that moved its counters past numbers issued
    before them ("receipts 101–103 were issued before the restore of …"), oldest first: the next Z prints them."""
    last_z = ZReport.objects.filter(register=register).order_by("-number").values_list("created_at", flat=True)
    events = AuditEvent.objects.filter(
        action=NUMBERS_CONTINUED_ACTION, object_type="billing.register", object_id=str(register.pk)
    )
    if last_z.first():
        events = events.filter(created_at__gt=last_z.first())
    return [event.reason for event in events.order_by("created_at", "id")]


def _in_store_language(register: Register, make):
    """What `make()` returns with the store's language active: the paper of a till speaks its store's language."""
    with translation.override(store_language(register.location)):
        return make()


def _queue_report(register: Register, *, z: ZReport | None, data: dict, is_copy: bool, user):
    columns = register.printer.columns if register.printer_id else 48
    return queue_print_job(
        kind="report",
        printer=register.printer,
        location=register.location,
        z_report=z,
        is_copy=is_copy,
        payload={
            "report": data["kind"],
            "lines": _in_store_language(register, lambda: report_lines(data, copy=is_copy, columns=columns)),
            MARKED_COPY: is_copy,
        },
        user=user,
    )


def _audit(action: str, user, register: Register, session: CashSession, *, approver=None, reason="", data=None):
    audit(
        action,
        actor=user,
        approver=approver,
        location_id=register.location_id,
        object_type="cash_session",
        object_id=session.pk,
        reason=reason,
        data=data,
    )
