import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from inventory.models import Category, Location, Product, money_field, qty_field


class Table(models.Model):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="tables")
    name = models.CharField(max_length=20)
    section = models.CharField(max_length=40, default="Main")
    seats = models.PositiveSmallIntegerField(default=4)
    sort_order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location", "section", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="table_unique_name")]

    def __str__(self):
        return f"Table {self.name}"


class Customer(models.Model):
    """A guest the business knows: found on the POS, attached to orders, invoiced, e-mailed receipts.

    Shared by every store. Phone is kept as digits only (with a leading + when given) and e-mail lower-cased, so
    the unique constraints refuse duplicates however they are typed. Erasing a customer blanks the personal
    fields and sets `erased_at`; their orders keep their totals.
    """

    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=20, blank=True, help_text="Digits only, with a leading + when given.")
    email = models.EmailField(max_length=254, blank=True)
    company = models.CharField(max_length=120, blank=True, help_text="For invoices.")
    tax_id = models.CharField(max_length=40, blank=True, help_text="For invoices.")
    card_code = models.CharField(
        max_length=64, null=True, blank=True, unique=True, help_text="A loyalty card's barcode or QR code."
    )
    marketing_consent = models.BooleanField(default=False)
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("merge_customer", "Can merge two customers"),
            ("export_customer", "Can export a customer's data"),
            ("erase_customer", "Can erase a customer's personal data"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=~Q(phone="") & Q(merged_into__isnull=True), name="customer_phone_unique"
            ),
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email="") & Q(merged_into__isnull=True), name="customer_email_unique"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_live(self) -> bool:
        """Neither merged into another customer nor erased: found by search and attachable to orders."""
        return self.merged_into_id is None and self.erased_at is None


class Order(models.Model):
    class Channel(models.TextChoices):
        DINE_IN = "dine_in", _("Dine-in")
        TAKEAWAY = "takeaway", _("Takeaway")
        DELIVERY = "delivery", _("Delivery")
        RETAIL = "retail", _("Retail")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        HELD = "held", _("Held")
        PAID = "paid", _("Paid")
        VOIDED = "voided", _("Voided")
        REFUNDED = "refunded", _("Refunded")
        MERGED = "merged", _("Merged into another order")

    class DiscountKind(models.TextChoices):
        NONE = "", "None"
        PERCENT = "percent", _("Percent")
        AMOUNT = "amount", _("Amount")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="orders")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.RETAIL)
    table = models.ForeignKey(Table, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    guest_count = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    note = models.CharField(max_length=200, blank=True)
    # Order-level discount
    discount_kind = models.CharField(max_length=8, choices=DiscountKind.choices, blank=True, default="")
    discount_value = money_field()
    discount_reason = models.CharField(max_length=200, blank=True)
    discount_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Totals, recomputed by orders.pricing whenever lines change; frozen once paid.
    service_charge_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    service_charge_base = models.CharField(
        max_length=12,
        choices=Location.ServiceChargeBase.choices,
        default=Location.ServiceChargeBase.BEFORE_TAX,
        help_text="What the service charge percent was taken of when the order was opened (the store's setting).",
    )
    subtotal = money_field()
    discount_total = money_field()
    service_charge = money_field()
    tax_total = money_field()
    total = money_field()
    paid_total = money_field()
    refunded_total = money_field()
    opened_at = models.DateTimeField(auto_now_add=True, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["location", "status"], name="order_location_status_idx"),
            models.Index(fields=["location", "paid_at"], name="order_location_paid_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(guest_count__gte=1), name="order_guest_count_positive"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_total__lte=models.F("paid_total")), name="order_refund_le_paid"
            ),
        ]

    def __str__(self):
        return f"Order {str(self.uuid)[:8]}"

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.HELD)


class OrderLine(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        VOIDED = "voided", _("Voided")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    # Snapshots: what the guest was charged, whatever happens to the catalogue later.
    name = models.CharField(max_length=200)
    unit_price = money_field()
    tax_rate_name = models.CharField(max_length=40)
    tax_rate_percent = models.DecimalField(max_digits=6, decimal_places=3)
    prices_include_tax = models.BooleanField(default=True)
    unit_cost = money_field()
    quantity = qty_field()
    modifiers = models.JSONField(
        default=list,
        blank=True,
        help_text="The chosen options as they were when added: "
        '[{"group": "Extras", "option": 7, "name": "Bacon", "price": "1.50", "ingredient": 12, '
        '"ingredient_quantity": "0.050"}] (ingredient keys only for an option that uses one).',
    )
    note = models.CharField(max_length=200, blank=True)
    course = models.PositiveSmallIntegerField(default=1)
    discount_kind = models.CharField(max_length=8, choices=Order.DiscountKind.choices, blank=True, default="")
    discount_value = money_field()
    price_overridden = models.BooleanField(default=False)
    # Totals of this line (after its own discount, before the order discount), recomputed by orders.pricing.
    line_total = money_field()
    discount_amount = money_field()
    tax_amount = money_field()
    order_discount_amount = money_field(help_text="This line's share of the order discount.")
    service_charge_amount = money_field(help_text="This line's share of the service charge.")
    amount_due = money_field(help_text="What the guest pays for this line; the lines add up to the order total.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    void_reason = models.CharField(max_length=200, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When it went to the kitchen.")
    kitchen_ticket = models.ForeignKey(
        "KitchenTicket", null=True, blank=True, on_delete=models.PROTECT, related_name="lines"
    )
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    quantity_refunded = qty_field()

    class Meta:
        ordering = ["course", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_price_not_negative"),
            models.CheckConstraint(
                condition=Q(quantity_refunded__gte=0) & Q(quantity_refunded__lte=models.F("quantity")),
                name="orderline_refund_within_quantity",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.name}"


class KitchenTicket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        BUMPED = "bumped", _("Done")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="kitchen_tickets")
    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    station = models.SlugField(max_length=32)
    course = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW, db_index=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    bumped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["location", "station", "status"], name="ticket_station_status_idx")]

    def __str__(self):
        return f"Ticket {self.pk} · {self.station}"


MAX_PRICE_DELTA = 1000
MAX_CHOICES = 20


class ModifierGroup(models.Model):
    """Choices offered with a product, or with every product of a category: "Doneness" (exactly 1), "Extras" (up
    to 3). orders.services.modifiers enforces the counts on every line that is added or changed."""

    name = models.CharField(max_length=60)
    min_choices = models.PositiveSmallIntegerField(default=0, help_text="0: optional; 1 or more: required.")
    max_choices = models.PositiveSmallIntegerField(default=1, help_text=f"1 to {MAX_CHOICES}.")
    products = models.ManyToManyField(Product, blank=True, related_name="modifier_groups")
    categories = models.ManyToManyField(Category, blank=True, related_name="modifier_groups")
    sort_order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_choices__gte=1) & Q(max_choices__lte=MAX_CHOICES),
                name="modifiergroup_max_choices_range",
            ),
            models.CheckConstraint(
                condition=Q(min_choices__lte=models.F("max_choices")), name="modifiergroup_min_le_max"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def rule(self) -> str:
        """What the guest must choose, as the screens say it: "choose 1", "up to 3", "2 to 3"."""
        if self.min_choices == self.max_choices:
            return f"choose {self.min_choices}"
        if not self.min_choices:
            return f"up to {self.max_choices}"
        return f"{self.min_choices} to {self.max_choices}"


class ModifierOption(models.Model):
    """One choice of a group, with what it adds to the unit price and, optionally, an ingredient it takes out of
    stock (per unit of the line) when the line is sold."""

    group = models.ForeignKey(ModifierGroup, on_delete=models.CASCADE, related_name="options")
    name = models.CharField(max_length=60)
    price_delta = money_field(help_text=f"Added to the unit price: 0 to {MAX_PRICE_DELTA}.")
    ingredient = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A product this option uses up (an extra egg).",
    )
    ingredient_quantity = qty_field(help_text="How much of the ingredient one unit of the line uses.")
    sort_order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_delta__gte=0) & Q(price_delta__lte=MAX_PRICE_DELTA),
                name="modifieroption_price_delta_range",
            ),
            models.CheckConstraint(
                condition=(Q(ingredient__isnull=True) & Q(ingredient_quantity=0))
                | (Q(ingredient__isnull=False) & Q(ingredient_quantity__gt=0) & Q(ingredient_quantity__lte=1000)),
                name="modifieroption_ingredient_quantity",
            ),
        ]

    def __str__(self):
        return f"{self.group.name}: {self.name}"
