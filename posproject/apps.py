from django.contrib.admin.apps import AdminConfig


class TillhouseAdminConfig(AdminConfig):
    """django.contrib.admin with the managers-only site; also wires the login-lockout admin and audit."""

    default_site = "posproject.admin_site.TillhouseAdminSite"

    def ready(self):
        super().ready()
        from posproject import security

        security.register_lockout_admin()
        security.connect_signals()
