"""Signals orders sends so that apps above it (billing) can act inside the same transaction without orders
importing them (dependencies point billing → orders → inventory)."""

from django.dispatch import Signal

# Sent inside send_to_kitchen's transaction with tickets=[KitchenTicket, ...], user=<User>.
# billing writes a kitchen PrintJob per ticket in that same transaction (DESIGN.md §3.7).
kitchen_tickets_sent = Signal()

# Sent inside attach_customer's / detach_customer's transaction when the order was already paid, with order=<Order>
# (its customer already changed), previous_customer=<id or None>, user=<User>. billing awards the sale's loyalty
# points to the customer attached, and refuses (by raising a DomainError, which rolls the change back) to move an
# order whose points already went to another customer.
customer_changed_after_payment = Signal()

# Sent inside merge_customers's transaction with source_id, into_id, user: billing moves the source's points.
customers_merged = Signal()
