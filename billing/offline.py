"""Offline sales: a terminal's queue of whole sales, applied exactly once when it reconnects (DESIGN.md §6).

A sale made offline has already happened: the guest paid and left with the goods. So the server accepts it whenever
it can and never drops it:
- it goes through the same checkout as an online counter sale (draft_order → settle → _complete_sale), in its own
  transaction, keyed by the idempotency key the device minted (core.idempotency.run_once, scoped to the terminal):
  a replay gets the first outcome, the same key with another body is refused;
- it keeps the prices and tax rates the device sold at; where they differ from the catalogue now, or where the
  server's pricing of the sale differs from the totals the device showed, the sale is applied and flagged, never
  corrected;
- a `block` product it takes below zero is sold anyway (inventory.services.selling_below_zero), audited, flagged and
  alerted to the managers;
- what cannot be applied as it came (a revoked terminal, a closed cash session, a staff member who does not work
  here, a device time out of bounds, any rule that says no) is held in the review queue (OfflineSale, status held)
  with its payload, for a manager to apply or reject.

What a stolen device cookie allows is bounded: the sync needs a signed-in person who works at the terminal's store,
each sale names a staff member who works there too (else it is held), a revoked terminal's sales are only ever held,
and a terminal holds at most MAX_HELD_PER_TERMINAL sales pending review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.catalogue_snapshot import next_sequence, provisional_code
from billing.models import OfflineSale, TerminalSync
from billing.services import (
    Sale,
    _approvals_for_sale,
    _audit_approvals,
    _complete_sale,
    _mark_paid,
    _settle,
    clean_tenders,
)
from core.errors import Conflict, DomainError
from core.idempotency import IdempotencyKeyReused, clean_key, run_once
from core.inputs import invalid
from core.money import ZERO
from core.notify import notify
from inventory.services import selling_below_zero
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import NewLine, clean_discount, draft_order, reprice, save_draft
from orders.services.discounts import check_discount, discount_figures, discount_limit
from orders.services.validation import MAX_LINES
from staff.access import check_location, manager_approval, may_act_at
from staff.audit import audit
from staff.models import Terminal

MAX_SALES_PER_SYNC = 100
MAX_HELD_PER_TERMINAL = 200
MAX_DEVICE_AGE = timedelta(days=7)
MAX_CLOCK_SKEW = timedelta(minutes=5)
BACKLOG_ALERT_AFTER = timedelta(minutes=15)
CHANNELS = (Order.Channel.RETAIL, Order.Channel.TAKEAWAY)
ENDPOINT = "offline_sale"
TOTALS = ("subtotal", "discount", "service_charge", "tax", "total")


# --- Reading a sale ------------------------------------------------------------------------------------------------


def _decimal(value, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise invalid("A number (as text).", where)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid("Not a number.", where) from None
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise invalid("Not a number in range.", where)
    return number


def _int(value, where: str, *, low: int = 1, high: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise invalid(f"A whole number from {low} to {high}.", where)
    return value


def _dict(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise invalid("An object.", where)
    return value


def _list(value, where: str, *, most: int) -> list:
    if not isinstance(value, list):
        raise invalid("A list.", where)
    if len(value) > most:
        raise invalid(f"At most {most}.", where)
    return value


@dataclass
class DeviceLine:
    product_id: int
    quantity: Decimal
    unit_price: Decimal
    tax_percent: Decimal
    modifiers: list[tuple[int, Decimal | None]]
    discount_kind: str = ""
    discount_value: Decimal = ZERO
    note: str = ""


@dataclass
class DeviceSale:
    """One queued sale as the device sent it, checked for shape (not yet for the rules)."""

    key: str
    sequence: int
    made_at: datetime
    staff_id: int
    channel: str
    lines: list[DeviceLine]
    tenders: list[TenderInput]
    totals: dict[str, Decimal]
    change: Decimal | None
    discount_kind: str = ""
    discount_value: Decimal = ZERO
    note: str = ""
    raw: dict = field(default_factory=dict)


def parse_sale(data, where: str) -> DeviceSale:
    """Check one sale's shape; raises DomainError `invalid` naming the field (`sales[2].lines[0].quantity`)."""
    data = _dict(data, where)
    try:
        key = clean_key(data.get("key"))
    except DomainError as error:
        raise invalid(error.message, f"{where}.key") from None
    made_at = parse_datetime(data["made_at"]) if isinstance(data.get("made_at"), str) else None
    if made_at is None or made_at.tzinfo is None:
        raise invalid("A date and time with its offset (ISO 8601).", f"{where}.made_at")
    channel = data.get("channel", Order.Channel.RETAIL)
    if channel not in CHANNELS:
        raise invalid(f"Channel is one of {', '.join(CHANNELS)}.", f"{where}.channel")
    lines = []
    for i, line in enumerate(_list(data.get("lines"), f"{where}.lines", most=MAX_LINES)):
        at = f"{where}.lines[{i}]"
        line = _dict(line, at)
        modifiers = []
        for j, mod in enumerate(_list(line.get("modifiers", []), f"{at}.modifiers", most=40)):
            if isinstance(mod, dict):
                price = mod.get("price")
                modifiers.append(
                    (
                        _int(mod.get("option"), f"{at}.modifiers[{j}].option"),
                        None if price is None else _decimal(price, f"{at}.modifiers[{j}].price"),
                    )
                )
            else:
                modifiers.append((_int(mod, f"{at}.modifiers[{j}]"), None))
        kind, value = clean_discount(
            line.get("discount_kind", "") or "", _decimal(line.get("discount_value", "0"), f"{at}.discount_value"), at
        )
        note = line.get("note", "")
        if not isinstance(note, str) or len(note) > 200:
            raise invalid("Text of at most 200 characters.", f"{at}.note")
        lines.append(
            DeviceLine(
                product_id=_int(line.get("product"), f"{at}.product"),
                quantity=_decimal(line.get("quantity"), f"{at}.quantity"),
                unit_price=_decimal(line.get("unit_price"), f"{at}.unit_price"),
                tax_percent=_decimal(line.get("tax_percent"), f"{at}.tax_percent"),
                modifiers=modifiers,
                discount_kind=kind,
                discount_value=value,
                note=note,
            )
        )
    if not lines:
        raise invalid("A sale has at least one line.", f"{where}.lines")
    tenders = []
    for i, tender in enumerate(_list(data.get("tenders"), f"{where}.tenders", most=20)):
        at = f"{where}.tenders[{i}]"
        tender = _dict(tender, at)
        kind = tender.get("tender")
        if not isinstance(kind, str):
            raise invalid("A tender kind.", f"{at}.tender")
        money = {
            name: _decimal(tender[name], f"{at}.{name}")
            for name in ("amount", "tendered", "tip")
            if tender.get(name) is not None
        }
        reference = tender.get("reference", "")
        if not isinstance(reference, str):
            raise invalid("Text.", f"{at}.reference")
        tenders.append(TenderInput(tender=kind, reference=reference, **money))
    if not tenders:
        raise invalid("A sale has at least one tender.", f"{where}.tenders")
    totals_in = _dict(data.get("totals"), f"{where}.totals")
    totals = {name: _decimal(totals_in[name], f"{where}.totals.{name}") for name in TOTALS if name in totals_in}
    if "total" not in totals:
        raise invalid("The total the device showed.", f"{where}.totals.total")
    change = totals_in.get("change")
    discount = data.get("discount") or {}
    discount = _dict(discount, f"{where}.discount")
    d_kind, d_value = ("", ZERO)
    if discount:
        d_kind, d_value = clean_discount(
            discount.get("kind", "") or "",
            _decimal(discount.get("value", "0"), f"{where}.discount.value"),
            f"{where}.discount",
        )
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 200:
        raise invalid("Text of at most 200 characters.", f"{where}.note")
    return DeviceSale(
        key=key,
        sequence=_int(data.get("sequence"), f"{where}.sequence"),
        made_at=made_at,
        staff_id=_int(data.get("staff"), f"{where}.staff"),
        channel=channel,
        lines=lines,
        tenders=tenders,
        totals=totals,
        change=None if change is None else _decimal(change, f"{where}.totals.change"),
        discount_kind=d_kind,
        discount_value=d_value,
        note=note,
        raw=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    )


@dataclass(frozen=True)
class QueueReport:
    length: int
    oldest_at: datetime | None


def parse_queue(data) -> QueueReport | None:
    if data is None:
        return None
    data = _dict(data, "queue")
    oldest = data.get("oldest_at")
    oldest_at = parse_datetime(oldest) if isinstance(oldest, str) else None
    if oldest is not None and (oldest_at is None or oldest_at.tzinfo is None):
        raise invalid("A date and time with its offset (ISO 8601).", "queue.oldest_at")
    return QueueReport(length=_int(data.get("length"), "queue.length", low=0, high=100_000), oldest_at=oldest_at)


def parse_batch(data) -> tuple[list[DeviceSale], QueueReport | None]:
    """Check a whole sync request before anything is applied: one bad sale refuses the batch (nothing changed)."""
    data = _dict(data, "body")
    sales = _list(data.get("sales", []), "sales", most=MAX_SALES_PER_SYNC)
    parsed = [parse_sale(sale, f"sales[{i}]") for i, sale in enumerate(sales)]
    keys = [sale.key for sale in parsed]
    if len(set(keys)) != len(keys):
        raise invalid("Each sale has its own key.", "sales")
    return parsed, parse_queue(data.get("queue"))


# --- Applying a sale -----------------------------------------------------------------------------------------------


class Hold(DomainError):
    """A sale that cannot be applied as it came and goes to the review queue."""

    status = 202


def _staff(sale: DeviceSale, location_id: int):
    """The staff member who made the sale, if they may take payments at this store (else the sale is held)."""
    user = get_user_model().objects.filter(pk=sale.staff_id, is_active=True).first()
    if user is None or not user.has_perm("billing.add_payment") or not may_act_at(user, location_id):
        return None
    return user


def _check_time(sale: DeviceSale, received_at: datetime) -> None:
    if sale.made_at > received_at + MAX_CLOCK_SKEW:
        raise Hold("The device's clock says this sale was made in the future.", code="time_out_of_bounds")
    if sale.made_at < received_at - MAX_DEVICE_AGE:
        raise Hold("This sale is older than the 7 days a device may hold a sale.", code="time_out_of_bounds")


def _keep_device_prices(draft, sale: DeviceSale) -> list[dict]:
    """Put back on each drafted line the price, tax rate and option prices the device sold at; return a flag for
    each that differs from the catalogue now."""
    flags = []
    for i, (line, device) in enumerate(zip(draft.lines, sale.lines, strict=True)):
        if line.unit_price != device.unit_price:
            flags.append(
                {
                    "code": "price_changed",
                    "line": i,
                    "product": line.product_id,
                    "catalogue": line.unit_price,
                    "sold_at": device.unit_price,
                }
            )
            line.unit_price = device.unit_price
        if line.tax_rate_percent != device.tax_percent:
            flags.append(
                {
                    "code": "tax_changed",
                    "line": i,
                    "product": line.product_id,
                    "catalogue": line.tax_rate_percent,
                    "sold_at": device.tax_percent,
                }
            )
            line.tax_rate_percent = device.tax_percent
        sold_prices = dict(device.modifiers)
        for chosen in line.modifiers:
            device_price = sold_prices.get(chosen.get("option"))
            if device_price is not None and Decimal(chosen["price"]) != device_price:
                flags.append(
                    {
                        "code": "price_changed",
                        "line": i,
                        "option": chosen.get("option"),
                        "catalogue": chosen["price"],
                        "sold_at": device_price,
                    }
                )
                chosen["price"] = str(device_price)
    return flags


def _compare_totals(order: Order, settlements, sale: DeviceSale) -> list[dict]:
    server = {
        "subtotal": order.subtotal,
        "discount": order.discount_total,
        "service_charge": order.service_charge,
        "tax": order.tax_total,
        "total": order.total,
    }
    differ = {
        name: {"server": server[name], "device": value} for name, value in sale.totals.items() if server[name] != value
    }
    change = sum((s.change for s in settlements), ZERO)
    if sale.change is not None and change != sale.change:
        differ["change"] = {"server": change, "device": sale.change}
    return [{"code": "totals_differ", "totals": differ}] if differ else []


def _sell(terminal: Terminal, sale: DeviceSale, *, user, approver=None) -> tuple[Sale, list[dict], list[dict]]:
    """The counter sale of billing.services.sell, keeping the device's prices: returns the sale, its flags and the
    `block` products it took below zero. Raises what sell raises (a DomainError: the caller holds the sale)."""
    if terminal.register_id is None:
        raise Hold("This terminal has no register to take payments on.", code="no_register")
    draft = draft_order(
        location=terminal.location,
        user=user,
        lines=[
            NewLine(
                product_id=line.product_id,
                quantity=line.quantity,
                modifiers=[option for option, _ in line.modifiers],
                note=line.note,
                discount_kind=line.discount_kind,
                discount_value=line.discount_value,
            )
            for line in sale.lines
        ],
        channel=sale.channel,
        note=sale.note,
        approver=approver,
    )
    order = draft.order
    flags = _keep_device_prices(draft, sale)
    if sale.discount_kind:
        order.discount_kind, order.discount_value = sale.discount_kind, sale.discount_value
        order.discount_reason = "Offline sale"
    reprice(order, draft.lines)
    settlements = _settle(order, clean_tenders(sale.tenders))
    flags += _compare_totals(order, settlements, sale)
    approvals = _approvals_for_sale(order, settlements, user=user, approver=approver, reason="Offline sale")
    _mark_paid(order)
    save_draft(draft)
    if order.discount_kind:  # over the staff member's limit it needs a manager (else the sale is held), as online
        off, base, _ = discount_figures(draft.lines)[0]
        check_discount(order, user, approver, off, base, discount_limit(user), order)
    with selling_below_zero() as oversold:
        done = _complete_sale(
            order,
            draft.lines,
            register_id=terminal.register_id,
            settlements=settlements,
            user=user,
            update_order=False,
            printer_id=terminal.printer_id,
        )
    _audit_approvals(order, approvals, user)
    flags += [{"code": "oversold", **item} for item in oversold]
    return done, flags, oversold


def _applied(terminal: Terminal, sale: DeviceSale, done: Sale, flags, oversold, *, user, received_at) -> OfflineSale:
    record = OfflineSale.objects.create(
        terminal=terminal,
        location_id=terminal.location_id,
        key=sale.key,
        reference=reference_for(terminal, sale.sequence),
        sequence=sale.sequence,
        staff_id=user.pk,
        made_at=sale.made_at,
        received_at=received_at,
        payload=sale.raw,
        status=OfflineSale.Status.APPLIED,
        flags=json.loads(json.dumps(flags, cls=DjangoJSONEncoder)),
        order=done.order,
    )
    audit(
        "offline_sale_applied",
        actor=user,
        location_id=terminal.location_id,
        obj=done.order,
        terminal=terminal.pk,
        reference=record.reference,
        made_at=sale.made_at.isoformat(),
        received_at=received_at.isoformat(),
        receipt=done.receipt.number,
        flags=[f["code"] for f in flags],
    )
    for item in oversold:
        audit(
            "oversold_offline",
            actor=user,
            location_id=terminal.location_id,
            obj=done.order,
            product=item["product"],
            on_hand=str(item["on_hand"]),
            reference=record.reference,
        )
    if oversold:
        names = ", ".join(f"{item['name']} ({item['on_hand'].normalize():f})" for item in oversold)
        message = f"{terminal.location}: offline sale {record.reference} took stock below zero: {names}."
        transaction.on_commit(
            partial(notify, "offline_oversold", message, location=terminal.location_id, order=str(done.order.uuid))
        )
    return record


def reference_for(terminal: Terminal, sequence: int) -> str:
    return f"{provisional_code(terminal)}-{sequence:06d}"


def _outcome(record: OfflineSale, *, replayed: bool = False) -> dict:
    result = {
        "key": record.key,
        "reference": record.reference,
        "outcome": record.status,
        "flags": [f.get("code") for f in record.flags],
    }
    if record.status == OfflineSale.Status.APPLIED:
        receipt = record.order.receipts.filter(refund__isnull=True).order_by("id").first()
        result.update(order=str(record.order.uuid), receipt=receipt.number if receipt else None)
        if replayed:
            result["outcome"] = "already_applied"
    else:
        result.update(code=record.reason, message=record.message)
    return result


def _hold(terminal: Terminal, sale: DeviceSale, error: DomainError, *, received_at, revoked: bool) -> OfflineSale:
    staff = get_user_model().objects.filter(pk=sale.staff_id).first()
    record = OfflineSale.objects.create(
        terminal=terminal,
        location_id=terminal.location_id,
        key=sale.key,
        reference=reference_for(terminal, sale.sequence),
        sequence=sale.sequence,
        staff=staff,
        made_at=sale.made_at.isoformat(),
        received_at=received_at.isoformat(),
        payload=sale.raw,
        status=OfflineSale.Status.HELD,
        reason=error.code[:64],
        message=error.message[:300],
    )
    audit(
        "offline_sale_held",
        actor=staff,
        location_id=terminal.location_id,
        obj=record,
        terminal=terminal.pk,
        reference=record.reference,
        reason=error.code,
        made_at=sale.made_at.isoformat(),
        received_at=received_at.isoformat(),
    )
    return record


def apply_sale(terminal: Terminal, sale: DeviceSale, *, revoked: bool, received_at: datetime) -> dict:
    """Apply one queued sale once, in its own transaction; return its outcome for the device: `applied` (with its
    receipt number and flags), `already_applied` (a replay), `held` (with the reason's code) or `rejected` (the key
    came before with another sale, or is still being applied: nothing was done)."""
    scope = f"terminal:{terminal.pk}"

    def apply():
        if revoked:
            raise Hold("This terminal's pairing was revoked: a manager reviews its sales.", code="terminal_revoked")
        _check_time(sale, received_at)
        user = _staff(sale, terminal.location_id)
        if user is None:
            raise Hold("The staff member who made this sale does not work at this store.", code="staff_not_allowed")
        done, flags, oversold = _sell(terminal, sale, user=user)
        record = _applied(terminal, sale, done, flags, oversold, user=user, received_at=received_at)
        return 201, {"offline_sale": record.pk}

    def hold(error):
        def action():
            record = _hold(terminal, sale, error, received_at=received_at, revoked=revoked)
            return 202, {"offline_sale": record.pk}

        return action

    try:
        try:
            outcome = run_once(scope=scope, key=sale.key, endpoint=ENDPOINT, payload=sale.raw, action=apply)
        except IdempotencyKeyReused:
            raise
        except DomainError as error:
            if isinstance(error, Conflict) and error.code == "in_progress":
                raise
            outcome = run_once(scope=scope, key=sale.key, endpoint=ENDPOINT, payload=sale.raw, action=hold(error))
    except (IdempotencyKeyReused, Conflict) as error:
        return {
            "key": sale.key,
            "reference": reference_for(terminal, sale.sequence),
            "outcome": "rejected",
            "code": error.code,
            "message": error.message,
        }
    record = OfflineSale.objects.select_related("order").get(pk=outcome.body["offline_sale"])
    return _outcome(record, replayed=outcome.replayed)


def sync(*, terminal: Terminal, user, revoked: bool, sales: list[DeviceSale], queue: QueueReport | None) -> dict:
    """Apply a terminal's queued sales in order, each once and in its own transaction; record what it says of its
    queue (`queue`: the sales it still holds besides this batch — a device sends at most MAX_SALES_PER_SYNC at once).
    `user` is the person signed in on the device (checked by the view: works at the terminal's store).
    Raises DomainError `review_queue_full` (429) when the terminal already has MAX_HELD_PER_TERMINAL sales pending
    review and would add more: nothing is applied then."""
    received_at = timezone.now()
    held = OfflineSale.objects.filter(terminal=terminal, status=OfflineSale.Status.HELD).count()
    if sales and (held >= MAX_HELD_PER_TERMINAL or (revoked and held + len(sales) > MAX_HELD_PER_TERMINAL)):
        raise DomainError(
            "This terminal has too many sales waiting for a manager's review: ask a manager.",
            code="review_queue_full",
            status=429,
        )
    results = [apply_sale(terminal, sale, revoked=revoked, received_at=received_at) for sale in sales]
    if queue is not None:
        record_queue(terminal, queue, synced=bool(sales))
    return {"results": results, "next_sequence": next_sequence(terminal)}


# --- Watching ------------------------------------------------------------------------------------------------------


@transaction.atomic
def record_queue(terminal: Terminal, queue: QueueReport, *, synced: bool = False) -> TerminalSync:
    """Keep what a terminal says of its offline queue; alert the managers once per backlog when its oldest queued
    sale is more than BACKLOG_ALERT_AFTER old."""
    now = timezone.now()
    state, _ = TerminalSync.objects.select_for_update().get_or_create(terminal=terminal, defaults={"reported_at": now})
    state.reported_at = now
    state.queue_length = queue.length
    state.oldest_queued_at = queue.oldest_at if queue.length else None
    if synced:
        state.last_sync_at = now
    if not queue.length:
        state.alerted_at = None
    elif state.oldest_queued_at and now - state.oldest_queued_at > BACKLOG_ALERT_AFTER and state.alerted_at is None:
        state.alerted_at = now
        minutes = int((now - state.oldest_queued_at).total_seconds() // 60)
        message = f"{terminal}: {queue.length} sales queued offline, the oldest {minutes} min old."
        transaction.on_commit(
            partial(notify, "offline_backlog", message, terminal=terminal.pk, location=terminal.location_id)
        )
    state.save()
    return state


def terminals_with_backlog():
    return TerminalSync.objects.filter(queue_length__gt=0).select_related("terminal", "terminal__location")


# --- Review --------------------------------------------------------------------------------------------------------


def _lock_held(offline_sale_id: int) -> OfflineSale:
    record = (
        OfflineSale.objects.select_for_update(of=("self",))
        .select_related("terminal", "terminal__location")
        .filter(pk=offline_sale_id)
        .first()
    )
    if record is None:
        raise DomainError("No such offline sale.", code="not_found", status=404)
    if record.status != OfflineSale.Status.HELD:
        raise Conflict(f"This sale was already {record.get_status_display().lower()}.", code="already_reviewed")
    return record


@transaction.atomic
def apply_held(*, offline_sale_id: int, manager, note: str = "") -> OfflineSale:
    """A manager applies a held sale as it came (the device's prices, its staff member if they work at the store,
    else the manager), through the same checkout; the manager approves what the sale needs approving.
    Raises PermissionDenied (not a manager at the store), Conflict `already_reviewed`, and what the checkout raises
    (a closed cash session: `no_open_session`) — nothing changes then."""
    record = _lock_held(offline_sale_id)
    terminal = record.terminal
    check_location(manager, terminal.location_id)
    manager_approval(manager, None, "Applying a held offline sale")
    sale = parse_sale(record.payload, "payload")
    user = _staff(sale, terminal.location_id) or manager
    done, flags, oversold = _sell(terminal, sale, user=user, approver=manager)
    flags.append({"code": "held", "reason": record.reason})
    record.status = OfflineSale.Status.APPLIED
    record.order = done.order
    record.flags = json.loads(json.dumps(flags, cls=DjangoJSONEncoder))
    record.reviewed_by, record.reviewed_at, record.review_note = manager, timezone.now(), note[:200]
    record.save(update_fields=["status", "order", "flags", "reviewed_by", "reviewed_at", "review_note"])
    audit(
        "offline_sale_reviewed",
        actor=manager,
        approver=manager,
        location_id=terminal.location_id,
        obj=done.order,
        decision="applied",
        reference=record.reference,
        reason=record.reason,
        receipt=done.receipt.number,
    )
    for item in oversold:
        audit(
            "oversold_offline",
            actor=manager,
            location_id=terminal.location_id,
            obj=done.order,
            product=item["product"],
            on_hand=str(item["on_hand"]),
            reference=record.reference,
        )
    return record


@transaction.atomic
def reject_held(*, offline_sale_id: int, manager, note: str) -> OfflineSale:
    """A manager rejects a held sale (with a note saying why): it stays in the queue's history, never applied.
    Raises PermissionDenied, Conflict `already_reviewed`, DomainError `invalid` (no note)."""
    note = (note or "").strip()
    if not note:
        raise invalid("Say why the sale is rejected.", "note", code="required")
    record = _lock_held(offline_sale_id)
    check_location(manager, record.location_id)
    manager_approval(manager, None, "Rejecting a held offline sale")
    record.status = OfflineSale.Status.REJECTED
    record.reviewed_by, record.reviewed_at, record.review_note = manager, timezone.now(), note[:200]
    record.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    audit(
        "offline_sale_reviewed",
        actor=manager,
        approver=manager,
        location_id=record.location_id,
        obj=record,
        decision="rejected",
        reference=record.reference,
        reason=record.reason,
        note=note,
    )
    return record
