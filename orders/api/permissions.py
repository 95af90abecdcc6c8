"""Role checks for the sales API, on top of the default IsAuthenticated. Roles are groups with Django permissions
(inventory/roles.py), so the checks read as the permission a role holds."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from inventory.roles import has_role


def has_perms(*write_perms: str, read_perm: str | None = None) -> type[BasePermission]:
    """A permission class: `read_perm` for GET/HEAD/OPTIONS (if given), all of `write_perms` otherwise."""

    class HasPerms(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view):
            user = request.user
            if not user or not user.is_authenticated:
                return False
            if request.method in SAFE_METHODS:
                return read_perm is None or user.has_perm(read_perm)
            return all(user.has_perm(perm) for perm in write_perms)

    HasPerms.__name__ = "HasPerms_" + "_".join(p.replace(".", "_") for p in write_perms)
    return HasPerms


def has_roles(*roles: str) -> type[BasePermission]:
    """A permission class for staff holding one of `roles` (superusers too). One query for the user's groups, which
    is_manager() and locations_for() reuse; used on the checkout path where every round trip counts."""

    class HasRoles(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view):
            return any(has_role(request.user, role) for role in roles)

    HasRoles.__name__ = "HasRoles_" + "_".join(roles)
    return HasRoles
