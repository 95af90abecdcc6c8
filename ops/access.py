"""Who may open the /ops/ pages: the Manager role (superusers included), the same rule as the admin."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from staff.roles import is_manager


def manager_required(view):
    """Anonymous visitors are sent to sign in; anyone signed in without the Manager role gets a 403 (`is_staff`
    alone is not enough)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_manager(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)
