"""Manager screens for people: staff profiles, user accounts (restricted for managers), API clients, the audit
trail."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from staff import api_clients, selectors, terminals
from staff.models import ApiClient, AuditEvent, StaffProfile, Terminal
from staff.selectors import location_model


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (the ledger, receipts, alerts, audit): visible, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- staff and audit ---------------------------------------------------------------------------------------------


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """A manager sees and edits the profiles of the accounts they manage (see UserAdmin below), at their own
    stores only; a superuser all of them."""

    list_display = ["user", "pin_set", "pin_failed_attempts", "pin_locked_until"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["locations"]
    fields = ["user", "locations", "language", "pin_failed_attempts", "pin_locked_until"]
    readonly_fields = ["pin_failed_attempts", "pin_locked_until"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user__in=selectors.manageable_users(request.user).values("pk"))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = selectors.manageable_users(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "locations" and not request.user.is_superuser:
            kwargs["queryset"] = selectors.own_stores(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(boolean=True, description="PIN set")
    def pin_set(self, profile):
        return bool(profile.pin_hash)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor", "approver", "location", "object_type", "object_id", "reason"]
    list_filter = ["action", "location"]
    search_fields = ["=object_id", "action", "actor__username"]
    list_select_related = ["actor", "approver", "location"]
    date_hierarchy = "created_at"
    show_full_result_count = False


# --- user accounts -----------------------------------------------------------------------------------------------


class StaffStoresField(forms.ModelMultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            queryset=location_model().objects.none(),
            widget=FilteredSelectMultiple("stores", is_stacked=False),
            help_text="The stores this person works at (yours only).",
            **kwargs,
        )


def language_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("language"),
        choices=[("", "—"), *settings.LANGUAGES],
        required=False,
        help_text=_("The language of the screens for this person. Empty: the terminal's, else the store's."),
    )


class StaffUserCreationForm(AdminUserCreationForm):
    locations = StaffStoresField(label="Stores")
    language = language_field()


class StaffUserChangeForm(UserChangeForm):
    locations = StaffStoresField(label="Stores")
    language = language_field()


class OwnUserChangeForm(UserChangeForm):
    """A manager's own account: name, e-mail, password and the language of their own screens."""

    language = language_field()


class UserAdmin(DjangoUserAdmin):
    """Superusers get Django's full user admin. A manager creates and edits staff accounts of their own stores only
    (staff.selectors.manageable_users): no superuser is listed, opened or given a new password (the admin
    answers as for a missing account), nor a peer manager, and the form offers neither superuser, staff nor
    permissions, only the roles at or below their own and their own stores. A manager's own account opens with its
    name, email and password only: never their own role, stores or active flag."""

    staff_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Role and stores", {"fields": ("is_active", "groups", "locations", "language")}),
    )
    own_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email", "language")}),
    )
    staff_add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2", "groups", "locations", "language"),
            },
        ),
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(Q(pk__in=selectors.manageable_users(request.user).values("pk")) | Q(pk=request.user.pk))

    @staticmethod
    def _is_own(request, obj) -> bool:
        return obj is not None and obj.pk == request.user.pk

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        if self._is_own(request, obj):
            return self.own_fieldsets
        return self.staff_fieldsets if obj is not None else self.staff_add_fieldsets

    def get_list_filter(self, request):
        return super().get_list_filter(request) if request.user.is_superuser else ("is_active", "groups")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if request.user.is_superuser:
            return super().get_form(request, obj, change=change, **kwargs)
        if self._is_own(request, obj):
            kwargs["form"] = OwnUserChangeForm
        else:
            kwargs["form"] = StaffUserChangeForm if obj is not None else StaffUserCreationForm
        base: Any = super().get_form(request, obj, change=change, **kwargs)  # a form class made at run time
        actor = request.user

        class Form(base):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, **form_kwargs)
                if "language" in self.fields and self.instance.pk and not self.is_bound:
                    self.initial["language"] = (
                        StaffProfile.objects.filter(user=self.instance).values_list("language", flat=True).first() or ""
                    )
                if "locations" not in self.fields:  # the manager's own account
                    return
                self.fields["locations"].queryset = selectors.own_stores(actor)
                self.fields["groups"].queryset = selectors.assignable_groups(actor)
                if self.instance.pk and not self.is_bound:
                    self.initial["locations"] = list(
                        location_model().objects.filter(staff__user=self.instance).values_list("pk", flat=True)
                    )

        return Form

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "locations" in form.cleaned_data:
            profile, _created = StaffProfile.objects.get_or_create(user=form.instance)
            profile.locations.set(form.cleaned_data["locations"])
        if "language" in form.cleaned_data:
            profile, _created = StaffProfile.objects.get_or_create(user=form.instance)
            if profile.language != form.cleaned_data["language"]:
                profile.language = form.cleaned_data["language"]
                profile.save(update_fields=["language"])


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, UserAdmin)


# --- API clients -------------------------------------------------------------------------------------------------


class ApiClientCreationForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name", "scope", "locations", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("Pick a time in the future.")
        return expires_at


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Issue a token (shown once, on the page after saving), narrow its locations or expiry, revoke it."""

    list_display = ["name", "scope", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "=prefix"]
    filter_horizontal = ["locations"]
    actions = ["revoke"]
    readonly_fields = ["name", "scope", "prefix", "user", "created_at", "created_by", "last_used_at", "revoked_at"]
    fields = ["name", "scope", "locations", "expires_at", *readonly_fields[2:]]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiClientCreationForm
            kwargs["fields"] = ApiClientCreationForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else ApiClientCreationForm.Meta.fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        client, token = api_clients.create_api_client(
            name=data["name"],
            scope=data["scope"],
            locations=list(data["locations"]),
            created_by=request.user,
            expires_at=data.get("expires_at"),
        )
        obj.pk, request.issued_api_token = client.pk, token

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request, obj, post_url_continue=None):
        # The token is shown on this one page and never again (only its hash is kept).
        context = {**self.admin_site.each_context(request), "client": obj, "token": request.issued_api_token}
        context.update(opts=self.opts, title="API token issued")
        return TemplateResponse(request, "admin/staff/apiclient/token_issued.html", context)

    @admin.action(description="Revoke the selected clients' tokens")
    def revoke(self, request, queryset):
        for client in queryset:
            api_clients.revoke_api_client(client, actor=request.user)
        self.message_user(request, f"Revoked {queryset.count()} client(s).", messages.SUCCESS)


# --- terminals ---------------------------------------------------------------------------------------------------


class TerminalForm(forms.ModelForm):
    class Meta:
        model = Terminal
        fields = ["name", "location", "language", "register", "printer", "kitchen_stations", "kitchen_sound"]

    def clean_kitchen_stations(self):
        stations = self.cleaned_data.get("kitchen_stations") or []
        if not isinstance(stations, list) or not all(
            isinstance(name, str) and name and len(name) <= 32 and name.replace("-", "").replace("_", "").isalnum()
            for name in stations
        ):
            raise forms.ValidationError('A list of station names, e.g. ["grill", "bar"]; [] for every station.')
        return stations

    def clean(self):
        data = super().clean() or {}
        register, location = data.get("register"), data.get("location")
        if register is not None and location is not None and register.location_id != location.pk:
            self.add_error("register", "This register stands at another store.")
        return data


@admin.register(Terminal)
class TerminalAdmin(admin.ModelAdmin):
    """The store's devices: what each one is (store, till, printer, kitchen stations), when it was paired and last
    seen. Pair a device on its own screen (or at Pair a device, with the code it shows); revoke a lost one here."""

    form = TerminalForm
    list_display = ["name", "location", "register", "status", "paired_at", "last_seen_at"]
    list_filter = ["location"]
    search_fields = ["name"]
    readonly_fields = ["paired_at", "paired_by", "revoked_at", "last_seen_at"]
    actions = ["revoke", "pair_this_browser"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(location__in=selectors.locations_for(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "location":
            kwargs["queryset"] = selectors.locations_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail names terminals

    @admin.display(description="Status")
    def status(self, terminal):
        if terminal.revoked_at:
            return "revoked"
        return "paired" if terminal.paired_at else "not paired"

    @admin.action(description="Revoke the selected terminals (their devices are refused at once)")
    def revoke(self, request, queryset):
        for terminal in queryset:
            terminals.revoke(terminal_id=terminal.pk, actor=request.user)
        self.message_user(request, f"Revoked {queryset.count()} terminal(s).", messages.SUCCESS)

    @admin.action(description="Pair this browser as the selected terminal")
    def pair_this_browser(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one terminal to pair this browser as.", messages.ERROR)
            return None
        terminal = terminals.pair(terminal_id=queryset.get().pk, actor=request.user, how="admin")
        self.message_user(request, f"This browser is now {terminal}.", messages.SUCCESS)
        response = HttpResponseRedirect(request.get_full_path())
        terminals.set_device_cookie(response, terminal)
        return response
