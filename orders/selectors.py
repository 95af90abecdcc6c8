"""Read-side queries on orders for screens, the API, reports and the integrity check (no writes)."""

import re
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DecimalField, F, Max, Min, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from core.inputs import clean_search, normal_phone
from core.money import MONEY_DIGITS, MONEY_PLACES, ZERO, quantize
from orders import queries
from orders.models import Customer, KitchenTicket, Order, OrderLine, Table
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


# --- Customers --------------------------------------------------------------------------------------------------

CUSTOMER_RESULTS = 20
CUSTOMER_MIN_CONTAINS = 3  # shorter names match by prefix only; a trigram index needs three characters
PHONE_QUERY = re.compile(r"\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*")
SALE_STATUSES = (Order.Status.PAID, Order.Status.REFUNDED)


def live_customers() -> QuerySet[Customer]:
    """Customers found by search and attachable: neither merged into another nor erased."""
    return Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True)


def _starting_with(queryset: QuerySet[Customer], key, prefix: str) -> QuerySet[Customer]:
    """Rows whose `key` starts with `prefix`, in key order: one index range (orders.queries)."""
    keyed = queryset.annotate(search_key=key).order_by("search_key", "pk")
    if prefix[-1] == chr(sys.maxunicode):  # nothing sorts after it: a prefix without an upper bound
        return keyed.filter(search_key__gte=prefix)
    return keyed.filter(search_key__gte=prefix, search_key__lt=prefix[:-1] + chr(ord(prefix[-1]) + 1))


def search_customers(query: str, *, limit: int = CUSTOMER_RESULTS) -> list[Customer]:
    """Find customers the way a till does; the first of these that finds anyone wins:

    1. the exact card code (a scanned loyalty card or QR; a merged customer's old card finds the survivor);
    2. a query that looks like a phone number: phones starting with its digits (typed with or without the +);
    3. a query with an @: e-mail addresses starting with it;
    4. names starting with the query (case-insensitive), then e-mail addresses starting with it, then (on
       PostgreSQL, three characters or more) names containing it.

    Each step is one index range (migration 0007), so a page of results reads a few rows among 100,000
    customers. Merged and erased customers are never found. An empty query finds nobody.
    """
    query = clean_search(query)
    if not query:
        return []
    card = Customer.objects.filter(card_code=query).first()
    while card is not None and card.merged_into_id is not None:
        card = Customer.objects.filter(pk=card.merged_into_id).first()
    if card is not None and card.erased_at is None:
        return [card]
    live = live_customers()
    if PHONE_QUERY.fullmatch(query):
        phone = normal_phone(query)
        # Typed without its +, an international number is looked for with one too (no country code starts with 0).
        prefixes = [phone] if phone.startswith(("+", "0")) else [phone, "+" + phone]
        found = {c.pk: c for p in prefixes for c in _starting_with(live, queries.customer_phone_key(), p)[:limit]}
        if found:
            return sorted(found.values(), key=lambda c: (c.phone, c.pk))[:limit]
    if "@" in query:
        return list(_starting_with(live, queries.customer_email_key(), query.lower())[:limit])
    by_name = list(_starting_with(live, queries.customer_name_key(), query.upper())[:limit])
    if by_name:
        return by_name
    by_email = list(_starting_with(live, queries.customer_email_key(), query.lower())[:limit])
    if by_email:
        return by_email
    if connection.vendor == "postgresql" and len(query) >= CUSTOMER_MIN_CONTAINS:
        return list(live.filter(name__icontains=query).order_by("name", "pk")[:limit])
    return []


@dataclass(frozen=True)
class CustomerSummary:
    """A customer's lifetime figures over their paid (and refunded) orders. `total_spent` is what they paid net of
    refunds; `average_ticket` is that divided by the number of orders (None without orders)."""

    orders_count: int
    total_spent: Decimal
    first_visit: datetime | None
    last_visit: datetime | None
    average_ticket: Decimal | None


def customer_sales(customer: Customer) -> QuerySet[Order]:
    """The customer's sales: their paid and refunded orders, newest first."""
    return Order.objects.filter(customer=customer, status__in=SALE_STATUSES).order_by("-paid_at", "-pk")


def customer_summary(customer: Customer) -> CustomerSummary:
    """Orders count, total spent net of refunds, first and last visit and average ticket: one aggregate query."""
    money = DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    figures = customer_sales(customer).aggregate(
        count=Count("pk"),
        spent=Coalesce(Sum(F("paid_total") - F("refunded_total"), output_field=money), Value(ZERO), output_field=money),
        first=Min("paid_at"),
        last=Max("paid_at"),
    )
    count, spent = figures["count"], quantize(figures["spent"])
    return CustomerSummary(
        orders_count=count,
        total_spent=spent,
        first_visit=figures["first"],
        last_visit=figures["last"],
        average_ticket=quantize(spent / count) if count else None,
    )


def purchase_history(customer: Customer, *, limit: int = 50) -> list[Order]:
    """The customer's latest sales with their store, newest first (the admin and the API show these)."""
    return list(customer_sales(customer).select_related("location")[:limit])


def order_customer(order: Order) -> Customer | None:
    """The customer to show on an order's screen, receipt or invoice: None when there is none or they were
    erased (an erased customer's name is no one's)."""
    customer = order.customer
    if customer is None or customer.erased_at is not None:
        return None
    return customer


EXPORTED_FIELDS = (
    "id",
    "name",
    "phone",
    "email",
    "company",
    "tax_id",
    "card_code",
    "marketing_consent",
    "marketing_consent_at",
    "notes",
    "created_at",
    "updated_at",
    "erased_at",
)


def _json(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def customer_export(customer: Customer) -> dict:
    """Everything kept about one customer, as JSON-ready values: their details, the records merged into them,
    their lifetime figures and every order with its lines (what orders.customers.export_customer hands out)."""
    summary = customer_summary(customer)
    orders = (
        Order.objects.filter(customer=customer)
        .select_related("location")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
        .order_by("opened_at", "pk")
    )
    merged = Customer.objects.filter(merged_into=customer).order_by("pk")
    return {
        "customer": {field: _json(getattr(customer, field)) for field in EXPORTED_FIELDS},
        "merged_records": [{field: _json(getattr(c, field)) for field in EXPORTED_FIELDS} for c in merged],
        "summary": {key: _json(value) for key, value in summary.__dict__.items()},
        "orders": [
            {
                "uuid": str(order.uuid),
                "store": order.location.name,
                "status": order.status,
                "opened_at": _json(order.opened_at),
                "paid_at": _json(order.paid_at),
                "total": str(quantize(order.total)),
                "paid_total": str(quantize(order.paid_total)),
                "refunded_total": str(quantize(order.refunded_total)),
                "lines": [
                    {
                        "name": line.name,
                        "quantity": _json(line.quantity),
                        "amount_due": str(quantize(line.amount_due)),
                        "status": line.status,
                    }
                    for line in order.lines.all()
                ],
            }
            for order in orders
        ],
    }
