from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from billing import loyalty, printing
        from orders.signals import customer_changed_after_payment, customers_merged, kitchen_tickets_sent

        kitchen_tickets_sent.connect(printing.on_kitchen_tickets_sent, dispatch_uid="billing.print_kitchen_tickets")
        customer_changed_after_payment.connect(
            loyalty.on_customer_changed_after_payment, dispatch_uid="billing.loyalty_customer_changed"
        )
        customers_merged.connect(loyalty.on_customers_merged, dispatch_uid="billing.loyalty_customers_merged")
