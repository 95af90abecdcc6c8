"""Opening an order (or drafting one for a counter sale), holding and resuming it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from core.errors import Conflict, NotFound
from core.inputs import clean_text, invalid
from core.money import ZERO
from core.sql import insert_batch
from inventory.models import Location
from orders.models import Order, OrderLine, Table
from orders.services.access import lock_order
from orders.services.lines import NewLine, audit_new_lines, build_lines
from orders.services.totals import reprice
from orders.services.validation import MAX_GUESTS
from staff.access import check_location


def _service_charge_percent(location: Location, channel: str) -> Decimal:
    return location.service_charge_percent if channel == Order.Channel.DINE_IN else ZERO


@dataclass(frozen=True)
class OrderDraft:
    """A new order and its lines, validated and priced in memory but not saved (see draft_order)."""

    order: Order
    lines: list[OrderLine]
    user: object
    approver: object = None


def draft_order(
    *,
    location: Location,
    user,
    lines: list[NewLine],
    channel: str = Order.Channel.RETAIL,
    table_id: int | None = None,
    guest_count: int = 1,
    note: str = "",
    approver=None,
) -> OrderDraft:
    """Validate and price a new order at `location` with its `lines`, saving nothing, so that a caller can settle
    it in the same transaction before it is written (billing's counter sale marks it paid first); write it with
    save_draft. Checks what open_order checks (the user works at the location, channel, guests, table, each line
    as build_lines does) and raises the same errors; reads the catalogue, writes nothing."""
    check_location(user, location.pk)
    if channel not in Order.Channel.values:
        raise invalid("Unknown channel.", "channel")
    if not isinstance(guest_count, int) or isinstance(guest_count, bool) or not (1 <= guest_count <= MAX_GUESTS):
        raise invalid(f"Guests are a number from 1 to {MAX_GUESTS}.", "guest_count")
    table = None
    if table_id is not None:
        table = Table.objects.filter(pk=table_id, location=location, active=True).first()
        if table is None:
            raise invalid("Unknown table at this location.", "table")
    order = Order(
        location=location,
        channel=channel,
        table=table,
        guest_count=guest_count,
        staff=user,
        note=clean_text(note, "note"),
        service_charge_percent=_service_charge_percent(location, channel),
        service_charge_base=location.service_charge_base,
    )
    new_lines = build_lines(order, lines, user=user, approver=approver) if lines else []
    reprice(order, new_lines)
    return OrderDraft(order=order, lines=new_lines, user=user, approver=approver)


def save_draft(draft: OrderDraft) -> Order:
    """Insert a drafted order and its lines (one round trip on PostgreSQL) and audit its price overrides and its
    discounts over the user's limit. Runs inside the caller's transaction; returns the saved order."""
    insert_batch([draft.order], (draft.lines, {"order": draft.order}))
    audit_new_lines(draft.order, draft.lines, draft.user, draft.approver)
    return draft.order


@transaction.atomic
def open_order(
    *,
    location_id: int,
    user,
    channel: str = Order.Channel.RETAIL,
    table_id: int | None = None,
    guest_count: int = 1,
    note: str = "",
    lines: Sequence[NewLine] = (),
    approver=None,
) -> Order:
    """Open an order, with its first lines if given. Raises DomainError for bad input, PermissionDenied when the
    user does not work at the location."""
    location = Location.objects.filter(pk=location_id, kind=Location.Kind.STORE, active=True).first()
    if location is None:
        raise NotFound("Unknown store.", fields={"location": ["Unknown store."]})
    draft = draft_order(
        location=location,
        user=user,
        lines=list(lines),
        channel=channel,
        table_id=table_id,
        guest_count=guest_count,
        note=note,
        approver=approver,
    )
    return save_draft(draft)


@transaction.atomic
def hold_order(order_id: int, *, user) -> Order:
    """Park an open order (a tab left for later)."""
    order = lock_order(order_id, user)
    if order.status == Order.Status.HELD:
        raise Conflict("This order is already held.", code="already_held")
    order.status = Order.Status.HELD
    order.save(update_fields=["status"])
    return order


@transaction.atomic
def resume_order(order_id: int, *, user) -> Order:
    order = lock_order(order_id, user)
    if order.status != Order.Status.HELD:
        raise Conflict("Only a held order can be resumed.", code="not_held")
    order.status = Order.Status.OPEN
    order.save(update_fields=["status"])
    return order
