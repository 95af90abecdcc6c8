import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.immutable import AppendOnlyModel
from inventory.models import Location, money_field, qty_field
from orders.models import Customer, KitchenTicket, Order, OrderLine


class Printer(models.Model):
    class Connection(models.TextChoices):
        NETWORK = "network", _("Network (host:port)")
        FILE = "file", _("File or device path")

    name = models.CharField(max_length=80, unique=True)
    connection = models.CharField(max_length=8, choices=Connection.choices, default=Connection.NETWORK)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=9100)
    device_path = models.CharField(max_length=255, blank=True)
    paper_width_mm = models.PositiveSmallIntegerField(choices=[(58, "58 mm"), (80, "80 mm")], default=80)
    columns = models.PositiveSmallIntegerField(
        default=48, help_text="Characters per line (32 for 58 mm, 48 for 80 mm)."
    )
    profile = models.CharField(max_length=40, default="default", help_text="python-escpos capability profile.")
    code_page = models.CharField(
        max_length=16,
        blank=True,
        help_text="Code page for text (CP858, CP1252, CP437 …); blank picks CP858 when the profile has it. "
        "Characters it lacks are transliterated.",
    )
    has_cash_drawer = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        """The host:port or device path must be one a printer may have (billing.printer_targets)."""
        from billing.printer_targets import TargetRefused, check_printer

        try:
            check_printer(self)
        except TargetRefused as exc:
            raise ValidationError({exc.field: exc.message}) from None


class StationPrinter(models.Model):
    """Which printer a kitchen station's tickets go to, per location."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE)
    station = models.SlugField(max_length=32)
    printer = models.ForeignKey(Printer, on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["location", "station"], name="station_printer_unique")]

    def __str__(self):
        return f"{self.location.code}/{self.station} → {self.printer}"


class Register(models.Model):
    """A till. Holds the counters that must be gapless: locked with the sale's transaction (DESIGN.md §3.5)."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="registers")
    name = models.CharField(max_length=60)
    printer = models.ForeignKey(Printer, null=True, blank=True, on_delete=models.SET_NULL, related_name="registers")
    last_receipt_number = models.PositiveIntegerField(default=0)
    last_z_number = models.PositiveIntegerField(default=0)
    grand_total = money_field(help_text="Perpetual grand total: the sum of every Z report's net sales.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="register_unique_name")]

    def __str__(self):
        return f"{self.location.code} · {self.name}"


class CashSession(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="sessions")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    opening_float = money_field()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    counted_cash = money_field(null=True, blank=True)
    counted_denominations = models.JSONField(default=dict, blank=True)
    expected_cash = money_field(null=True, blank=True)
    over_short = money_field(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["register"], condition=Q(status="open"), name="one_open_session_per_register"
            ),
        ]

    def __str__(self):
        return f"Session {self.pk} · {self.register} ({self.status})"


class CashMovement(AppendOnlyModel):
    class Kind(models.TextChoices):
        PAY_IN = "pay_in", _("Pay-in")
        PAY_OUT = "pay_out", _("Pay-out")
        NO_SALE = "no_sale", _("Drawer opened, no sale")

    session = models.ForeignKey(CashSession, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = money_field()
    reason = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="cashmovement_amount_not_negative")]


class Payment(AppendOnlyModel):
    class Tender(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Card")
        VOUCHER = "voucher", _("Voucher")
        OTHER = "other", _("Other")
        GIFT_CARD = "gift_card", _("Gift card")  # redeems a billing.GiftCard (`gift_card`), store credit included
        POINTS = "points", _("Loyalty points")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    session = models.ForeignKey(CashSession, on_delete=models.PROTECT, related_name="payments")
    tender = models.CharField(max_length=16, choices=Tender.choices)
    amount = money_field(help_text="What this tender paid towards the order (tips excluded).")
    tendered = money_field(help_text="What the guest handed over.")
    change = money_field()
    tip = money_field()
    rounding = money_field(help_text="Cash rounding applied to this payment (positive: guest paid more).")
    reference = models.CharField(max_length=64, blank=True, help_text="Card terminal or voucher reference.")
    guest = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Split: which guest paid.")
    gift_card = models.ForeignKey("GiftCard", null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "tender"], name="payment_session_tender_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(change__gte=0), name="payment_change_not_negative"),
            models.CheckConstraint(condition=Q(change=0) | Q(tender="cash"), name="payment_change_only_cash"),
            models.CheckConstraint(
                condition=Q(tender="gift_card", gift_card__isnull=False) | (~Q(tender="gift_card") & Q(gift_card=None)),
                name="payment_gift_card_tender_has_card",
            ),
        ]

    def __str__(self):
        return f"{self.tender} {self.amount}"


class Refund(AppendOnlyModel):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    session = models.ForeignKey(CashSession, on_delete=models.PROTECT, related_name="refunds")
    tender = models.CharField(max_length=16, choices=Payment.Tender.choices)
    amount = money_field()
    tax_amount = money_field()
    reason = models.CharField(max_length=200)
    gift_card = models.ForeignKey(
        "GiftCard",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        help_text="The card (or new store credit) a gift-card refund went to.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(tender="gift_card", gift_card__isnull=False) | (~Q(tender="gift_card") & Q(gift_card=None)),
                name="refund_gift_card_tender_has_card",
            ),
        ]

    def __str__(self):
        return f"Refund {self.pk} of {self.order}"


class RefundLine(AppendOnlyModel):
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_lines")
    quantity = qty_field()
    amount = money_field()
    tax_amount = money_field()
    service_charge_amount = money_field(help_text="The part of `amount` that gives back the line's service charge.")
    restock = models.BooleanField(default=True, help_text="Back to stock; otherwise recorded as waste.")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="refundline_quantity_positive")]


def new_public_token() -> str:
    return secrets.token_urlsafe(16)


class Receipt(AppendOnlyModel):
    class Kind(models.TextChoices):
        SALE = "sale", _("Sale")
        REFUND = "refund", _("Refund")

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="receipts")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SALE)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="receipts")
    refund = models.OneToOneField(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="receipt")
    session = models.ForeignKey(CashSession, on_delete=models.PROTECT, related_name="receipts")
    issued_at = models.DateTimeField(auto_now_add=True, db_index=True)
    public_token = models.CharField(
        max_length=32,
        unique=True,
        default=new_public_token,
        editable=False,
        help_text="The secret in the receipt's public link (its QR code and e-mail): 128 random bits.",
    )

    class Meta:
        ordering = ["register", "number"]
        constraints = [models.UniqueConstraint(fields=["register", "number"], name="receipt_number_unique")]

    def __str__(self):
        return f"{self.register_id}-{self.number:06d}"


class ZReport(AppendOnlyModel):
    """Immutable snapshot of a closed cash session (DESIGN.md §3.6)."""

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="z_reports")
    session = models.OneToOneField(CashSession, on_delete=models.PROTECT, related_name="z_report")
    number = models.PositiveIntegerField()
    gross_sales = money_field()
    net_sales = money_field()
    tax_total = money_field()
    grand_total = money_field()
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["register", "-number"]
        constraints = [models.UniqueConstraint(fields=["register", "number"], name="zreport_number_unique")]

    def __str__(self):
        return f"Z{self.number} · {self.register}"


class PrintJob(models.Model):
    """Transactional outbox for printers (DESIGN.md §3.7): written in the business transaction, sent by Celery."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        KITCHEN = "kitchen", _("Kitchen ticket")
        REPORT = "report", _("Report")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        PRINTED = "printed", _("Printed")
        FAILED = "failed", _("Failed")
        UNCERTAIN = "uncertain", _("Uncertain")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    printer = models.ForeignKey(Printer, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT)
    receipt = models.ForeignKey(Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="print_jobs")
    kitchen_ticket = models.ForeignKey(
        KitchenTicket, null=True, blank=True, on_delete=models.PROTECT, related_name="print_jobs"
    )
    z_report = models.ForeignKey(ZReport, null=True, blank=True, on_delete=models.PROTECT, related_name="print_jobs")
    payload = models.JSONField(default=dict, blank=True, help_text="Extra rendering options (open drawer, …).")
    is_copy = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    printed_at = models.DateTimeField(null=True, blank=True)
    copy_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="copies")
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="Staff dealt with this failed or uncertain job (reprinted or dismissed)."
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "updated_at"], name="printjob_status_updated_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(sending_at__isnull=False), name="printjob_sending_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="printed") | Q(printed_at__isnull=False), name="printjob_printed_has_time"
            ),
        ]

    def __str__(self):
        return f"{self.kind} job {self.pk} ({self.status})"


class ReceiptEmail(models.Model):
    """A receipt to e-mail: an outbox row written when staff ask for it, sent by Celery after commit.

    queued → sending → sent | failed, each step a compare-and-swap on the status. Transient SMTP errors put it back
    to `queued` for another try, up to RECEIPT_EMAIL_MAX_ATTEMPTS; a failed one shows to staff until sent again or
    dismissed."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="emails")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    to_address = models.EmailField(max_length=254)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True, help_text="Staff took this failure off the list.")
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "updated_at"], name="receiptemail_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(sending_at__isnull=False), name="receiptemail_sending_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="receiptemail_sent_has_time"
            ),
        ]

    def __str__(self):
        return f"receipt {self.receipt} to {self.to_address} ({self.status})"


def rollup_field():
    """A rollup sum: sums of stored money columns and of unit costs times quantities, kept unrounded (4 + 3
    places) so that adding days gives exactly what the raw rows give."""
    return models.DecimalField(max_digits=24, decimal_places=7, default=0)


class DailyRollup(models.Model):
    """A store's figures for one local day (settings.TIME_ZONE, as the sales reports count a day), written when a Z
    is closed (billing.rollups). One `total` row per store and day, and one row per hour, tax rate, tender, product
    and staff member. Amounts are the unrounded sums of billing.figures; which column a dimension fills is said in
    billing.rollups. Rows are replaced, never edited: a day is recomputed from the raw rows as a whole."""

    class Dimension(models.TextChoices):
        TOTAL = "total", _("Total")
        HOUR = "hour", _("Hour")
        RATE = "rate", _("Tax rate")
        # Translators: the means of payment (cash, card, voucher), not "tender" as in soft or a bid
        TENDER = "tender", _("Tender")
        PRODUCT = "product", _("Product")
        STAFF = "staff", _("Staff")

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    dimension = models.CharField(max_length=8, choices=Dimension.choices)
    key = models.CharField(max_length=80, blank=True, default="")
    name = models.CharField(max_length=40, blank=True, default="")
    percent = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    orders = models.IntegerField(default=0)
    count = models.IntegerField(default=0)
    quantity = rollup_field()
    sales = rollup_field()
    discounts = rollup_field()
    service_charge = rollup_field()
    tax = rollup_field()
    base = rollup_field()
    cost = rollup_field()
    refund_count = models.IntegerField(default=0)
    refunds = rollup_field()
    refund_tax = rollup_field()
    refund_base = rollup_field()
    refund_service_charge = rollup_field()
    refund_cost = rollup_field()
    tips = rollup_field()
    rounding = rollup_field()
    payments = rollup_field()
    drawer = rollup_field()
    void_count = models.IntegerField(default=0)
    voids = rollup_field()
    gift_cards = rollup_field()  # gift cards sold: money owed, not sales (billing.figures)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "day", "dimension", "key"], name="dailyrollup_unique"),
        ]
        indexes = [models.Index(fields=["dimension", "location", "day"], name="dailyrollup_dim_loc_day")]

    def __str__(self):
        return f"{self.location_id} {self.day} {self.dimension} {self.key}"


class RollupState(models.Model):
    """How far a store's rollups are whole: every day up to `through` (included) that had any sale, refund or
    payment has its rollup rows, written after the last cash session that touched it was closed. Reports read the
    rollups for those days and the raw rows for later ones. No row (or `through` null): no day is whole yet."""

    location = models.OneToOneField(Location, on_delete=models.PROTECT, related_name="+")
    through = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.location_id} through {self.through}"


class GiftCard(models.Model):
    """Money the business owes a card's holder: a sold gift card or store credit given on a refund.

    `balance` is the sum of the card's movements (GiftCardMovement), kept as a column so that a redemption is one
    conditional UPDATE (billing.giftcards); the database refuses a negative balance. The code is random (80 bits),
    printed on the receipt and scanned or typed back; it is the only way to find a card at the till."""

    class Kind(models.TextChoices):
        GIFT_CARD = "gift_card", _("Gift card")
        STORE_CREDIT = "store_credit", _("Store credit")

    code = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GIFT_CARD)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="gift_cards")
    issued_at = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", help_text="Store of issue.")
    initial_value = money_field()
    balance = money_field()
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    expired_at = models.DateTimeField(null=True, blank=True, help_text="When its balance was written off.")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="The sale or refund."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["expires_at"], name="giftcard_expires_idx", condition=Q(balance__gt=0))]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="giftcard_balance_not_negative"),
            models.CheckConstraint(condition=Q(initial_value__gt=0), name="giftcard_initial_value_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} …{self.code[-4:]}"

    @property
    def masked_code(self) -> str:
        return f"…{self.code[-4:]}"

    def is_expired(self, now) -> bool:
        return self.expired_at is not None or (self.expires_at is not None and self.expires_at <= now)


class GiftCardMovement(AppendOnlyModel):
    """One change of a card's balance (append-only; DESIGN.md §3.6): `amount` is signed (issue and refund add,
    redeem and expire take away, an adjustment goes either way) and `balance_after` is the card's balance after it."""

    class Kind(models.TextChoices):
        ISSUE = "issue", _("Issued")
        REDEEM = "redeem", _("Redeemed")
        REFUND = "refund", _("Refunded to card")
        EXPIRE = "expire", _("Expired (breakage)")
        ADJUST = "adjust", _("Adjusted")

    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = money_field()
    balance_after = money_field()
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "created_at"], name="giftcardmove_kind_time_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="giftcardmove_amount_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="giftcardmove_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(kind__in=["issue", "refund"], amount__gt=0)
                | Q(kind__in=["redeem", "expire"], amount__lt=0)
                | Q(kind="adjust"),
                name="giftcardmove_sign_by_kind",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount} on {self.card}"


class OfflineSale(models.Model):
    """A sale made on a terminal while it could not reach the server, as it arrived in a sync (billing/offline.py).

    `applied`: it went through the checkout and `order` is the sale (with its receipt). `held`: it could not be
    applied as it came (a revoked terminal, a closed cash session, a staff member who does not work here, a time out
    of bounds, any rule that said no) and waits for a manager, who applies or rejects it. The raw payload is kept
    whatever happened: an offline sale is never lost. `flags` are what a manager should look at on an applied sale
    (a price or tax that changed since the device's snapshot, totals the server computes differently, stock sold
    below zero)."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        HELD = "held", _("Held for review")
        REJECTED = "rejected", _("Rejected")

    terminal = models.ForeignKey("staff.Terminal", on_delete=models.PROTECT, related_name="offline_sales")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=128, help_text="The idempotency key the device minted for this sale.")
    reference = models.CharField(max_length=40, help_text="The provisional reference shown to the guest.")
    sequence = models.PositiveIntegerField(help_text="The terminal's provisional sequence number.")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    made_at = models.DateTimeField(help_text="When the device says the sale was made.")
    received_at = models.DateTimeField(default=timezone.now, help_text="When the sale reached the server.")
    payload = models.JSONField(help_text="The sale as the device sent it.")
    status = models.CharField(max_length=8, choices=Status.choices, db_index=True)
    reason = models.CharField(max_length=64, blank=True, help_text="Why it was held: the rule's code.")
    message = models.CharField(max_length=300, blank=True)
    flags = models.JSONField(default=list, blank=True, help_text='[{"code": "price_changed", ...}]')
    order = models.OneToOneField(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="offline_sale")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["terminal", "sequence"]
        indexes = [models.Index(fields=["status", "location"], name="offlinesale_status_idx")]
        constraints = [
            models.UniqueConstraint(fields=["terminal", "key"], name="offlinesale_unique_key"),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(order__isnull=False), name="offlinesale_applied_has_order"
            ),
        ]

    def __str__(self):
        return self.reference


class TerminalSync(models.Model):
    """What a terminal last said about its queue of offline sales (at each sync or heartbeat)."""

    terminal = models.OneToOneField("staff.Terminal", on_delete=models.CASCADE, related_name="sync_state")
    reported_at = models.DateTimeField()
    queue_length = models.PositiveIntegerField(default=0)
    oldest_queued_at = models.DateTimeField(
        null=True, blank=True, help_text="The device time of its oldest queued sale."
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="When managers were told it had sales queued too long (once per backlog)."
    )

    def __str__(self):
        return f"{self.terminal_id}: {self.queue_length} queued"


# --- Loyalty (billing.loyalty) -----------------------------------------------------------------------------------

MAX_POINTS = 10**9  # the most points one movement or one balance may hold


class LoyaltyAccount(models.Model):
    """A customer's points balance: the sum of their LoyaltyMovement rows, kept on one row so that spending it is a
    conditional UPDATE (`balance >= points`) that two terminals cannot both win. Created on the first movement."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.PROTECT, related_name="loyalty_account"
    )
    balance = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyaltyaccount_balance_not_negative"),
            models.CheckConstraint(condition=Q(balance__lte=MAX_POINTS), name="loyaltyaccount_balance_bounded"),
        ]

    def __str__(self):
        return f"{self.customer} · {self.balance} points"


class LoyaltyMovement(AppendOnlyModel):
    """One change of a customer's points (append-only): earned on a sale, redeemed as a tender, given back or taken
    back by a refund, or adjusted by a manager with a reason. `balance_after` is the account's balance right after
    this movement (what the receipt prints). A reversal that found fewer points than it should take back records
    what it took in `points` and the rest in `shortfall`."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned on a sale")
        REDEEM = "redeem", _("Redeemed as a tender")
        REVERSE_EARN = "reverse_earn", _("Earned points taken back (refund)")
        RETURN_REDEEMED = "return_redeemed", _("Redeemed points given back (refund)")
        ADJUST = "adjust", _("Adjusted by a manager")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="loyalty_movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    points = models.BigIntegerField(help_text="Positive: added to the balance; negative: taken from it.")
    balance_after = models.BigIntegerField()
    shortfall = models.BigIntegerField(
        default=0, help_text="Points a refund should have taken back but the customer had already spent."
    )
    basis = money_field(help_text="Earned on a sale: the amount that earned the points.")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["customer", "id"], name="loyaltymovement_customer_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0) | Q(shortfall__gt=0), name="loyaltymovement_not_empty"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="loyaltymovement_balance_not_negative"),
            models.CheckConstraint(condition=Q(shortfall__gte=0), name="loyaltymovement_shortfall_not_negative"),
            models.CheckConstraint(
                condition=Q(points__gte=-MAX_POINTS, points__lte=MAX_POINTS), name="loyaltymovement_points_bounded"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["earn", "return_redeemed"], points__gt=0)
                | Q(kind__in=["redeem"], points__lt=0)
                | Q(kind="reverse_earn", points__lte=0)
                | Q(kind="adjust"),
                name="loyaltymovement_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjust") | ~Q(reason=""), name="loyaltymovement_adjust_has_reason"
            ),
            models.UniqueConstraint(fields=["order"], condition=Q(kind="earn"), name="loyaltymovement_one_earn"),
            models.UniqueConstraint(fields=["payment"], condition=Q(kind="redeem"), name="loyaltymovement_one_redeem"),
            models.UniqueConstraint(
                fields=["refund", "kind"], condition=Q(refund__isnull=False), name="loyaltymovement_one_per_refund"
            ),
        ]

    def __str__(self):
        return f"{self.customer_id} {self.kind} {self.points:+d}"
