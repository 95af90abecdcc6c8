"""The kitchen display's two writes: a cook marks a ticket done (bump) or brings it back (recall).

Both are a compare-and-swap on the ticket's status, so a double tap or two screens bumping the same ticket change
it once; the second is told the ticket already moved.
"""

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, NotFound
from orders.models import KitchenTicket
from staff.access import check_location


def _ticket(ticket_id: int, user) -> KitchenTicket:
    ticket = KitchenTicket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound("Unknown kitchen ticket.")
    check_location(user, ticket.location_id)
    return ticket


@transaction.atomic
def bump_ticket(ticket_id: int, *, user) -> KitchenTicket:
    """Mark a ticket done. Raises NotFound, PermissionDenied (another location), Conflict (already done)."""
    ticket = _ticket(ticket_id, user)
    now = timezone.now()
    changed = KitchenTicket.objects.filter(pk=ticket.pk, status=KitchenTicket.Status.NEW).update(
        status=KitchenTicket.Status.BUMPED, bumped_at=now
    )
    if not changed:
        raise Conflict("This ticket is already done.", code="already_bumped")
    ticket.status, ticket.bumped_at = KitchenTicket.Status.BUMPED, now
    return ticket


@transaction.atomic
def recall_ticket(ticket_id: int, *, user) -> KitchenTicket:
    """Bring a ticket marked done back onto the board (bumped by mistake). Keeps its place by arrival time.

    Raises NotFound, PermissionDenied (another location), Conflict (not done)."""
    ticket = _ticket(ticket_id, user)
    changed = KitchenTicket.objects.filter(pk=ticket.pk, status=KitchenTicket.Status.BUMPED).update(
        status=KitchenTicket.Status.NEW, bumped_at=None
    )
    if not changed:
        raise Conflict("This ticket is still on the board.", code="not_bumped")
    ticket.status, ticket.bumped_at = KitchenTicket.Status.NEW, None
    return ticket
