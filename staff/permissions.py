"""Who may call what. Roles are Django groups holding model permissions (staff.roles), so the API asks for
the same permissions the admin does."""

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from staff.roles import has_role, is_manager


class RoleModelPermissions(DjangoModelPermissions):
    """Model permissions, reading included: listing products needs `view_product`."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        # Managers hold every inventory permission by role (staff.roles); this spares two permission queries on
        # every request of the busiest user of the API.
        if request.user and request.user.is_authenticated and is_manager(request.user):
            return True
        return super().has_permission(request, view)

    def _queryset(self, view):
        # Only the model matters here; a view's get_queryset may run a search (product lookup) that is not needed.
        if getattr(view, "queryset", None) is not None:
            return view.queryset
        return super()._queryset(view)


def requires(*perms: str) -> type[BasePermission]:
    """A permission class for endpoints that are not plain model CRUD (adjust stock, receive, post a count)."""

    class RequiresPermissions(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and (is_manager(user) or user.has_perms(perms)))

    RequiresPermissions.__name__ = "Requires_" + "_".join(p.replace(".", "_") for p in perms)
    return RequiresPermissions


class IsManager(BasePermission):
    message = "Only managers may see this."

    def has_permission(self, request, view):
        return is_manager(request.user)


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
