from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor every app stands on: errors, money, inputs, idempotency, SQL helpers. No business rules."""

    name = "core"
    verbose_name = "Core"
