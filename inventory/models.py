from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.immutable import AppendOnlyModel
from core.money import MONEY_DIGITS, MONEY_PLACES, QTY_DIGITS, QTY_PLACES

LOYALTY_MAX_POINTS_PER_UNIT = 1000  # a rate above this is a typing mistake (1 point per 0.001)
LOYALTY_MAX_POINT_VALUE = 1_000_000  # one point worth more than a million is one too (IDR: 1 point = 100)
LOYALTY_MAX_MIN_REDEEM = 1_000_000


def money_field(**kwargs):
    kwargs.setdefault("default", 0)
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


def qty_field(**kwargs):
    kwargs.setdefault("default", 0)
    return models.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, **kwargs)


class Location(models.Model):
    class Kind(models.TextChoices):
        STORE = "store", _("Store")
        KITCHEN = "kitchen", _("Kitchen")
        WAREHOUSE = "warehouse", _("Warehouse")

    class ServiceChargeBase(models.TextChoices):
        BEFORE_TAX = "before_tax", _("Net of tax")
        AFTER_TAX = "after_tax", _("Including tax")

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STORE)
    address = models.TextField(blank=True)
    legal_name = models.CharField(
        max_length=200, blank=True, help_text="The business's registered name, printed on receipts and invoices."
    )
    tax_id = models.CharField(max_length=40, blank=True, help_text="VAT/GST/NPWP number printed on receipts.")
    # Store settings used by pricing
    prices_include_tax = models.BooleanField(
        default=True, help_text="Shelf prices include tax (typical in Europe) or tax is added on top (US)."
    )
    service_charge_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Added to dine-in orders; 0 for none."
    )
    service_charge_base = models.CharField(
        max_length=12,
        choices=ServiceChargeBase.choices,
        default=ServiceChargeBase.BEFORE_TAX,
        help_text="What the service charge percentage is taken of: the lines net of tax, or the lines with tax.",
    )
    cash_rounding = money_field(help_text="Cash totals are rounded to this step (0.05, 100); 0 for none.")
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_(
            "The store's language: its receipts and kitchen tickets, and the screens of staff and terminals "
            "without their own. Empty: the installation's (LANGUAGE_CODE)."
        ),
    )
    receipt_header = models.TextField(blank=True)
    receipt_footer = models.TextField(blank=True)
    # Money controls: above these a manager approves (0 = no amount allowed without a manager).
    max_tip = money_field(default=100, help_text="Largest tip on one payment without a manager's approval.")
    max_change = money_field(default=500, help_text="Largest change given back on one cash payment.")
    max_pay_in = money_field(default=1000, help_text="Largest pay-in into a till without a manager's approval.")
    max_pay_out = money_field(default=100, help_text="Largest pay-out from a till without a manager's approval.")
    # Loyalty (billing.loyalty): whole points earned per currency unit paid, and what one point pays when redeemed.
    loyalty_points_per_unit = models.DecimalField(
        max_digits=9,
        decimal_places=4,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(LOYALTY_MAX_POINTS_PER_UNIT)],
        help_text="Points a customer earns per currency unit paid (tips, gift cards and points excluded); "
        "0: no points are earned here.",
    )
    loyalty_point_value = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(LOYALTY_MAX_POINT_VALUE)],
        help_text="What one point pays when redeemed as a tender; 0: points cannot be redeemed here.",
    )
    loyalty_min_redeem = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(LOYALTY_MAX_MIN_REDEEM)],
        help_text="The fewest points a customer may redeem at once (0: any whole number).",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(loyalty_points_per_unit__gte=0, loyalty_points_per_unit__lte=LOYALTY_MAX_POINTS_PER_UNIT),
                name="location_loyalty_rate_bounded",
            ),
            models.CheckConstraint(
                condition=Q(loyalty_point_value__gte=0, loyalty_point_value__lte=LOYALTY_MAX_POINT_VALUE),
                name="location_loyalty_point_value_bounded",
            ),
            models.CheckConstraint(
                condition=Q(loyalty_min_redeem__lte=LOYALTY_MAX_MIN_REDEEM), name="location_loyalty_min_bounded"
            ),
        ]

    def __str__(self):
        return self.name


class Category(models.Model):
    name = models.CharField(max_length=80)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, help_text="Empty: shown at every location."
    )
    station = models.SlugField(
        max_length=32,
        blank=True,
        help_text="Kitchen station its items are sent to (kitchen, bar); empty: none.",
    )
    sort_order = models.PositiveIntegerField(default=0)
    colour = models.CharField(max_length=7, default="#4a6fa5")

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class TaxRate(models.Model):
    name = models.CharField(max_length=40, unique=True)
    percent = models.DecimalField(max_digits=6, decimal_places=3)

    class Meta:
        ordering = ["percent"]
        constraints = [models.CheckConstraint(condition=Q(percent__gte=0), name="taxrate_percent_not_negative")]

    def __str__(self):
        return f"{self.name} ({self.percent.normalize()}%)"


class Product(models.Model):
    class Kind(models.TextChoices):
        GOODS = "goods", _("Goods")
        MENU_ITEM = "menu_item", _("Menu item")
        INGREDIENT = "ingredient", _("Ingredient")
        SERVICE = "service", _("Service")
        GIFT_CARD = "gift_card", _("Gift card")  # sold as money owed (billing.giftcards), never taxed or stocked

    class StockPolicy(models.TextChoices):
        BLOCK = "block", _("Block sale below zero")
        WARN = "warn", _("Sell and warn")
        ALLOW = "allow", _("Allow negative")

    sku = models.CharField(max_length=64, unique=True)
    barcode = models.CharField(max_length=64, unique=True, null=True, blank=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GOODS)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT)
    price = money_field()
    cost = money_field(help_text="Moving average cost per unit.")
    tax_rate = models.ForeignKey(TaxRate, on_delete=models.PROTECT)
    unit = models.CharField(max_length=16, default="pc")
    quantity_places = models.PositiveSmallIntegerField(
        default=0,
        help_text="Decimal places a quantity of it may have: 0 for whole pieces, up to 3 for weighed goods.",
    )
    tracked = models.BooleanField(default=True, help_text="Stock is counted for this product.")
    stock_policy = models.CharField(max_length=8, choices=StockPolicy.choices, default=StockPolicy.BLOCK)
    reorder_point = qty_field()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["name"], name="product_name_idx"),
            models.Index(fields=["category", "active"], name="product_category_active_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="product_cost_not_negative"),
            models.CheckConstraint(condition=Q(quantity_places__lte=3), name="product_quantity_places_at_most_3"),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"

    @property
    def has_stock(self) -> bool:
        """Whether it has stock of its own to count and move: tracked goods, not services or gift cards."""
        return self.tracked and self.kind not in NOT_STOCKED_KINDS

    @property
    def has_recipe(self) -> bool:
        return self.kind == self.Kind.MENU_ITEM and self.recipe_lines.exists()


NOT_STOCKED_KINDS = (Product.Kind.SERVICE, Product.Kind.GIFT_CARD)


class RecipeLine(models.Model):
    """A menu item consumes `quantity` of an ingredient each time one is sold."""

    menu_item = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="recipe_lines")
    ingredient = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="used_in")
    quantity = qty_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["menu_item", "ingredient"], name="recipe_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="recipe_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.menu_item.name}: {self.quantity} × {self.ingredient.name}"


class StockLevel(models.Model):
    """Cached sum of the ledger for one product at one location (DESIGN.md §3.2)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = qty_field()
    # Mirrors the product's policy so the database itself refuses a `block` product below zero.
    allow_negative = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="stocklevel_unique"),
            models.CheckConstraint(
                condition=Q(on_hand__gte=0) | Q(allow_negative=True), name="stocklevel_block_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.product} @ {self.location}: {self.on_hand}"


class StockMove(AppendOnlyModel):
    class Reason(models.TextChoices):
        SALE = "sale", _("Sale")
        REFUND = "refund", _("Refund")
        # Translators: stock put back because a sold line was cancelled (voided), not "empty"
        VOID = "void", _("Void")
        PURCHASE = "purchase", _("Purchase receipt")
        ADJUSTMENT = "adjustment", _("Adjustment")
        COUNT = "count", _("Stock count")
        WASTE = "waste", _("Waste")
        TRANSFER = "transfer", _("Transfer")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="moves")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="moves")
    delta = qty_field()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    reference = models.CharField(max_length=64, blank=True, help_text="What caused it: order uuid, PO id, …")
    note = models.CharField(max_length=200, blank=True)
    unit_cost = money_field()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["product", "location", "created_at"], name="stockmove_product_loc_idx"),
            models.Index(fields=["reference"], name="stockmove_reference_idx"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(delta=0), name="stockmove_delta_not_zero")]

    def __str__(self):
        return f"{self.delta:+} {self.product.sku} @ {self.location.code} ({self.reason})"


class Supplier(models.Model):
    name = models.CharField(max_length=120, unique=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PurchaseOrder(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ORDERED = "ordered", _("Ordered")
        PARTIAL = "partial", _("Partly received")
        RECEIVED = "received", _("Received")
        CANCELLED = "cancelled", _("Cancelled")

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ORDERED)
    reference = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    expected_at = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"PO {self.pk} · {self.supplier}"


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    quantity_ordered = qty_field()
    quantity_received = qty_field()
    unit_cost = money_field()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity_ordered__gt=0), name="poline_ordered_positive"),
            models.CheckConstraint(condition=Q(quantity_received__gte=0), name="poline_received_not_negative"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="poline_cost_not_negative"),
        ]

    def __str__(self):
        return f"{self.product.sku}: {self.quantity_received}/{self.quantity_ordered}"


class PurchaseReceipt(models.Model):
    """One delivery booked against a purchase order. A delivery note number can be booked only once per order,
    so a double-submitted receipt is refused instead of doubling the stock."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    delivery_note = models.CharField(max_length=64, blank=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)
    lines = models.JSONField(default=dict, help_text="Quantity received per purchase order line id.")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order", "delivery_note"],
                condition=~Q(delivery_note=""),
                name="purchasereceipt_delivery_note_once",
            )
        ]

    def __str__(self):
        return f"Receipt {self.pk} of PO {self.purchase_order_id}"


class StockCount(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        POSTED = "posted", _("Posted")
        CANCELLED = "cancelled", _("Cancelled")

    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(max_length=200, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # Two open counts of one location would both correct the same shelves.
            models.UniqueConstraint(fields=["location"], condition=Q(status="open"), name="stockcount_one_open"),
        ]

    def __str__(self):
        return f"Count {self.pk} · {self.location} ({self.status})"


class StockCountLine(models.Model):
    stock_count = models.ForeignKey(StockCount, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    expected = qty_field(help_text="On hand when the count started.")
    counted = models.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stock_count", "product"], name="countline_unique")]

    def __str__(self):
        return f"{self.product_id}: {self.counted} counted / {self.expected} expected"

    @property
    def variance(self):
        return None if self.counted is None else self.counted - self.expected


class LowStockAlert(models.Model):
    """A product at or below its reorder point at a location, as found by the daily low-stock check."""

    day = models.DateField()
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="low_stock_alerts")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="low_stock_alerts")
    on_hand = qty_field()
    reorder_point = qty_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "location", "product__name"]
        constraints = [
            models.UniqueConstraint(fields=["day", "location", "product"], name="lowstockalert_once_a_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.product.name} @ {self.location.code}: {self.on_hand} ≤ {self.reorder_point}"


class CatalogueImport(models.Model):
    """One CSV file on its way into the catalogue (inventory.catalogue): checked first (a dry run that writes
    nothing), then imported when a manager says so. The file is kept with the run, so the import applies exactly
    what was checked; its progress while running is in the cache (inventory.imports)."""

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking")
        INVALID = "invalid", _("Has errors")
        CHECKED = "checked", _("Ready to import")
        IMPORTING = "importing", _("Importing")
        IMPORTED = "imported", _("Imported")
        FAILED = "failed", _("Failed")

    filename = models.CharField(max_length=200)
    content = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CHECKING)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def running(self) -> bool:
        return self.status in (self.Status.CHECKING, self.Status.IMPORTING)
