"""People and what they may do: staff profiles (PIN, home locations), API clients, the audit trail.

These models moved here from `inventory`; they keep their tables (`db_table`), so no row moved.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.immutable import AppendOnlyModel


class StaffProfile(models.Model):
    """Where a member of staff works and their POS quick-switch PIN (stored hashed)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    locations = models.ManyToManyField("inventory.Location", blank=True, related_name="staff")
    pin_hash = models.CharField(max_length=128, blank=True)
    pin_failed_attempts = models.PositiveIntegerField(default=0)
    pin_locked_until = models.DateTimeField(null=True, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The language of the screens for this person. Empty: the terminal's, else the store's."),
    )

    class Meta:
        db_table = "inventory_staffprofile"  # the table it had before it moved to this app

    def __str__(self):
        return f"Staff profile of {self.user}"


class AuditEvent(AppendOnlyModel):
    """Who did what privileged thing: voids, discounts over the limit, refunds, price overrides, drawer opens,
    PIN lockouts, restores. Lives in the staff app, below every business app, so every app can write one
    (staff.audit.audit)."""

    action = models.CharField(max_length=48, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey("inventory.Location", null=True, blank=True, on_delete=models.PROTECT)
    object_type = models.CharField(max_length=48, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "inventory_auditevent"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type} {self.object_id}"


class ApiClient(models.Model):
    """A program calling the API (an online shop, a kiosk, an accounting export) with its own token.

    Only the token's prefix is kept in clear (to find the row); the whole token is stored as a SHA-256 hash and shown
    once, when it is issued. The client acts as its own service user (named after it in the ledger and audit) at
    its locations only, with what its scope allows: `read` reads, `sell` also sells and runs tills, `manage` also
    manages the catalogue and stock. staff/api_clients.py issues, checks and revokes tokens.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        SELL = "sell", _("Sell")
        MANAGE = "manage", _("Manage")

    name = models.CharField(max_length=80, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    locations = models.ManyToManyField("inventory.Location", related_name="api_clients")
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "inventory_apiclient"
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self):
        return self.name

    @property
    def key(self) -> str:
        """What a client's idempotency keys belong to (core.idempotency.scope_for): the client, not its token."""
        return f"api-client:{self.pk}"


class Terminal(models.Model):
    """A paired device (a till, a waiter's tablet, a kitchen screen): where it stands and what it drives.

    The device keeps a signed cookie naming the terminal and its `generation` (staff/terminals.py). Pairing the
    terminal to a device and revoking it both move the generation on, so an older cookie (a lost tablet, the device
    it was paired to before) stops working at its next request.
    """

    name = models.CharField(max_length=60)
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="terminals")
    register = models.ForeignKey(
        "billing.Register",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="terminals",
        help_text="The till this device takes payments on. Empty: a device that takes no payments.",
    )
    printer = models.ForeignKey(
        "billing.Printer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="terminals",
        help_text="Receipt printer. Empty: the register's printer.",
    )
    kitchen_stations = models.JSONField(
        default=list, blank=True, help_text="Kitchen display: the stations (slugs) shown. Empty: every station."
    )
    kitchen_sound = models.BooleanField(default=True, help_text="Kitchen display: a sound for a new ticket.")
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The screens' language on this device for staff without their own. Empty: the store's."),
    )
    generation = models.PositiveIntegerField(default=0, editable=False)
    paired_at = models.DateTimeField(null=True, blank=True, editable=False)
    paired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["location", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="terminal_unique_name")]

    def __str__(self):
        return f"{self.name} ({self.location})"

    @property
    def is_paired(self) -> bool:
        return self.paired_at is not None and self.revoked_at is None

    @property
    def register_name(self) -> str:
        return self.register.name if self.register is not None else ""


class PairingCode(models.Model):
    """A one-time code shown on an unpaired device, until a manager confirms it (naming the terminal) and the device
    collects its cookie. Only hashes are kept: of the code (what the manager types) and of the device's secret (a
    cookie that proves the device collecting the pairing is the one that showed the code)."""

    code_hash = models.CharField(max_length=64, unique=True)
    device_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    terminal = models.ForeignKey(Terminal, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    generation = models.PositiveIntegerField(null=True, blank=True)  # the terminal's, as the manager paired it

    def __str__(self):
        return f"Pairing code {self.pk}"
