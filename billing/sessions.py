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
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, DecimalField, ExpressionWrapper, F, Max, Min, Q, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import CashMovement, CashSession, Payment, Receipt, Refund, RefundLine, Register, ZReport
from billing.printing import queue_print_job
from billing.report_printout import report_lines
from inventory.models import AuditEvent
from inventory.money import ZERO, check_money, has_more_places_than_currency, quantize, to_decimal
from inventory.roles import is_manager
from inventory.selectors import locations_for
from orders.models import Order, OrderLine
from posproject.errors import ApprovalRequired, Conflict, DomainError, NotFound, PermissionDenied

MONEY = DecimalField(max_digits=20, decimal_places=4)


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


def session_totals(session: CashSession) -> dict:
    """Running totals of a session, as plain JSON-ready values (money as strings).

    Sales are the orders that got their sale receipt in this session. Tenders, refunds and cash movements are the
    session's own rows. `cash.expected` is what the drawer should hold: float + cash taken (tendered − change)
    − cash refunded + pay-ins − pay-outs.
    """
    sale_orders = Receipt.objects.filter(session=session, kind=Receipt.Kind.SALE).values("order_id")

    orders = Order.objects.filter(id__in=sale_orders).aggregate(
        count=Count("id"),
        total=Coalesce(Sum("total"), ZERO, output_field=MONEY),
        discounts=Coalesce(Sum("discount_total"), ZERO, output_field=MONEY),
        service_charge=Coalesce(Sum("service_charge"), ZERO, output_field=MONEY),
        tax=Coalesce(Sum("tax_total"), ZERO, output_field=MONEY),
    )

    line_value = ExpressionWrapper(F("unit_price") * F("quantity"), output_field=MONEY)
    voids = OrderLine.objects.filter(order_id__in=sale_orders, status=OrderLine.Status.VOIDED).aggregate(
        count=Count("id"), amount=Coalesce(Sum(line_value), ZERO, output_field=MONEY)
    )

    # A line's net is its total after its share of the order discount; tax is inside it at a tax-inclusive store.
    net = F("line_total") - F("order_discount_amount")
    tax_base = Case(When(prices_include_tax=True, then=net - F("tax_amount")), default=net, output_field=MONEY)
    rates: dict[tuple, dict] = {}
    for row in (
        OrderLine.objects.filter(order_id__in=sale_orders, status=OrderLine.Status.ACTIVE)
        .values("tax_rate_name", "tax_rate_percent")
        .annotate(base=Sum(tax_base), tax=Sum("tax_amount"))
        .order_by()
    ):
        rates[(row["tax_rate_name"], row["tax_rate_percent"])] = {
            "base": row["base"],
            "tax": row["tax"],
            "refund_tax": ZERO,
        }
    for row in (
        RefundLine.objects.filter(refund__session=session)
        .values("order_line__tax_rate_name", "order_line__tax_rate_percent")
        .annotate(tax=Sum("tax_amount"))
        .order_by()
    ):
        key = (row["order_line__tax_rate_name"], row["order_line__tax_rate_percent"])
        rates.setdefault(key, {"base": ZERO, "tax": ZERO, "refund_tax": ZERO})["refund_tax"] = row["tax"]

    payments = {
        row["tender"]: row
        for row in Payment.objects.filter(session=session)
        .values("tender")
        .annotate(
            count=Count("id"),
            amount=Sum("amount"),
            tips=Sum("tip"),
            rounding=Sum("rounding"),
            drawer=Sum(ExpressionWrapper(F("tendered") - F("change"), output_field=MONEY)),
        )
        .order_by()
    }
    refunds = {
        row["tender"]: row
        for row in Refund.objects.filter(session=session)
        .values("tender")
        .annotate(count=Count("id"), amount=Sum("amount"), tax=Sum("tax_amount"))
        .order_by()
    }
    moves = {
        row["kind"]: row
        for row in CashMovement.objects.filter(session=session)
        .values("kind")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by()
    }
    receipts = Receipt.objects.filter(session=session).aggregate(
        first=Min("number"),
        last=Max("number"),
        count=Count("id"),
        sales=Count("id", filter=Q(kind=Receipt.Kind.SALE)),
        refunds=Count("id", filter=Q(kind=Receipt.Kind.REFUND)),
    )

    def total(rows: dict, key: str, field: str = "amount") -> Decimal:
        return rows[key][field] if key in rows else ZERO

    tenders = []
    for tender in Payment.Tender.values:
        if tender not in payments and tender not in refunds:
            continue
        paid, refunded = total(payments, tender), total(refunds, tender)
        tenders.append(
            {
                "tender": tender,
                "count": payments[tender]["count"] if tender in payments else 0,
                "amount": _m(paid),
                "tips": _m(total(payments, tender, "tips")),
                "refunds": _m(refunded),
                "net": _m(paid - refunded),
            }
        )

    refund_total = sum((row["amount"] for row in refunds.values()), ZERO)
    refund_tax = sum((row["tax"] for row in refunds.values()), ZERO)
    pay_ins, pay_outs = total(moves, CashMovement.Kind.PAY_IN), total(moves, CashMovement.Kind.PAY_OUT)
    cash_in = total(payments, Payment.Tender.CASH, "drawer")
    cash_refunds = total(refunds, Payment.Tender.CASH)
    expected = session.opening_float + cash_in - cash_refunds + pay_ins - pay_outs
    net_sales = orders["total"] - refund_total
    net_tax = orders["tax"] - refund_tax

    return {
        "session": session.pk,
        "register": session.register_id,
        "opened_at": session.opened_at.isoformat() if session.opened_at else None,
        "opened_by": str(session.opened_by),
        "order_count": orders["count"],
        "receipts": receipts,
        "gross_sales": _m(orders["total"] + orders["discounts"]),
        "discounts": _m(orders["discounts"]),
        "service_charge": _m(orders["service_charge"]),
        "sales": _m(orders["total"]),
        "refunds": _m(refund_total),
        "refund_count": sum(row["count"] for row in refunds.values()),
        "net_sales": _m(net_sales),
        "tax_total": _m(net_tax),
        "net_sales_excl_tax": _m(net_sales - net_tax),
        "tax_rates": [
            {
                "name": name,
                "percent": format(percent.normalize(), "f"),
                "base": _m(row["base"]),
                "tax": _m(row["tax"]),
                "refund_tax": _m(row["refund_tax"]),
                "net_tax": _m(row["tax"] - row["refund_tax"]),
            }
            for (name, percent), row in sorted(rates.items(), key=lambda item: (item[0][1], item[0][0]))
        ],
        "voids": {"count": voids["count"], "amount": _m(voids["amount"])},
        "tips": _m(sum((row["tips"] for row in payments.values()), ZERO)),
        "rounding": _m(sum((row["rounding"] for row in payments.values()), ZERO)),
        "payments_total": _m(sum((row["amount"] for row in payments.values()), ZERO)),
        "tenders": tenders,
        "cash": {
            "opening_float": _m(session.opening_float),
            "cash_in": _m(cash_in),
            "cash_refunds": _m(cash_refunds),
            "pay_ins": _m(pay_ins),
            "pay_in_count": moves[CashMovement.Kind.PAY_IN]["count"] if CashMovement.Kind.PAY_IN in moves else 0,
            "pay_outs": _m(pay_outs),
            "pay_out_count": moves[CashMovement.Kind.PAY_OUT]["count"] if CashMovement.Kind.PAY_OUT in moves else 0,
            "no_sales": moves[CashMovement.Kind.NO_SALE]["count"] if CashMovement.Kind.NO_SALE in moves else 0,
            "expected": _m(expected),
        },
    }


def expected_cash(session: CashSession) -> Decimal:
    """What the drawer should hold now: three small aggregates (cash payments use the session/tender index)."""
    cash_in = Payment.objects.filter(session=session, tender=Payment.Tender.CASH).aggregate(
        total=Coalesce(Sum(F("tendered") - F("change")), ZERO, output_field=MONEY)
    )["total"]
    cash_out = Refund.objects.filter(session=session, tender=Payment.Tender.CASH).aggregate(
        total=Coalesce(Sum("amount"), ZERO, output_field=MONEY)
    )["total"]
    moves = CashMovement.objects.filter(session=session).aggregate(
        ins=Coalesce(Sum("amount", filter=Q(kind=CashMovement.Kind.PAY_IN)), ZERO, output_field=MONEY),
        outs=Coalesce(Sum("amount", filter=Q(kind=CashMovement.Kind.PAY_OUT)), ZERO, output_field=MONEY),
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
    totals = session_totals(session)
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
        amount = _money_input(opening_float, field="opening_float")
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


def pay_in(*, session_id: int, user, amount: Decimal | str, reason: str) -> CashMovement:
    """Cash put into the drawer that is not a sale (change delivered from the bank, …). See `_move`."""
    return _move(CashMovement.Kind.PAY_IN, session_id=session_id, user=user, amount=amount, reason=reason)


def pay_out(*, session_id: int, user, amount: Decimal | str, reason: str) -> CashMovement:
    """Cash taken out of the drawer that is not a refund (a supplier paid in cash, a safe drop, …).

    Raises, besides what `_move` raises, DomainError "insufficient_cash" when the drawer does not hold that much.
    """
    return _move(CashMovement.Kind.PAY_OUT, session_id=session_id, user=user, amount=amount, reason=reason)


def no_sale(*, session_id: int, user, reason: str) -> CashMovement:
    """Record a drawer opened without a sale (audited), and kick the drawer if the register's printer has one."""
    return _move(CashMovement.Kind.NO_SALE, session_id=session_id, user=user, amount=ZERO, reason=reason)


@transaction.atomic
def _move(kind: str, *, session_id: int, user, amount, reason: str) -> CashMovement:
    """Raises NotFound, PermissionDenied, SessionClosed, DomainError "invalid" (amount ≤ 0, no reason)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason.", code="invalid", fields={"reason": ["A reason is required."]})
    if kind != CashMovement.Kind.NO_SALE:
        amount = _money_input(amount, field="amount")
        if amount <= 0:
            raise DomainError("The amount must be positive.", code="invalid", fields={"amount": ["Must be > 0."]})
    register, session = _lock_session(session_id, user)
    if kind == CashMovement.Kind.PAY_OUT:
        in_drawer = expected_cash(session)
        if amount > in_drawer:
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
    register's perpetual grand total grows by the session's net sales. The Z is queued for printing.

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
            totals = session_totals(session)
            expected = Decimal(totals["cash"]["expected"])
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
            net = Decimal(totals["net_sales"])
            grand_total = register.grand_total + net
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
                gross_sales=Decimal(totals["gross_sales"]),
                net_sales=net,
                tax_total=Decimal(totals["tax_total"]),
                grand_total=grand_total,
                data=totals,
            )
            Register.objects.filter(pk=register.pk).update(last_z_number=number, grand_total=grand_total)
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
    if not locations_for(user).filter(pk=z.register.location_id).exists():
        raise PermissionDenied("This Z report belongs to another location.")
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


def _money_input(value, *, field: str) -> Decimal:
    amount = check_money(to_decimal(value, field=field), field=field)
    if amount < 0:
        raise DomainError("Amounts cannot be negative.", code="invalid", fields={field: ["Cannot be negative."]})
    if has_more_places_than_currency(amount):
        raise DomainError("Too many decimal places.", code="invalid", fields={field: ["Too many decimal places."]})
    return quantize(amount)


def _get_session(session_id: int, user) -> CashSession:
    session = CashSession.objects.select_related("register__location", "opened_by").filter(pk=session_id).first()
    if session is None:
        raise NotFound("No such cash session.")
    if not locations_for(user).filter(pk=session.register.location_id).exists():
        raise PermissionDenied("This till belongs to another location.")
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
    if not locations_for(user).filter(pk=register.location_id).exists():
        raise PermissionDenied("This till belongs to another location.")
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


def _queue_report(register: Register, *, z: ZReport | None, data: dict, is_copy: bool, user):
    columns = register.printer.columns if register.printer_id else 48
    return queue_print_job(
        kind="report",
        printer=register.printer,
        location=register.location,
        z_report=z,
        is_copy=is_copy,
        payload={"report": data["kind"], "lines": report_lines(data, is_copy=is_copy, columns=columns)},
        user=user,
    )


def _audit(action: str, user, register: Register, session: CashSession, *, approver=None, reason="", data=None):
    AuditEvent.objects.create(
        action=action,
        actor=user,
        approver=approver,
        location_id=register.location_id,
        object_type="cash_session",
        object_id=str(session.pk),
        reason=reason[:200],
        data=data or {},
    )
