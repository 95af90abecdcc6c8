from django.apps import AppConfig


class StaffConfig(AppConfig):
    """People and what they may do: profiles, roles, PINs, API clients, audit."""

    name = "staff"
    verbose_name = "Staff"

    def ready(self):
        # Listed after django.contrib.admin and axes in INSTALLED_APPS, so the admin has been autodiscovered.
        from staff import languages, roles, security  # noqa: F401 - languages connects its cache's signals

        roles.connect_signals()
        security.register_lockout_admin()
        security.connect_signals()
