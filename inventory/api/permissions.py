"""Who may call what. Roles are Django groups holding model permissions (inventory.roles), so the API asks for
the same permissions the admin does."""

from rest_framework.permissions import BasePermission, DjangoModelPermissions

from inventory.roles import is_manager


class RoleModelPermissions(DjangoModelPermissions):
    """Model permissions, reading included: listing products needs `view_product`."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        # Managers hold every inventory permission by role (inventory.roles); this spares two permission queries on
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
