"""Checkout and refunds: money in and out of an order, applied exactly once (DESIGN.md §3.4-3.7).

A sale's transaction, in lock order (the same in every path, so two sales never deadlock):
  1. the order row (an existing order) — a second checkout of the same order waits, then finds it paid;
     then, when the order has a customer and points move, the customer's loyalty account (billing.loyalty);
  2. the stock rows, in primary-key order (inventory.services.consume_for_sale);
  3. the register row, whose counter gives the gapless receipt number — taken last so that the lock that
     serialises one till's sales is held for the shortest time. Closing a cash session locks the same row, so a
     close waits for the sales in flight;
  4. the gift cards it redeems (a refund: the card it credits), by code, in the register's round trip
     (billing.giftcards).
Everything else (payments, receipt, print job) is inserted in bulk after the locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from billing import giftcards, loyalty, queries
from billing.models import CashSession, Payment, PrintJob, Receipt, Refund, RefundLine
from billing.printing import hand_over, new_print_job, queue_print_job
from core.errors import Conflict, DomainError, NotFound
from core.idempotency import atomic_step
from core.inputs import clean_money, clean_quantity, clean_text, invalid
from core.money import ZERO, quantize
from core.sql import insert_batch, run_batch
from inventory.models import Product, StockMove
from inventory.services import (
    StockChange,
    apply_stock_changes,
    consume_for_sale,
    expand_recipes,
    return_to_stock,
    sale_costs,
)
from orders import pricing
from orders.models import Order, OrderLine
from orders.pricing import TenderInput
from orders.services import NewLine, draft_order, lock_order, save_draft, stock_items
from staff.access import manager_approval
from staff.audit import audit

TENDERS = Payment.Tender.values

__all__ = ["RefundItem", "Sale", "TenderInput", "refund", "sell", "take_payment"]


@dataclass
class Sale:
    order: Order
    lines: list[OrderLine]
    receipt: Receipt
    payments: list[Payment]
    print_job: PrintJob
    change: Decimal = ZERO
    warnings: list[str] = field(default_factory=list)
    gift_cards: list = field(default_factory=list)  # the cards sold on this order


def clean_tenders(tenders: list[TenderInput]) -> list[TenderInput]:
    """Validate tenders' kinds and amounts (the arithmetic is pricing.settle's)."""
    if not isinstance(tenders, list | tuple) or len(tenders) > 20:
        raise invalid("Give at most 20 tenders.", "tenders")
    cleaned = []
    for i, t in enumerate(tenders):
        where = f"tenders[{i}]"
        if t.tender not in TENDERS:
            raise invalid(f"Tender is one of {', '.join(TENDERS)}.", f"{where}.tender")
        amount = None if t.amount is None else clean_money(t.amount, f"{where}.amount", allow_zero=False)
        tendered = None if t.tendered is None else clean_money(t.tendered, f"{where}.tendered")
        if t.tender != pricing.CASH and tendered is not None and amount is not None and tendered != amount:
            raise invalid("Only cash gives change.", f"{where}.tendered")
        if t.tender == pricing.CASH and amount is not None and tendered is None:
            tendered = amount
        tip_percent = t.tip_percent
        if t.tender == Payment.Tender.GIFT_CARD and (t.tip or tip_percent):
            raise invalid("A tip cannot be taken from a gift card: add it to another tender.", f"{where}.tip")
        if tip_percent is not None:
            if not isinstance(tip_percent, Decimal) or not (0 <= tip_percent <= 100):
                raise invalid("A tip percent is a number from 0 to 100.", f"{where}.tip_percent")
            if tip_percent != tip_percent.quantize(Decimal("0.01")):
                raise invalid("A tip percent has at most 2 decimal places.", f"{where}.tip_percent")
            if t.tip:
                raise invalid("Give a tip as an amount or as a percent, not both.", f"{where}.tip_percent")
        guest = t.guest
        if guest is not None and (not isinstance(guest, int) or isinstance(guest, bool) or not (1 <= guest <= 500)):
            raise invalid("Guest is a number from 1 to 500.", f"{where}.guest")
        cleaned.append(
            TenderInput(
                tender=t.tender,
                amount=amount if t.tender != pricing.CASH else None,
                tendered=tendered if t.tender == pricing.CASH else None,
                tip=clean_money(t.tip or ZERO, f"{where}.tip"),
                reference=clean_text(t.reference, f"{where}.reference", max_length=64),
                guest=guest,
                tip_percent=tip_percent,
                card=t.card if t.tender == Payment.Tender.GIFT_CARD and isinstance(t.card, str) else "",
                allow_partial=t.tender == Payment.Tender.GIFT_CARD and t.allow_partial is True,
            )
        )
    return cleaned


def _settle(order: Order, tenders: list[TenderInput]) -> list[pricing.Settlement]:
    try:
        return pricing.settle(order.total, tenders, cash_step=order.location.cash_rounding)
    except pricing.TenderError as error:
        code = "insufficient_tender" if error.field == "tenders" else "invalid_tender"
        raise DomainError(error.message, code=code, fields={error.field: [error.message]}) from None


def _approvals_for_sale(order: Order, settlements, *, user, approver, reason: str) -> list[tuple[str, dict]]:
    """What a sale needs a manager for: a tip or change above the store's caps (Location.max_tip, max_change), a
    sale of 0.00 (with a reason). Raises ApprovalRequired or DomainError before anything is written; returns the
    audit events to write once the order is saved, with the approver."""
    location = order.location
    events = []
    for i, s in enumerate(settlements):
        if s.tip > location.max_tip:
            events.append(("tip_over_limit", f"A tip over {quantize(location.max_tip)}", {"tip": s.tip, "tender": i}))
        if s.change > location.max_change:
            cap = quantize(location.max_change)
            events.append(("change_over_limit", f"Change over {cap}", {"change": s.change, "tender": i}))
    if order.total == 0:
        events.append(("zero_sale", f"A sale of {quantize(ZERO)}", {}))
    if not events:
        return []
    approved_by = manager_approval(user, approver, events[0][1])
    reason = clean_text(reason, "reason", required=order.total == 0)
    return [(action, {**data, "approver": approved_by, "reason": reason}) for action, _, data in events]


def _audit_approvals(order: Order, approvals, user) -> None:
    for action, data in approvals:
        data = dict(data)
        approver, reason = data.pop("approver"), data.pop("reason")
        audit(
            action,
            actor=user,
            approver=approver,
            location_id=order.location_id,
            obj=order,
            reason=reason,
            order=str(order.uuid),
            total=order.total,
            **data,
        )


@dataclass(frozen=True)
class Till:
    """A register locked for the rest of the transaction, with the receipt number just taken from its counter."""

    register_id: int
    receipt_number: int
    printer_id: int | None
    session_id: int


_TAKE_NUMBER = (
    "UPDATE billing_register SET last_receipt_number = last_receipt_number + 1 "
    "WHERE id = %s AND location_id = %s AND active RETURNING last_receipt_number, printer_id, name"
)
_OPEN_SESSION = "SELECT id FROM billing_cashsession WHERE register_id = %s AND status = %s"


def _take_receipt_number(register_id: int, location_id: int, *, redemptions=()) -> Till:
    """Lock the register (the last lock a sale takes), take its next receipt number, and find its open session.

    One `UPDATE … RETURNING` locks the row and moves the counter; the session is read by the next statement (same
    round trip on PostgreSQL), after the lock, so a close that committed while this sale waited is seen (and
    refused with `no_open_session`, rolling the number back). The gift cards a sale redeems are taken in the same
    round trip (billing.giftcards.take_statements)."""
    taken, sessions, *cards = run_batch(
        [
            (_TAKE_NUMBER, [register_id, location_id]),
            (_OPEN_SESSION, [register_id, CashSession.Status.OPEN]),
            *giftcards.take_statements(redemptions),
        ]
    )
    if not taken:
        raise NotFound("Unknown register at this location.", fields={"register": ["Unknown register."]})
    number, printer_id, name = taken[0]
    if not sessions:
        raise DomainError(f"{name} has no open cash session: open one first.", code="no_open_session", status=409)
    giftcards.took(redemptions, cards)
    return Till(register_id=register_id, receipt_number=number, printer_id=printer_id, session_id=sessions[0][0])


def _complete_sale(
    order: Order,
    lines: list[OrderLine],
    *,
    register_id: int,
    settlements,
    user,
    update_order: bool,
    products=None,
    printer_id: int | None = None,
    held: Sequence[giftcards.Redemption] = (),
) -> Sale:
    """The part of a sale after the order's total is known: stock, receipt number, payments, receipt, print job
    (to `printer_id`, the terminal's receipt printer, or else the register's), the gift cards sold, and the
    redemptions `held` (giftcards.plan_redemptions) taken off their cards with the register's lock.

    Runs inside take_payment's or sell's atomic block, which rolls back as a whole on any error."""
    points = loyalty.prepare_sale(order, settlements)  # the customer's points row: after the order, before stock
    goods = [line for line in lines if not giftcards.is_gift_card_line(line)]
    stock = consume_for_sale(
        location=order.location,
        items=stock_items(goods),
        reference=str(order.uuid),
        user=user,
        products=products,
        savepoint=False,
    )
    _capture_costs(lines, stock.unit_costs)
    till = _take_receipt_number(register_id, order.location_id, redemptions=held)
    payments = [
        Payment(
            order=order,
            session_id=till.session_id,
            tender=s.tender,
            amount=s.amount,
            tendered=s.tendered,
            change=s.change,
            tip=s.tip,
            rounding=s.rounding,
            reference=s.reference,
            guest=s.guest,
            created_by=user,
        )
        for s in settlements
    ]
    if update_order:
        order.save(update_fields=["status", "paid_total", "paid_at", "closed_at"])
    receipt = Receipt(
        register_id=till.register_id,
        number=till.receipt_number,
        kind=Receipt.Kind.SALE,
        order=order,
        session_id=till.session_id,
    )
    cash = any(s.tender == pricing.CASH for s in settlements)
    job = new_print_job(
        kind=PrintJob.Kind.RECEIPT,
        receipt=receipt,
        printer_id=printer_id or till.printer_id,
        location=order.location,
        payload={"open_drawer": cash},
        user=user,
    )
    paid = giftcards.payment_groups(payments, held, order=order, user=user)  # with their card ledger rows
    insert_batch(*paid, [receipt], ([job], {"receipt": receipt}))  # one round trip on PostgreSQL
    cards = giftcards.issue_for_sale(order, lines, payments, user=user) if len(goods) < len(lines) else []
    loyalty.record_sale(points, order, lines, payments, user=user)
    hand_over(job)
    return Sale(
        order=order,
        lines=lines,
        receipt=receipt,
        payments=payments,
        print_job=job,
        change=sum((s.change for s in settlements), ZERO),
        warnings=stock.warnings,
        gift_cards=cards,
    )


def _capture_costs(lines: list[OrderLine], unit_costs: dict) -> None:
    """Freeze each sold line's unit cost at what its stock costs now (a recipe item: its ingredients), so that the
    margin of a sale never depends on later costs. Lines whose snapshot already matches are not written again."""
    changed = []
    for line in lines:
        cost = unit_costs.get(line.product_id, line.unit_cost)
        if line.unit_cost != cost:
            line.unit_cost = cost
            changed.append(line)
    if changed:
        OrderLine.objects.bulk_update(changed, ["unit_cost"])


def _mark_paid(order: Order) -> None:
    now = timezone.now()
    order.status = Order.Status.PAID
    order.paid_total = order.total
    order.paid_at = now
    order.closed_at = now


@atomic_step
def take_payment(
    *,
    order_id: int,
    register_id: int,
    tenders: list[TenderInput],
    user,
    approver=None,
    reason: str = "",
    printer_id: int | None = None,
) -> Sale:
    """Pay an open or held order in full at a register: one or more tenders (split across guests if need be),
    change only on cash, stock consumed (recipes expanded), a gapless receipt number, a receipt print job.

    Preconditions: the register is at the order's location and has an open cash session; the user works there.
    A tip or change above the store's caps, or a total of 0.00, needs a manager (`approver`, or the user if a
    manager) and is audited; a sale of 0.00 also needs a `reason`. The receipt prints on `printer_id` (a terminal's
    receipt printer) when given, else on the register's printer.
    Raises NotFound, PermissionDenied, Conflict (`not_open`: already paid or voided), DomainError (`empty_order`,
    `insufficient_tender`, `invalid_tender`, `invalid`, `no_open_session`, and for a `points` tender
    `customer_required`, `points_off`, `insufficient_points`), ApprovalRequired and OutOfStock; nothing is written
    then. An order with a customer earns loyalty points in the same transaction (billing.loyalty).
    """
    order = lock_order(order_id, user, editable=False)
    if order.status == Order.Status.PAID:
        raise Conflict("This order is already paid.", code="already_paid")
    if not order.is_editable:
        raise Conflict(f"This order is {order.get_status_display().lower()}.", code="not_open")
    lines = list(order.lines.filter(status=OrderLine.Status.ACTIVE).select_related("product"))
    if not lines:
        raise DomainError("There is nothing to pay on this order.", code="empty_order")
    tenders, held = giftcards.plan_redemptions(order.total, clean_tenders(tenders))
    settlements = _settle(order, tenders)
    approvals = _approvals_for_sale(order, settlements, user=user, approver=approver, reason=reason)
    _mark_paid(order)
    sale = _complete_sale(
        order,
        lines,
        register_id=register_id,
        settlements=settlements,
        user=user,
        update_order=True,
        printer_id=printer_id,
        held=held,
    )
    _audit_approvals(order, approvals, user)
    return sale


@atomic_step
def sell(
    *,
    register_id: int,
    user,
    lines: list[NewLine],
    tenders: list[TenderInput],
    channel: str = Order.Channel.RETAIL,
    table_id: int | None = None,
    guest_count: int = 1,
    note: str = "",
    approver=None,
    reason: str = "",
) -> Sale:
    """Open an order with `lines` and pay it at once (a counter sale): the same rules and errors as
    orders.services.open_order followed by take_payment, in one transaction and with fewer round trips."""
    register = queries.read_register(register_id)
    if register is None:
        raise NotFound("Unknown register.", fields={"register": ["Unknown register."]})
    draft = draft_order(
        location=register.location,
        user=user,
        lines=list(lines),
        channel=channel,
        table_id=table_id,
        guest_count=guest_count,
        note=note,
        approver=approver,
    )
    order, order_lines = draft.order, draft.lines
    tenders, held = giftcards.plan_redemptions(order.total, clean_tenders(tenders))
    settlements = _settle(order, tenders)
    approvals = _approvals_for_sale(order, settlements, user=user, approver=approver, reason=reason)
    _mark_paid(order)
    save_draft(draft)
    sale = _complete_sale(
        order,
        order_lines,
        register_id=register_id,
        settlements=settlements,
        user=user,
        update_order=False,
        products={line.product_id: line.product for line in order_lines},  # read by build_lines, with recipe_known
        held=held,
    )
    _audit_approvals(order, approvals, user)
    return sale


# --- Refunds ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundItem:
    line_id: int
    quantity: Decimal
    restock: bool | None = None  # back on the shelf; False: recorded as waste; None: as default_restock says


def default_restock(product: Product) -> bool:
    """Whether a refunded line goes back to stock when nobody says: goods do; a menu item was cooked or poured, so
    it is recorded as waste (its ingredients, through its recipe)."""
    return product.kind != Product.Kind.MENU_ITEM


def default_refund_tender(order: Order) -> str:
    """The tender a refund goes back to when none is chosen: the one that paid the most of the order."""
    biggest = order.payments.order_by("-amount", "id").values_list("tender", flat=True).first()
    return biggest or Payment.Tender.CASH


@atomic_step
def refund(
    *,
    order_id: int,
    register_id: int,
    items: list[RefundItem],
    reason: str,
    user,
    approver=None,
    tender: str | None = None,
    cash_beyond_paid: bool = False,
    card: str | None = None,
    store_credit: bool = False,
) -> Refund:
    """Give money back for lines of a paid order, with a manager's approval.

    Each line gives back its share of what was paid for it (pricing.refund_share), never more than was sold or paid,
    and records the part of it that was service charge; a line goes back to stock or is booked as waste as its item
    says (`restock`), or by its product's kind when it says nothing (default_restock);
    refunds to a tender never exceed what that tender paid less what it already got back — cash included, unless
    `cash_beyond_paid` says a manager gives cash from the drawer for a sale paid otherwise (audited as
    `refund_cash_beyond_paid`). A refund to tender `gift_card` goes back onto the card that paid (`card`, its
    code, or else the card that paid the most), at most what that card paid less what it already got back; with
    `store_credit` it goes onto a new store-credit card instead (tied to the order's customer), whatever tender paid.
    Gift cards sold on the order cannot be refunded here (`gift_card_not_refundable`). Stock comes back per line
    (or is booked as waste), a refund receipt gets its own number from the register's counter, and its print job
    is written. Loyalty points move with it (a refund to points gives them back; earned ones are taken back in
    proportion: billing.loyalty). Audited as `refund`. Raises ApprovalRequired, NotFound, Conflict (`not_paid`),
    DomainError (`invalid`, `refund_exceeds_paid`, `refund_exceeds_cash_paid`,
    `no_open_session`, `gift_card_not_refundable`, `gift_card_limit`), NotFound `gift_card_not_found`.
    """
    reason = clean_text(reason, "reason", required=True)
    if not items:
        raise invalid("Choose the lines to refund.", "lines", code="required")
    order = lock_order(order_id, user, editable=False)
    approved_by = manager_approval(user, approver, "A refund")
    if order.status not in (Order.Status.PAID, Order.Status.REFUNDED):
        raise Conflict("Only a paid order can be refunded.", code="not_paid")
    tender = Payment.Tender.GIFT_CARD if store_credit else (tender or default_refund_tender(order))
    if tender not in TENDERS:
        raise invalid(f"Tender is one of {', '.join(TENDERS)}.", "tender")
    to_card = None
    if tender == Payment.Tender.GIFT_CARD and not store_credit:
        to_card = giftcards.card_for_refund(order, card)  # locked after the register, as in a sale

    lines = {line.pk: line for line in order.lines.filter(status=OrderLine.Status.ACTIVE).select_related("product")}
    refunded_before = {
        row["order_line"]: row
        for row in RefundLine.objects.filter(order_line__order=order)
        .values("order_line")
        .annotate(amount=Sum("amount"), tax=Sum("tax_amount"), service=Sum("service_charge_amount"))
    }
    already = {pk: row["amount"] for pk, row in refunded_before.items()}
    already_tax = {pk: row["tax"] for pk, row in refunded_before.items()}
    already_service = {pk: row["service"] for pk, row in refunded_before.items()}
    seen = set()
    refund_lines = []
    for i, item in enumerate(items):
        where = f"lines[{i}]"
        line = lines.get(item.line_id)
        if line is None:
            raise invalid("Not a line of this order.", f"{where}.line")
        if item.line_id in seen:
            raise invalid("Each line once per refund.", f"{where}.line")
        seen.add(item.line_id)
        if line.product.kind == Product.Kind.GIFT_CARD:
            raise DomainError(
                "A gift card sold cannot be refunded: its money stays on the card.",
                code="gift_card_not_refundable",
                fields={f"{where}.line": ["A gift card."]},
            )
        quantity = clean_quantity(item.quantity, f"{where}.quantity", places=line.product.quantity_places)
        left = line.quantity - line.quantity_refunded
        if quantity > left:
            raise invalid(
                f"Only {left.normalize():f} of {line.name} can still be refunded.",
                f"{where}.quantity",
                code="refund_exceeds_sold",
            )
        rest = quantity + line.quantity_refunded
        amount = pricing.refund_share(
            amount_due=line.amount_due,
            quantity=line.quantity,
            refund_quantity=rest,
            already=ZERO,
        ) - already.get(line.pk, ZERO)
        tax = pricing.refund_share(
            amount_due=line.tax_amount, quantity=line.quantity, refund_quantity=rest, already=ZERO
        ) - already_tax.get(line.pk, ZERO)
        service = pricing.refund_share(
            amount_due=line.service_charge_amount, quantity=line.quantity, refund_quantity=rest, already=ZERO
        ) - already_service.get(line.pk, ZERO)
        line.quantity_refunded = rest
        restock = default_restock(line.product) if item.restock is None else bool(item.restock)
        refund_lines.append(
            RefundLine(
                order_line=line,
                quantity=quantity,
                amount=amount,
                tax_amount=tax,
                service_charge_amount=service,
                restock=restock,
            )
        )
    total = sum((rl.amount for rl in refund_lines), ZERO)
    if total <= 0:
        raise DomainError("Nothing to give back for these lines.", code="nothing_to_refund")
    if order.refunded_total + total > order.paid_total:
        raise DomainError("A refund cannot exceed what was paid.", code="refund_exceeds_paid")
    paid_by_tender = order.payments.filter(tender=tender).aggregate(total=Sum("amount"))["total"] or ZERO
    refunded_by_tender = order.refunds.filter(tender=tender).aggregate(total=Sum("amount"))["total"] or ZERO
    if to_card is not None:
        paid_by_tender, refunded_by_tender = giftcards.refundable_to(order, to_card), ZERO
    beyond_paid = refunded_by_tender + total > paid_by_tender and not store_credit
    if beyond_paid and tender != pricing.CASH:
        raise DomainError(
            f"{tender.title()} paid {paid_by_tender - refunded_by_tender} that can still be refunded; "
            "choose another tender.",
            code="refund_exceeds_paid",
            fields={"tender": ["More than this tender paid."]},
        )
    if beyond_paid and not cash_beyond_paid:
        raise DomainError(
            f"Cash paid {paid_by_tender - refunded_by_tender} of this order that can still be refunded in cash; "
            "refund to the tender that paid, or a manager gives cash beyond it.",
            code="refund_exceeds_cash_paid",
            fields={"tender": ["More than was paid in cash."]},
        )
    beyond_approver = manager_approval(user, approver, "Cash beyond the cash paid") if beyond_paid else None
    if store_credit:
        to_card = giftcards.new_store_credit(order, giftcards.clean_card_amount(total), user=user)

    points = loyalty.prepare_refund(order)  # the customer's points row: after the order, before stock
    reference = f"refund:{order.uuid}"
    back = stock_items([(rl.order_line, rl.quantity) for rl in refund_lines])
    sold_at = sale_costs(str(order.uuid))
    return_to_stock(location=order.location, items=back, reference=reference, user=user, unit_costs=sold_at)
    wasted = expand_recipes(stock_items([(rl.order_line, rl.quantity) for rl in refund_lines if not rl.restock]))
    if wasted:
        apply_stock_changes(
            [StockChange(product_id, order.location_id, -qty) for product_id, qty in wasted.items()],
            reason=StockMove.Reason.WASTE,
            reference=reference,
            user=user,
            note="Refunded, not restocked",
            unit_costs=sold_at,
        )

    till = _take_receipt_number(register_id, order.location_id)
    record = Refund.objects.create(
        order=order,
        session_id=till.session_id,
        tender=tender,
        amount=total,
        tax_amount=sum((rl.tax_amount for rl in refund_lines), ZERO),
        reason=reason,
        gift_card=to_card,
        created_by=user,
        approved_by=approved_by,
    )
    if store_credit and to_card is not None:
        giftcards.record_store_credit(to_card, refund=record, user=user)
    elif to_card is not None:
        giftcards.credit_refund(to_card, total, refund=record, user=user)
    for rl in refund_lines:
        rl.refund = record
    RefundLine.objects.bulk_create(refund_lines)
    OrderLine.objects.bulk_update([rl.order_line for rl in refund_lines], ["quantity_refunded"])
    order.refunded_total += total
    if order.refunded_total == order.paid_total:
        order.status = Order.Status.REFUNDED
    order.save(update_fields=["refunded_total", "status"])
    loyalty.record_refund(points, record, user=user)
    receipt = Receipt.objects.create(
        register_id=till.register_id,
        number=till.receipt_number,
        kind=Receipt.Kind.REFUND,
        order=order,
        refund=record,
        session_id=till.session_id,
    )
    queue_print_job(
        kind=PrintJob.Kind.RECEIPT,
        receipt=receipt,
        printer_id=till.printer_id,
        location=order.location,
        payload={"open_drawer": tender == pricing.CASH},
        user=user,
    )
    audit(
        "refund",
        actor=user,
        approver=approved_by,
        location_id=order.location_id,
        obj=record,
        reason=reason,
        order=str(order.uuid),
        amount=total,
        tender=tender,
        card=to_card.masked_code if to_card else "",
        store_credit=store_credit,
        receipt=receipt.number,
        lines=[{"line": rl.order_line_id, "quantity": str(rl.quantity), "restock": rl.restock} for rl in refund_lines],
    )
    if beyond_paid:
        audit(
            "refund_cash_beyond_paid",
            actor=user,
            approver=beyond_approver,
            location_id=order.location_id,
            obj=record,
            reason=reason,
            order=str(order.uuid),
            amount=total,
            cash_paid=paid_by_tender,
            cash_refunded_before=refunded_by_tender,
        )
    return record
