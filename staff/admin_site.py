"""The admin site: managers only, with optional TOTP two-factor (ADMIN_OTP_REQUIRED).

`posproject.apps.TillhouseAdminConfig` makes this (by name) the default site, so every app's `admin.site.register(...)`
lands here. Cashiers, waiters and kitchen staff work on the POS screens and never see the admin, whatever
`is_staff` says; a superuser counts as a manager.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django_otp.forms import OTPAuthenticationFormMixin

from staff.roles import is_manager


class ManagerAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "Enter the username and password of a manager account. Both fields may be case-sensitive.",
    }

    def confirm_login_allowed(self, user):
        if not (user.is_active and is_manager(user)):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": get_user_model()._meta.get_field("username").verbose_name},
            )


class ManagerOTPAuthenticationForm(ManagerAuthenticationForm, OTPAuthenticationFormMixin):
    """The manager login plus a one-time token from a registered TOTP device."""

    otp_device = forms.CharField(required=False, widget=forms.Select)
    otp_token = forms.CharField(required=False, label="One-time code")
    otp_challenge = forms.CharField(required=False)

    def clean(self):
        self.cleaned_data = super().clean()
        self.clean_otp(self.get_user())
        return self.cleaned_data


def otp_required() -> bool:
    return getattr(settings, "ADMIN_OTP_REQUIRED", False)


class TillhouseAdminSite(admin.AdminSite):
    site_header = "Tillhouse administration"
    site_title = "Tillhouse"
    index_title = "Back office"

    def has_permission(self, request):
        user = request.user
        if not (user.is_active and is_manager(user)):
            return False
        return not otp_required() or user.is_verified()

    # chosen per request from the OTP setting, so a read-only property where AdminSite has a plain attribute
    @property
    def login_form(self):  # type: ignore[override]
        return ManagerOTPAuthenticationForm if otp_required() else ManagerAuthenticationForm

    @property
    def login_template(self):  # type: ignore[override]
        return "otp/admin111/login.html" if otp_required() else None
