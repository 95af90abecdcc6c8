from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from billing import accounting, giftcards, loyalty, printing, receipt_mail, sessions
from billing.models import (
    MAX_POINTS,
    CashMovement,
    CashSession,
    DailyRollup,
    GiftCard,
    GiftCardMovement,
    LoyaltyAccount,
    LoyaltyMovement,
    Payment,
    Printer,
    PrintJob,
    Receipt,
    ReceiptEmail,
    Refund,
    RefundLine,
    Register,
    StationPrinter,
    ZReport,
)
from core.errors import DomainError
from staff.admin import ReadOnlyAdmin


@admin.register(Register)
class RegisterAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "printer", "active", "last_receipt_number", "last_z_number", "grand_total"]
    list_filter = ["location", "active"]
    readonly_fields = ["last_receipt_number", "last_z_number", "grand_total"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CashSession)
class CashSessionAdmin(ReadOnlyAdmin):
    list_display = ["id", "register", "status", "opened_by", "opened_at", "closed_at", "over_short", "approved_by"]
    list_filter = ["status", "register__location", "register"]
    date_hierarchy = "opened_at"


@admin.register(CashMovement)
class CashMovementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "session", "kind", "amount", "reason", "user"]
    list_filter = ["kind", "session__register__location"]
    date_hierarchy = "created_at"


@admin.register(ZReport)
class ZReportAdmin(ReadOnlyAdmin):
    list_display = ["number", "register", "created_at", "gross_sales", "net_sales", "tax_total", "grand_total", "page"]
    list_filter = ["register__location", "register"]
    date_hierarchy = "created_at"
    actions = ["reprint", "accounting_export"]

    @admin.display(description="Report")
    def page(self, z):
        return format_html('<a href="{}">Open</a>', reverse("reports:z-report", args=[z.pk]))

    @admin.action(description="Reprint on the register's printer (marked COPY)")
    def reprint(self, request, queryset):
        for z in queryset:
            try:
                sessions.reprint_z_report(z_report_id=z.pk, user=request.user)
            except DomainError as error:
                self.message_user(request, f"Z{z.number}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"Z{z.number} · {z.register}: copy queued.", messages.SUCCESS)

    @admin.action(description="Download the accounting export (CSV) of these Z reports' stores and days")
    def accounting_export(self, request, queryset):
        """One CSV with the end-of-day export of every store and local day a selected Z was closed on."""
        days = sorted(
            {
                (z.register.location, timezone.localdate(z.session.closed_at))
                for z in queryset.select_related("register__location", "session")
                if z.session.closed_at
            },
            key=lambda pair: (pair[0].code, pair[1]),
        )
        parts = [accounting.as_csv(accounting.day_export(location, day)) for location, day in days]
        body = parts[0] + "".join(part.split("\n", 1)[1] for part in parts[1:]) if parts else ""
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="accounting-export.csv"'
        return response


@admin.register(DailyRollup)
class DailyRollupAdmin(ReadOnlyAdmin):
    """The daily rollups, for looking only: `manage.py rebuild_rollups` rebuilds and checks them."""

    list_display = ["day", "location", "dimension", "key", "orders", "count", "sales", "tax", "refunds", "payments"]
    list_filter = ["dimension", "location"]
    date_hierarchy = "day"


# --- Sales: payments, receipts, refunds (append-only rows, written by billing.services) -------------------------


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "order", "tender", "amount", "tendered", "change", "tip", "guest", "created_by"]
    list_filter = ["tender", "order__location", "session__register", "created_by"]
    search_fields = ["=order__receipts__number", "reference", "order__uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["order", "created_by"]


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ["number", "register", "kind", "order", "issued_at"]
    list_filter = ["kind", "register__location", "register", "order__staff", "order__payments__tender"]
    search_fields = ["=number", "order__uuid"]
    date_hierarchy = "issued_at"
    list_select_related = ["register__location", "order"]


class RefundLineInline(admin.TabularInline):
    model = RefundLine
    fields = ["order_line", "quantity", "amount", "tax_amount", "restock"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "order", "tender", "amount", "reason", "created_by", "approved_by"]
    list_filter = ["tender", "order__location", "created_by", "approved_by"]
    search_fields = ["=receipt__number", "=order__receipts__number", "order__uuid", "reason"]
    date_hierarchy = "created_at"
    inlines = [RefundLineInline]
    list_select_related = ["order", "created_by", "approved_by"]


# --- Printers and the print outbox (billing.printing) ----------------------------------------------------------


@admin.register(Printer)
class PrinterAdmin(admin.ModelAdmin):
    list_display = ["name", "connection", "host", "port", "device_path", "paper_width_mm", "columns", "active"]
    list_filter = ["connection", "paper_width_mm", "active", "has_cash_drawer"]
    search_fields = ["name", "host"]
    actions = ["print_test_page"]

    @admin.action(description="Print a test page")
    def print_test_page(self, request, queryset):
        for printer in queryset:
            printing.queue_test_page(printer, user=request.user)
        self.message_user(request, f"Test page queued for {queryset.count()} printer(s).", messages.SUCCESS)


@admin.register(StationPrinter)
class StationPrinterAdmin(admin.ModelAdmin):
    list_display = ["location", "station", "printer"]
    list_filter = ["location"]
    list_select_related = ["location", "printer"]


@admin.register(PrintJob)
class PrintJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "printer", "location", "status", "is_copy", "attempts", "resolved_at"]
    list_filter = ["status", "kind", "is_copy", "printer", "location"]
    search_fields = ["=id", "=receipt__number", "last_error"]
    date_hierarchy = "created_at"
    list_select_related = ["printer", "location"]
    actions = ["retry", "reprint", "dismiss"]

    def _each(self, request, queryset, action, done: str):
        for job in queryset:
            try:
                action(job)
            except DomainError as error:
                self.message_user(request, f"Job {job.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"Job {job.pk}: {done}", messages.SUCCESS)

    @admin.action(description="Retry failed jobs (nothing of them printed)")
    def retry(self, request, queryset):
        self._each(request, queryset, lambda job: printing.retry_job(job.pk, request.user), "queued again.")

    @admin.action(description="Reprint as COPY")
    def reprint(self, request, queryset):
        self._each(request, queryset, lambda job: printing.reprint(job_id=job.pk, user=request.user), "copy queued.")

    @admin.action(description="Dismiss (checked: printed, or not needed)")
    def dismiss(self, request, queryset):
        self._each(request, queryset, lambda job: printing.dismiss_job(job.pk, request.user), "dismissed.")


# --- gift cards --------------------------------------------------------------------------------------------------


class GiftCardMovementInline(admin.TabularInline):
    """The card's ledger: append-only, never edited here (corrections are adjustments)."""

    model = GiftCardMovement
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "kind",
        "amount",
        "balance_after",
        "location",
        "order",
        "payment",
        "refund",
        "user",
        "reason",
    ]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class GiftCardAdjustForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=12, decimal_places=4, help_text="Signed: positive adds to the balance, negative takes away."
    )
    reason = forms.CharField(max_length=200)


@admin.register(GiftCard)
class GiftCardAdmin(ReadOnlyAdmin):
    """Cards and store credit with their ledgers. Balances change only through services: a sale, a refund, the
    expiry task, or "Adjust balance" here (a manager, with a reason, audited)."""

    list_display = ["masked", "kind", "balance", "initial_value", "customer", "issued_at", "created_at", "expires_at"]
    list_filter = ["kind", "issued_at"]
    search_fields = ["=code"]
    date_hierarchy = "created_at"
    fields = [
        "masked",
        "kind",
        "balance",
        "initial_value",
        "customer",
        "issued_at",
        "order",
        "created_by",
        "created_at",
        "expires_at",
        "expired_at",
        "adjust_link",
    ]
    readonly_fields = fields
    inlines = [GiftCardMovementInline]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_giftcard")

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, giftcards.normalize_code(search_term))

    @admin.display(description="Card")
    def masked(self, card):
        return card.masked_code

    @admin.display(description="Adjust")
    def adjust_link(self, card):
        if card.pk is None:
            return ""
        return format_html('<a href="{}">Adjust balance…</a>', reverse("admin:billing_giftcard_adjust", args=[card.pk]))

    def get_urls(self):
        return [
            path(
                "<int:card_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="billing_giftcard_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request, card_id: int):
        card = GiftCard.objects.filter(pk=card_id).first()
        if card is None or not request.user.has_perm("billing.change_giftcard"):
            raise PermissionDenied
        form = GiftCardAdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                giftcards.adjust_card(
                    card_id=card.pk,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, f"{card}: balance adjusted.", messages.SUCCESS)
                return redirect(reverse("admin:billing_giftcard_change", args=[card.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust {card}",
            "card": card,
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/billing/giftcard_adjust.html", context)


@admin.register(GiftCardMovement)
class GiftCardMovementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "card", "kind", "amount", "balance_after", "location", "user", "reason"]
    list_filter = ["kind", "location"]
    date_hierarchy = "created_at"


@admin.register(ReceiptEmail)
class ReceiptEmailAdmin(ReadOnlyAdmin):
    """Receipt e-mails and what became of them; failed ones can be sent again (billing.receipt_mail)."""

    list_display = ["id", "created_at", "receipt", "to_address", "location", "status", "attempts", "last_error"]
    list_filter = ["status", "location"]
    search_fields = ["=id", "=receipt__number", "to_address", "last_error"]
    date_hierarchy = "created_at"
    list_select_related = ["receipt", "location"]
    actions = ["resend", "dismiss"]

    def _each(self, request, queryset, action, done: str):
        for email in queryset:
            try:
                action(email.pk, request.user)
            except DomainError as error:
                self.message_user(request, f"E-mail {email.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"E-mail {email.pk}: {done}", messages.SUCCESS)

    @admin.action(description="Send failed e-mails again")
    def resend(self, request, queryset):
        self._each(request, queryset, receipt_mail.resend_receipt_email, "queued again.")

    @admin.action(description="Dismiss failed e-mails (not to be sent)")
    def dismiss(self, request, queryset):
        self._each(request, queryset, receipt_mail.dismiss_receipt_email, "dismissed.")


# --- Loyalty points (billing.loyalty): the ledger is read-only; a manager adjusts through the service -------------


class PointsAdjustForm(forms.Form):
    customer = forms.IntegerField(min_value=1, help_text="The customer's id.")
    points = forms.IntegerField(
        min_value=-MAX_POINTS, max_value=MAX_POINTS, help_text="Positive adds points, negative takes them off."
    )
    reason = forms.CharField(max_length=200)


class ShortfallFilter(admin.SimpleListFilter):
    title = "refund shortfall"
    parameter_name = "shortfall"

    def lookups(self, request, model_admin):
        return [("yes", "Points already spent when a refund took them back")]

    def queryset(self, request, queryset):
        return queryset.filter(shortfall__gt=0) if self.value() == "yes" else queryset


@admin.register(LoyaltyMovement)
class LoyaltyMovementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "customer", "kind", "points", "balance_after", "shortfall", "order", "reason", "user"]
    list_filter = ["kind", ShortfallFilter, "location"]
    search_fields = ["=customer__id", "customer__phone", "customer__email", "order__uuid", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["customer", "order", "user"]
    raw_id_fields = ["customer", "order", "payment", "refund"]

    def get_urls(self):
        adjust = path("adjust/", self.admin_site.admin_view(self.adjust_view), name="billing_loyalty_adjust")
        return [adjust, *super().get_urls()]

    def adjust_view(self, request):
        """A manager adds or takes off points with a reason (billing.loyalty.adjust_points, audited)."""
        if not request.user.has_perm("billing.add_loyaltymovement"):
            raise PermissionDenied
        form = PointsAdjustForm(request.POST or None, initial={"customer": request.GET.get("customer")})
        if request.method == "POST" and form.is_valid():
            try:
                movement = loyalty.adjust_points(
                    customer_id=form.cleaned_data["customer"],
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                )
            except DomainError as error:
                field = next(iter(error.fields), None)
                form.add_error(field if field in form.fields else None, error.message)
            else:
                self.message_user(request, f"{movement.points:+d} points; the balance is now {movement.balance_after}.")
                return redirect(reverse("admin:billing_loyaltymovement_changelist") + f"?q={movement.customer_id}")
        context = {**self.admin_site.each_context(request), "form": form, "title": "Adjust loyalty points"}
        return TemplateResponse(request, "admin/billing/loyalty_adjust.html", context)


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(ReadOnlyAdmin):
    list_display = ["customer", "balance", "updated_at", "adjust"]
    search_fields = ["=customer__id", "customer__name", "customer__phone", "customer__email"]
    list_select_related = ["customer"]

    @admin.display(description="")
    def adjust(self, account):
        url = reverse("admin:billing_loyalty_adjust") + f"?customer={account.pk}"
        return format_html('<a href="{}">Adjust points</a>', url)
