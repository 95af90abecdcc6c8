"""Every write to an order: open, add and change lines, hold and resume, void, discount, move, merge, split and send
to the kitchen. Screens, the API, the admin, tasks and billing all call these, through this package's names.

Each service locks the order row (``select_for_update``) in its own transaction, checks the acting user may work
at the order's location, refuses to touch an order that is no longer open or held, and re-prices the order with
``orders.pricing`` before it returns. Privileged acts (voids, discounts over the role's limit, price overrides)
need a manager as approver and leave an ``AuditEvent``.

By concern: ``orders`` (open, draft, hold, resume), ``lines`` (build, add, change, override a price; adding
merges into an identical unsent line when asked), ``modifiers`` (the groups a product offers, checking and
snapshotting the chosen options, what a sale takes out of stock), ``voids``,
``discounts``, ``tables`` (move, merge, split), ``kitchen`` (send), ``customers`` (create, edit, consent,
attach to an order, merge, export, erase); beside them ``access`` (locking an order or a
line), ``totals`` (re-pricing in memory, writing back what changed) and ``validation`` (discount checks,
bounds). The plain input cleaners are ``core.inputs``'; the database-specific reads are ``orders.queries``.
"""

from orders.services.access import lock_order
from orders.services.customers import (
    attach_customer,
    create_customer,
    detach_customer,
    erase_customer,
    export_customer,
    merge_customers,
    set_marketing_consent,
    update_customer,
)
from orders.services.discounts import DEFAULT_DISCOUNT_LIMITS, apply_discount, discount_limit
from orders.services.kitchen import send_to_kitchen
from orders.services.lines import (
    SELLABLE_KINDS,
    ChoicesWanted,
    NewLine,
    add_lines,
    build_lines,
    change_line,
    override_price,
)
from orders.services.modifiers import groups_for, option_ids, stock_items
from orders.services.orders import OrderDraft, draft_order, hold_order, open_order, resume_order, save_draft
from orders.services.tables import merge_orders, move_order, split_order
from orders.services.totals import modifiers_price, reprice
from orders.services.validation import MAX_GUESTS, MAX_LINES, MAX_MODIFIERS, clean_discount
from orders.services.voids import void_line, void_order

__all__ = [
    "DEFAULT_DISCOUNT_LIMITS",
    "MAX_GUESTS",
    "MAX_LINES",
    "MAX_MODIFIERS",
    "SELLABLE_KINDS",
    "ChoicesWanted",
    "NewLine",
    "OrderDraft",
    "add_lines",
    "apply_discount",
    "attach_customer",
    "build_lines",
    "change_line",
    "clean_discount",
    "create_customer",
    "detach_customer",
    "discount_limit",
    "draft_order",
    "erase_customer",
    "export_customer",
    "groups_for",
    "hold_order",
    "lock_order",
    "merge_customers",
    "merge_orders",
    "modifiers_price",
    "move_order",
    "open_order",
    "option_ids",
    "override_price",
    "reprice",
    "resume_order",
    "save_draft",
    "send_to_kitchen",
    "set_marketing_consent",
    "split_order",
    "stock_items",
    "update_customer",
    "void_line",
    "void_order",
]
