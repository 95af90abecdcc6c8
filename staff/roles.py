"""Staff roles as Django groups, and the permissions each one needs.

The groups are created by a data migration; their permissions are (re)granted after every `migrate`, so models
added later reach the roles without a hand-written migration. Granting is additive: a manager's own additions to a
group in the admin are kept.
"""

from django.db.models.signals import post_migrate

MANAGER = "Manager"
CASHIER = "Cashier"
WAITER = "Waiter"
KITCHEN = "Kitchen"
ROLES = (MANAGER, CASHIER, WAITER, KITCHEN)
# Who may give which role in the user admin: a role ranked at or below one's own (inventory.selectors).
ROLE_RANKS = {MANAGER: 2, CASHIER: 1, WAITER: 1, KITCHEN: 1}

# "app_label.*" means every permission of that app; otherwise "app_label.codename".
ROLE_PERMISSIONS: dict[str, list[str]] = {
    MANAGER: [
        "core.*",
        "staff.*",
        "inventory.*",
        "orders.*",
        "billing.*",
        "ops.*",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
    ],
    CASHIER: [
        "inventory.view_location",
        "inventory.view_category",
        "inventory.view_taxrate",
        "inventory.view_product",
        "inventory.view_stocklevel",
        "orders.view_table",
        "orders.add_order",
        "orders.change_order",
        "orders.view_order",
        "orders.add_orderline",
        "orders.change_orderline",
        "orders.view_orderline",
        "orders.add_kitchenticket",
        "orders.view_kitchenticket",
        "orders.view_customer",
        "orders.add_customer",
        "billing.view_register",
        "billing.add_cashsession",
        "billing.change_cashsession",
        "billing.view_cashsession",
        "billing.add_cashmovement",
        "billing.view_cashmovement",
        "billing.add_payment",
        "billing.view_payment",
        "billing.view_receipt",
        "billing.view_giftcard",  # the balance check at the till
        "billing.add_refund",
        "billing.view_refund",
        "billing.view_printjob",
        "billing.change_printjob",
        "billing.add_receiptemail",
        "billing.view_receiptemail",
        "billing.change_receiptemail",
        "billing.view_loyaltyaccount",
        "billing.view_loyaltymovement",
    ],
    WAITER: [
        "inventory.view_location",
        "inventory.view_category",
        "inventory.view_taxrate",
        "inventory.view_product",
        "orders.view_table",
        "orders.add_order",
        "orders.change_order",
        "orders.view_order",
        "orders.add_orderline",
        "orders.change_orderline",
        "orders.view_orderline",
        "orders.add_kitchenticket",
        "orders.view_kitchenticket",
        "billing.view_printjob",
    ],
    KITCHEN: [
        "inventory.view_product",
        "orders.view_order",
        "orders.view_orderline",
        "orders.view_kitchenticket",
        "orders.change_kitchenticket",
    ],
}


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def grant_role_permissions(**kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    for role, patterns in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = Permission.objects.none()
        for pattern in patterns:
            app_label, codename = pattern.split(".")
            query = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                query = query.filter(codename=codename)
            wanted = wanted | query
        group.permissions.add(*wanted)


def connect_signals() -> None:
    post_migrate.connect(grant_role_permissions, dispatch_uid="tillhouse_grant_role_permissions")


def has_role(user, role: str) -> bool:
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cache = getattr(user, "_tillhouse_roles", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._tillhouse_roles = cache
    return role in cache


def is_manager(user) -> bool:
    return has_role(user, MANAGER)
