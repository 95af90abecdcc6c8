"""Read-side queries for the POS screens: the floor plan, the product grid and the kitchen board (no writes).

Each function returns everything its screen shows in a fixed, small number of queries, whatever the number of
tables, lines or tickets.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from core.inputs import clean_search
from inventory.models import Category, Location, Product
from orders.models import KitchenTicket, Order, OrderLine, Table
from orders.services.modifiers import groups_for

OPEN_STATUSES = (Order.Status.OPEN, Order.Status.HELD)


@dataclass
class TableState:
    table: Table
    order: Order | None = None
    others: int = 0  # further open orders on the same table (a split bill)

    @property
    def status(self) -> str:
        """free | open | held | long (open for longer than POS_LONG_OPEN_MINUTES)."""
        if self.order is None:
            return "free"
        if self.order.status == Order.Status.HELD:
            return "held"
        long_open = timedelta(minutes=getattr(settings, "POS_LONG_OPEN_MINUTES", 90))
        return "long" if timezone.now() - self.order.opened_at > long_open else "open"


@dataclass
class Section:
    name: str
    tables: list[TableState] = field(default_factory=list)


def floor_plan(location: Location) -> list[Section]:
    """Tables of a location by section, each with its oldest open or held order. Two queries."""
    orders: dict[int, list[Order]] = {}
    for order in Order.objects.filter(location=location, status__in=OPEN_STATUSES, table__isnull=False).order_by(
        "opened_at", "id"
    ):
        orders.setdefault(order.table_id, []).append(order)
    sections: dict[str, Section] = {}
    for table in Table.objects.filter(location=location, active=True).order_by("section", "sort_order", "name"):
        open_orders = orders.get(table.pk, [])
        state = TableState(table, open_orders[0] if open_orders else None, max(0, len(open_orders) - 1))
        sections.setdefault(table.section, Section(table.section)).tables.append(state)
    return list(sections.values())


def open_orders_without_table(location: Location) -> QuerySet[Order]:
    """Takeaway, delivery and retail orders still open or held at a location, oldest first."""
    return (
        Order.objects.filter(location=location, status__in=OPEN_STATUSES, table__isnull=True)
        .select_related("staff")
        .order_by("opened_at")
    )


def _sellable(location: Location) -> QuerySet[Product]:
    return (
        Product.objects.filter(active=True)
        .exclude(kind=Product.Kind.INGREDIENT)
        .filter(Q(category__isnull=True) | Q(category__location__isnull=True) | Q(category__location=location))
    )


def pos_categories(location: Location) -> QuerySet[Category]:
    """Categories shown at a location that hold at least one sellable product."""
    has_products = _sellable(location).filter(category=OuterRef("pk"))
    return (
        Category.objects.filter(Q(location__isnull=True) | Q(location=location))
        .filter(Exists(has_products))
        .order_by("sort_order", "name")
    )


def pos_products(location: Location, *, category_id: int | None = None, query: str = "", limit: int = 48):
    """Sellable products for the grid: of one category, or matching a search (barcode, sku prefix, name)."""
    products = (
        _sellable(location)
        .select_related("category")
        .only("pk", "name", "price", "sku", "barcode", "category__colour", "category__name")
    )
    query = clean_search(query)
    if query:
        products = products.filter(
            Q(barcode=query) | Q(sku__istartswith=query) | Q(name__istartswith=query) | Q(name__icontains=query)
        )
    elif category_id:
        products = products.filter(category_id=category_id)
    return list(products.order_by("name")[:limit])


def product_by_code(location: Location, code: str) -> Product | None:
    """The one sellable product with this barcode or sku (what a scanner or a typed code means), or None."""
    code = (code or "").strip()
    if not code:
        return None
    return _sellable(location).filter(Q(barcode=code) | Q(sku=code)).annotate(offers_groups=_offers_groups()).first()


def _offers_groups() -> Exists:
    """Whether any active modifier group applies to the product (its own, or its category's)."""
    offers = Q(modifier_groups__active=True) | Q(category__modifier_groups__active=True)
    return Exists(Product.objects.filter(offers, pk=OuterRef("pk")))


def is_table_service(order: Order) -> bool:
    """Whether the order screen offers table service (send to the kitchen, move to a table, guests): not for a
    retail sale, nor in a store that has no tables."""
    if order.channel == Order.Channel.RETAIL:
        return False
    return Table.objects.filter(location_id=order.location_id, active=True).exists()


def modifier_choices(product_id: int) -> tuple[Product | None, list]:
    """A product and the modifier groups it offers (each with its options in `.choices`); no groups: []. Most
    products offer none: for them this is one query (the product, and whether any active group applies to it)."""
    product = (
        Product.objects.only("pk", "name", "price", "category_id")
        .annotate(offers_groups=_offers_groups())
        .filter(pk=product_id)
        .first()
    )
    if product is None or not product.offers_groups:
        return product, []
    return product, groups_for([product]).get(product.pk, [])


def order_for_screen(order_uuid) -> Order:
    """An order with everything the order screen shows, in two queries whatever the number of lines; its
    `store_has_kitchen` tells whether its store's menu has kitchen stations (see kitchen_stations)."""
    lines = OrderLine.objects.order_by("course", "id")
    return (
        Order.objects.select_related("table", "location", "staff", "customer")
        .annotate(store_has_kitchen=Exists(_categories_with_station(OuterRef("location_id"))))
        .prefetch_related(Prefetch("lines", queryset=lines))
        .get(uuid=order_uuid)
    )


def _categories_with_station(location):
    return Category.objects.filter(Q(location__isnull=True) | Q(location=location)).exclude(station="")


def kitchen_stations(location: Location) -> list[str]:
    return sorted(set(_categories_with_station(location).values_list("station", flat=True)))


def kitchen_board(location: Location, *, station: str = "", stations=()) -> list[KitchenTicket]:
    """Tickets still to cook at a location (of one station, of some, or all), in order of arrival. Two queries."""
    tickets = KitchenTicket.objects.filter(location=location, status=KitchenTicket.Status.NEW)
    if station:
        tickets = tickets.filter(station=station)
    if stations:
        tickets = tickets.filter(station__in=list(stations))
    lines = OrderLine.objects.order_by("id")
    return list(
        tickets.select_related("order__table")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("created_at", "id")
    )


def recently_bumped(location: Location, *, station: str = "", stations=(), limit: int = 6) -> list[KitchenTicket]:
    """The last tickets marked done, newest first, so a bump made by mistake can be recalled."""
    tickets = KitchenTicket.objects.filter(location=location, status=KitchenTicket.Status.BUMPED)
    if station:
        tickets = tickets.filter(station=station)
    if stations:
        tickets = tickets.filter(station__in=list(stations))
    return list(tickets.select_related("order__table").order_by("-bumped_at", "-id")[:limit])
