"""Orders in the admin: tables are plain editing; orders are written by orders.services and billing.services, so
the admin shows them and lets a manager correct only the note of an order that is still open."""

from django.contrib import admin

from orders.models import KitchenTicket, ModifierGroup, ModifierOption, Order, OrderLine, Table


@admin.register(Table)
class TableAdmin(admin.ModelAdmin):
    list_display = ["name", "location", "section", "seats", "sort_order", "active"]
    list_filter = ["location", "section", "active"]
    search_fields = ["name", "section"]
    list_editable = ["sort_order", "active"]


class ModifierOptionInline(admin.TabularInline):
    model = ModifierOption
    fields = ["name", "price_delta", "ingredient", "ingredient_quantity", "sort_order", "active"]
    autocomplete_fields = ["ingredient"]
    extra = 3


@admin.register(ModifierGroup)
class ModifierGroupAdmin(admin.ModelAdmin):
    """Groups with their options inline, attached to products and/or whole categories. Order lines keep a snapshot
    of what was chosen, so editing a group changes only what is sold from now on."""

    list_display = ["name", "min_choices", "max_choices", "option_count", "sort_order", "active"]
    list_filter = ["active", "categories"]
    search_fields = ["name", "options__name"]
    filter_horizontal = ["categories"]
    autocomplete_fields = ["products"]
    fields = ["name", ("min_choices", "max_choices"), "categories", "products", "sort_order", "active"]
    inlines = [ModifierOptionInline]

    @admin.display(description="Options")
    def option_count(self, group):
        return group.options.count()


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fk_name = "order"
    fields = [
        "name",
        "quantity",
        "unit_price",
        "modifiers",
        "discount_amount",
        "tax_amount",
        "amount_due",
        "status",
        "void_reason",
        "sent_at",
        "quantity_refunded",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["short_uuid", "location", "channel", "table", "status", "staff", "total", "opened_at", "paid_at"]
    list_filter = ["status", "channel", "location", "staff", "payments__tender", ("paid_at", admin.DateFieldListFilter)]
    search_fields = ["=receipts__number", "^uuid", "note"]
    date_hierarchy = "opened_at"
    list_select_related = ["location", "table", "staff"]
    inlines = [OrderLineInline]
    fields = [
        "uuid",
        "location",
        "channel",
        "table",
        "guest_count",
        "status",
        "staff",
        "note",
        ("discount_kind", "discount_value", "discount_reason", "discount_approved_by"),
        ("subtotal", "discount_total", "service_charge", "tax_total", "total"),
        ("paid_total", "refunded_total"),
        ("opened_at", "paid_at", "closed_at"),
        "merged_into",
    ]

    def get_readonly_fields(self, request, obj=None):
        editable = {"note"} if obj is not None and obj.is_editable else set()
        return [name for name in self._flat_fields() if name not in editable]

    def _flat_fields(self):
        for item in self.fields:
            yield from item if isinstance(item, tuple) else (item,)

    @admin.display(description="Order", ordering="uuid")
    def short_uuid(self, order):
        return str(order.uuid)[:8]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)


@admin.register(KitchenTicket)
class KitchenTicketAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "location", "station", "course", "status", "sent_by", "created_at"]
    list_filter = ["location", "station", "status"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
