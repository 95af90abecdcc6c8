"""Manager screens for the catalogue and stock. Plain editing for reference data; anything that moves stock or
money goes through inventory.services (adjust with a reason, receive a purchase order, start and post a count)."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.csv_export import csv_response
from core.errors import DomainError
from core.money import quantize
from inventory import selectors, services
from inventory.models import (
    CatalogueImport,
    Category,
    Location,
    LowStockAlert,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    RecipeLine,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMove,
    Supplier,
    TaxRate,
)
from staff.admin import ReadOnlyAdmin


def _apply_to_each(request, modeladmin, queryset, service, verb: str) -> None:
    """Call `service` on each selected object in primary-key order; say how many went through and why the others
    did not (a domain error stops only its own object)."""
    done, errors = 0, []
    for obj in queryset.order_by("pk"):
        try:
            service(obj)
            done += 1
        except DomainError as error:
            errors.append(f"{obj}: {error.message}")
    if done:
        modeladmin.message_user(request, f"{done} {verb}.", messages.SUCCESS)
    for error in errors:
        modeladmin.message_user(request, error, messages.ERROR)


# --- catalogue ---------------------------------------------------------------------------------------------------


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "prices_include_tax", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "code", "legal_name", "tax_id"]
    actions = ["start_count"]
    fieldsets = [
        (None, {"fields": ["name", "code", "kind", "language", "active"]}),
        ("Business identity (printed on receipts)", {"fields": ["legal_name", "address", "tax_id"]}),
        (
            "Pricing",
            {"fields": ["prices_include_tax", "service_charge_percent", "service_charge_base", "cash_rounding"]},
        ),
        ("Receipt text", {"fields": ["receipt_header", "receipt_footer"]}),
        (
            "Money controls (above these a manager approves)",
            {"fields": ["max_tip", "max_change", "max_pay_in", "max_pay_out"]},
        ),
        (
            "Loyalty points",
            {"fields": ["loyalty_points_per_unit", "loyalty_point_value", "loyalty_min_redeem"]},
        ),
    ]

    @admin.action(description="Start a stock count at the selected locations")
    def start_count(self, request, queryset):
        _apply_to_each(
            request,
            self,
            queryset,
            lambda location: services.start_stock_count(location=location, user=request.user),
            "count(s) started; enter the counted quantities under Stock counts",
        )


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "station", "sort_order"]
    list_filter = ["location", "station"]
    search_fields = ["name"]


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["name", "percent"]
    search_fields = ["name"]


class RecipeLineInline(admin.TabularInline):
    model = RecipeLine
    fk_name = "menu_item"
    extra = 0
    autocomplete_fields = ["ingredient"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "barcode", "kind", "category", "price", "cost", "stock_policy", "tracked", "active"]
    list_filter = ["kind", "stock_policy", "tracked", "active", "category"]
    # Prefix and exact matches use the search indexes; a bare term would scan 100,000 rows.
    search_fields = ["^name", "^sku", "=barcode"]
    list_select_related = ["category"]
    show_full_result_count = False
    readonly_fields = ["cost", "created_at", "updated_at"]
    inlines = [RecipeLineInline]

    def get_readonly_fields(self, request, obj=None):
        # The opening cost is typed in once; after that purchase receipts keep it as a moving average.
        fields = super().get_readonly_fields(request, obj)
        return [f for f in fields if f != "cost"] if obj is None else fields

    fieldsets = [
        (None, {"fields": ["name", "sku", "barcode", "kind", "category", "unit", "quantity_places", "active"]}),
        ("Price", {"fields": ["price", "tax_rate", "cost"]}),
        ("Stock", {"fields": ["tracked", "stock_policy", "reorder_point"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]


# --- stock -------------------------------------------------------------------------------------------------------


class AdjustForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Why the stock changes (kept on each ledger move).")


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "low"

    def lookups(self, request, model_admin):
        return [("yes", "At or below reorder point")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=selectors.low_stock().values("pk"))
        return queryset


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["product", "location", "on_hand", "reorder_point", "updated_at"]
    list_filter = ["location", LowStockFilter, "product__category"]
    search_fields = ["^product__name", "^product__sku", "=product__barcode"]
    list_select_related = ["product", "location"]
    show_full_result_count = False
    actions = ["adjust", "export_on_hand", "export_valuation"]

    @admin.display(description="Reorder point")
    def reorder_point(self, level):
        return level.product.reorder_point

    @admin.action(description="Adjust stock of the selected rows (with a reason)…")
    def adjust(self, request, queryset):
        levels = list(queryset.select_related("product", "location").order_by("location__name", "product__name"))
        form = AdjustForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            deltas = {level.pk: (request.POST.get(f"delta-{level.pk}") or "").strip() for level in levels}
            try:
                with transaction.atomic():
                    changed = 0
                    for level in levels:
                        if deltas[level.pk]:
                            services.adjust_stock(
                                product=level.product,
                                location=level.location,
                                delta=deltas[level.pk],
                                reason=form.cleaned_data["reason"],
                                user=request.user,
                            )
                            changed += 1
            except DomainError as error:
                self.message_user(request, f"Nothing was changed: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{changed} stock level(s) adjusted.", messages.SUCCESS)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust stock",
            "opts": self.model._meta,
            "levels": levels,
            "form": form,
            "deltas": {key[6:]: value for key, value in request.POST.items() if key.startswith("delta-")},
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/inventory/stocklevel/adjust.html", context)

    @admin.action(description="Export stock on hand of the selected rows as CSV")
    def export_on_hand(self, request, queryset):
        levels = queryset.select_related("product", "location").order_by("location__name", "product__name")
        rows = (
            (lv.location.code, lv.product.sku, lv.product.barcode or "", lv.product.name, lv.on_hand, lv.product.unit)
            for lv in levels.iterator()
        )
        header = ["location", "sku", "barcode", "name", "on_hand", "unit"]
        return csv_response(f"stock-on-hand-{timezone.localdate()}.csv", header, rows)

    @admin.action(description="Export stock valuation at cost of the selected rows as CSV")
    def export_valuation(self, request, queryset):
        levels = selectors.stock_value_lines().filter(pk__in=queryset.values("pk"))
        rows = (
            (lv.location.code, lv.product.sku, lv.product.name, lv.on_hand, lv.product.cost, quantize(lv.value))
            for lv in levels.iterator()
        )
        header = ["location", "sku", "name", "on_hand", "unit_cost", "value"]
        return csv_response(f"stock-valuation-{timezone.localdate()}.csv", header, rows)


@admin.register(StockMove)
class StockMoveAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "product", "location", "delta", "reason", "reference", "note", "user"]
    list_filter = ["reason", "location"]
    search_fields = ["^product__name", "^product__sku", "=reference"]
    list_select_related = ["product", "location", "user"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(LowStockAlert)
class LowStockAlertAdmin(ReadOnlyAdmin):
    list_display = ["day", "location", "product", "on_hand", "reorder_point"]
    list_filter = ["day", "location"]
    search_fields = ["^product__name", "^product__sku"]
    list_select_related = ["product", "location"]
    date_hierarchy = "day"


@admin.register(CatalogueImport)
class CatalogueImportAdmin(ReadOnlyAdmin):
    """Catalogue files uploaded on the catalogue page: a record of who loaded what; the page itself runs them."""

    list_display = ["created_at", "filename", "status", "created_by", "finished_at", "page"]
    list_filter = ["status"]
    list_select_related = ["created_by"]
    exclude = ["content"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")

    @admin.display(description="Result")
    def page(self, obj):
        return format_html('<a href="{}">open</a>', reverse("inventory:catalogue-run", args=[obj.pk]))


# --- purchasing --------------------------------------------------------------------------------------------------


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "phone", "active"]
    list_filter = ["active"]
    search_fields = ["name", "email"]


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 1
    autocomplete_fields = ["product"]
    readonly_fields = ["quantity_received"]

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.status in (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.ORDERED)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


class PurchaseReceiptInline(admin.TabularInline):
    model = PurchaseReceipt
    extra = 0
    fields = ["received_at", "delivery_note", "received_by", "lines"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "supplier", "location", "status", "reference", "created_at", "expected_at"]
    list_filter = ["status", "location", "supplier"]
    search_fields = ["=id", "reference", "supplier__name"]
    readonly_fields = ["status", "created_by", "created_at"]
    inlines = [PurchaseOrderLineInline, PurchaseReceiptInline]
    actions = ["receive_outstanding", "cancel"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Receive everything outstanding on the selected orders")
    def receive_outstanding(self, request, queryset):
        _apply_to_each(
            request,
            self,
            queryset,
            lambda order: services.receive_purchase_order(purchase_order=order, user=request.user),
            "order(s) received",
        )

    @admin.action(description="Cancel the selected orders")
    def cancel(self, request, queryset):
        _apply_to_each(
            request,
            self,
            queryset,
            lambda order: services.cancel_purchase_order(purchase_order=order, user=request.user),
            "order(s) cancelled",
        )


@admin.register(PurchaseReceipt)
class PurchaseReceiptAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "purchase_order", "delivery_note", "received_by", "received_at"]
    search_fields = ["=purchase_order__id", "delivery_note"]


# --- counts ------------------------------------------------------------------------------------------------------


class StockCountLineInline(admin.TabularInline):
    model = StockCountLine
    extra = 0
    can_delete = False
    fields = ["product", "expected", "counted", "variance"]
    readonly_fields = ["product", "expected", "variance"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is not None and obj.status == StockCount.Status.OPEN


@admin.register(StockCount)
class StockCountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "location", "status", "started_by", "started_at", "posted_by", "posted_at"]
    list_filter = ["status", "location"]
    readonly_fields = ["location", "status", "started_by", "started_at", "posted_by", "posted_at"]
    fields = ["location", "status", "note", "started_by", "started_at", "posted_by", "posted_at"]
    inlines = [StockCountLineInline]
    actions = ["post", "cancel"]

    def has_add_permission(self, request):
        return False  # counts start from Locations → "Start a stock count", which snapshots the expected stock

    def save_formset(self, request, form, formset, change):
        """Counted quantities go through the service (validated, refused once the count is posted)."""
        counted, changed = {}, []
        for line_form in formset.forms:
            if line_form.has_changed() and line_form.cleaned_data.get("counted") is not None:
                counted[line_form.instance.product_id] = line_form.cleaned_data["counted"]
                changed.append((line_form.instance, ["counted"]))
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], changed, []
        if counted:
            services.record_counted_quantities(stock_count=form.instance, counted=counted, user=request.user)

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except DomainError as error:
            self.message_user(request, f"Nothing was saved: {error.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Post the selected counts (writes the variance to stock)")
    def post(self, request, queryset):
        _apply_to_each(
            request,
            self,
            queryset,
            lambda count: services.post_stock_count(stock_count=count, user=request.user),
            "count(s) posted",
        )

    @admin.action(description="Cancel the selected counts")
    def cancel(self, request, queryset):
        _apply_to_each(
            request,
            self,
            queryset,
            lambda count: services.cancel_stock_count(stock_count=count, user=request.user),
            "count(s) cancelled",
        )
