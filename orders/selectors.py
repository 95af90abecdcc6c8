"""Read-side queries on orders for screens, the API, reports and the integrity check (no writes)."""

from django.db.models import DecimalField, F, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from core.money import MONEY_DIGITS, MONEY_PLACES, ZERO
from orders.models import KitchenTicket, Order, OrderLine, Table
from staff.selectors import locations_for

OPEN_STATUSES = (Order.Status.OPEN, Order.Status.HELD)


def orders_for(user) -> QuerySet[Order]:
    """Orders at the user's locations, with their lines (course, then entry order)."""
    return (
        Order.objects.filter(location__in=locations_for(user))
        .select_related("location", "table", "staff")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("course", "id")))
    )


def open_orders(user, *, location_id: int | None = None) -> QuerySet[Order]:
    """Open and held orders at the user's locations, oldest first (the floor screen)."""
    queryset = orders_for(user).filter(status__in=OPEN_STATUSES).order_by("opened_at")
    return queryset.filter(location_id=location_id) if location_id else queryset


def order_for(user, uuid) -> Order | None:
    return orders_for(user).filter(uuid=uuid).first()


def active_lines(order: Order) -> list[OrderLine]:
    return [line for line in order.lines.all() if line.status == OrderLine.Status.ACTIVE]


def unsent_lines(order: Order) -> list[OrderLine]:
    """Active lines not yet sent to the kitchen (what send_to_kitchen would consider)."""
    return [line for line in active_lines(order) if line.sent_at is None]


def tables_with_open_orders(user, *, location_id: int) -> list[tuple[Table, list[Order]]]:
    """Each active table of a location with its open or held orders, in floor order."""
    tables = list(Table.objects.filter(location_id=location_id, location__in=locations_for(user), active=True))
    by_table: dict[int, list[Order]] = {}
    for order in open_orders(user, location_id=location_id).filter(table__isnull=False):
        if order.table_id is not None:  # always (the filter); says so to the type checker
            by_table.setdefault(order.table_id, []).append(order)
    return [(table, by_table.get(table.pk, [])) for table in tables]


def station_queue(*, location_id: int, station: str) -> QuerySet[KitchenTicket]:
    """Tickets still to do at a kitchen station, oldest first, with their lines."""
    return (
        KitchenTicket.objects.filter(location_id=location_id, station=station, status=KitchenTicket.Status.NEW)
        .select_related("order__table")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.filter(status=OrderLine.Status.ACTIVE)))
        .order_by("created_at", "id")
    )


def orders_whose_lines_do_not_add_up() -> QuerySet[Order]:
    """Paid or refunded orders whose active lines' amounts do not add up to the total, or whose payments do not
    (DESIGN.md §3.1); should be empty. For the integrity check."""
    return (
        Order.objects.filter(status__in=[Order.Status.PAID, Order.Status.REFUNDED])
        .annotate(
            lines_due=Coalesce(
                Sum("lines__amount_due", filter=Q(lines__status=OrderLine.Status.ACTIVE)),
                Value(ZERO),
                output_field=DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES),
            )
        )
        .exclude(lines_due=F("total"), paid_total=F("total"))
    )
