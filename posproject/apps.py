from django.contrib.admin.apps import AdminConfig


class TillhouseAdminConfig(AdminConfig):
    """django.contrib.admin with the managers-only site (the login-lockout admin is wired by staff.apps)."""

    default_site = "staff.admin_site.TillhouseAdminSite"  # managers only: a staff rule
