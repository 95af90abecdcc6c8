"""Sending an order's new lines to the kitchen."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict
from orders.models import KitchenTicket, OrderLine
from orders.services.access import lock_order
from orders.signals import kitchen_tickets_sent


@transaction.atomic
def send_to_kitchen(order_id: int, *, user) -> list[KitchenTicket]:
    """Send the order's new lines to the kitchen: one KitchenTicket per station (the product category's station)
    and course. Lines whose category has no station are not sent. Sends `kitchen_tickets_sent` in the transaction
    so that billing writes the tickets' print jobs with it."""
    order = lock_order(order_id, user)
    pending = list(
        order.lines.filter(status=OrderLine.Status.ACTIVE, sent_at__isnull=True)
        .exclude(product__category__station="")
        .exclude(product__category__isnull=True)
        .select_related("product__category")
        .order_by("course", "id")
    )
    if not pending:
        raise Conflict("Nothing new to send to the kitchen.", code="nothing_to_send")
    groups: dict[tuple[str, int], list[OrderLine]] = defaultdict(list)
    for line in pending:
        category = line.product.category
        assert category is not None  # lines without a category were excluded above
        groups[(category.station, line.course)].append(line)
    tickets = KitchenTicket.objects.bulk_create(
        [
            KitchenTicket(order=order, location_id=order.location_id, station=station, course=course, sent_by=user)
            for station, course in groups
        ]
    )
    now = timezone.now()
    for ticket, group in zip(tickets, groups.values(), strict=True):
        for line in group:
            line.kitchen_ticket = ticket
            line.sent_at = now
    OrderLine.objects.bulk_update(pending, ["kitchen_ticket", "sent_at"])
    kitchen_tickets_sent.send(sender=KitchenTicket, tickets=tickets, user=user)
    return tickets
