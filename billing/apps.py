from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from billing import printing
        from orders.signals import kitchen_tickets_sent

        kitchen_tickets_sent.connect(printing.on_kitchen_tickets_sent, dispatch_uid="billing.print_kitchen_tickets")
