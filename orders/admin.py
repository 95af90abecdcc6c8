"""Orders in the admin: tables are plain editing; orders are written by orders.services and billing.services, so
the admin shows them and lets a manager correct only the note of an order that is still open. Customers are
edited through orders.services.customers, and merged, exported and erased by managers (admin actions)."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.errors import DomainError
from core.inputs import normal_phone
from core.money import quantize
from orders import selectors, services
from orders.models import Customer, KitchenTicket, ModifierGroup, ModifierOption, Order, OrderLine, Table
from orders.services import customers


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
        "customer",
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


class CustomerForm(forms.ModelForm):
    """The admin's customer form, cleaned as every other way in cleans it (orders.services.customers): phone
    digits only, e-mail lower-cased, duplicates refused naming the customer who has the number."""

    class Meta:
        model = Customer
        fields = ["name", "phone", "email", "company", "tax_id", "card_code", "marketing_consent", "notes"]

    def clean(self):
        data = super().clean()
        typed = {field: data.get(field) for field in self.Meta.fields if field != "marketing_consent"}
        try:
            details = customers.clean_details(**typed)
            customers.duplicate_of(details, exclude_id=self.instance.pk)
        except DomainError as error:
            for field, errors in error.fields.items():
                if field in self.fields:
                    self.add_error(field, errors)
            if not error.fields:
                raise forms.ValidationError(error.message) from None
        return data


class ErasedListFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("merged", "Merged into another"), ("erased", "Erased")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(merged_into__isnull=True, erased_at__isnull=True)
        if self.value() == "merged":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "erased":
            return queryset.filter(erased_at__isnull=False)
        return queryset


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Customers: created and edited through orders.services.customers; merged, exported and erased by managers
    (actions). Never deleted: their sales must keep their customer, so personal data is erased instead."""

    form = CustomerForm
    list_display = ["name", "phone", "email", "company", "marketing_consent", "created_at"]
    list_filter = [ErasedListFilter, "marketing_consent", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["^name", "^phone", "^email", "=card_code", "^company", "=tax_id"]
    show_full_result_count = False
    actions = ["export_json", "erase", "merge"]
    readonly_fields = [
        "marketing_consent_at",
        "merged_into",
        "erased_at",
        "created_at",
        "updated_at",
        "lifetime",
        "purchases",
    ]
    fieldsets = [
        (None, {"fields": ["name", ("phone", "email"), ("company", "tax_id"), "card_code", "notes"]}),
        ("Consent", {"fields": [("marketing_consent", "marketing_consent_at")]}),
        ("History", {"fields": ["lifetime", "purchases", ("created_at", "updated_at"), "merged_into", "erased_at"]}),
    ]

    def get_search_results(self, request, queryset, search_term):
        """Phone numbers are found however they are typed ("07700 900-123")."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        phone = normal_phone(search_term)
        if phone and phone != search_term.strip():
            found = found | queryset.filter(phone__startswith=phone)
        return found, duplicates

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": CustomerForm.Meta.fields})]
        return super().get_fieldsets(request, obj)

    @admin.display(description="Lifetime")
    def lifetime(self, customer):
        summary = selectors.customer_summary(customer)
        if not summary.orders_count:
            return "No purchases yet."
        return format_html(
            "{} order(s), {} spent net of refunds, average ticket {}; first visit {}, last visit {}",
            summary.orders_count,
            summary.total_spent,
            summary.average_ticket,
            date_format(summary.first_visit, "DATETIME_FORMAT") if summary.first_visit else "—",
            date_format(summary.last_visit, "DATETIME_FORMAT") if summary.last_visit else "—",
        )

    @admin.display(description="Latest purchases")
    def purchases(self, customer):
        orders = selectors.purchase_history(customer, limit=20)
        if not orders:
            return "—"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:orders_order_change", args=[order.pk]),
                    str(order.uuid)[:8],
                    order.location.name,
                    date_format(order.paid_at, "DATETIME_FORMAT") if order.paid_at else "—",
                    quantize(order.total),
                    quantize(order.refunded_total),
                )
                for order in orders
            ),
        )
        head = "<tr><th>Order</th><th>Store</th><th>Paid</th><th>Total</th><th>Refunded</th></tr>"
        return format_html("<table>{}{}</table>", mark_safe(head), rows)  # noqa: S308 - a constant

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_live)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        typed = {field: form.cleaned_data.get(field) for field in CustomerForm.Meta.fields}
        consent = typed.pop("marketing_consent")
        if change:
            saved = services.update_customer(obj.pk, user=request.user, marketing_consent=consent, **typed)
        else:
            saved = services.create_customer(user=request.user, marketing_consent=consent, **typed)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name, perm in (("export_json", "export"), ("erase", "erase"), ("merge", "merge")):
            if not request.user.has_perm(f"orders.{perm}_customer"):
                actions.pop(name, None)
        return actions

    @admin.action(description="Export the selected customer's data as JSON (one customer)")
    def export_json(self, request, queryset):
        chosen = list(queryset.values_list("pk", flat=True)[:2])
        if len(chosen) != 1:
            self.message_user(request, "Choose exactly one customer to export.", messages.ERROR)
            return None
        try:
            data = services.export_customer(chosen[0], user=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        response = JsonResponse(data, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="customer-{chosen[0]}.json"'
        return response

    @admin.action(description="Erase the selected customers' personal data (irreversible)…")
    def erase(self, request, queryset):
        chosen = list(queryset.order_by("pk"))
        if "apply" in request.POST:
            if request.POST.get("confirm", "").strip().lower() != "erase":
                self.message_user(request, "Nothing was erased: type “erase” to confirm.", messages.ERROR)
            else:
                try:
                    with transaction.atomic():
                        for customer in chosen:
                            services.erase_customer(customer.pk, user=request.user)
                except DomainError as error:
                    self.message_user(request, f"Nothing was erased: {error.message}", messages.ERROR)
                else:
                    self.message_user(request, f"{len(chosen)} customer(s) erased.", messages.SUCCESS)
                    return None
        return self._confirm(request, "erase", "Erase customers", chosen)

    @admin.action(description="Merge the two selected customers…")
    def merge(self, request, queryset):
        chosen = list(queryset.order_by("pk")[:3])
        if len(chosen) != 2:
            self.message_user(request, "Choose exactly two customers to merge.", messages.ERROR)
            return None
        if "apply" in request.POST:
            survivor = next((c for c in chosen if str(c.pk) == request.POST.get("survivor")), None)
            if survivor is None:
                self.message_user(request, "Choose the customer to keep.", messages.ERROR)
            else:
                source = next(c for c in chosen if c.pk != survivor.pk)
                try:
                    services.merge_customers(source_id=source.pk, into_id=survivor.pk, user=request.user)
                except DomainError as error:
                    self.message_user(request, f"Nothing was merged: {error.message}", messages.ERROR)
                else:
                    self.message_user(request, f"{source.name} was merged into {survivor.name}.", messages.SUCCESS)
                    return None
        return self._confirm(request, "merge", "Merge customers", chosen)

    def _confirm(self, request, action: str, title: str, customers_chosen):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "action": action,
            "customers": customers_chosen,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/orders/customer/confirm.html", context)
