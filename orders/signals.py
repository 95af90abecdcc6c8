"""Signals orders sends so that apps above it (billing) can act inside the same transaction without orders
importing them (dependencies point billing → orders → inventory)."""

from django.dispatch import Signal

# Sent inside send_to_kitchen's transaction with tickets=[KitchenTicket, ...], user=<User>.
# billing writes a kitchen PrintJob per ticket in that same transaction (DESIGN.md §3.7).
kitchen_tickets_sent = Signal()
