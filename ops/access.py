"""Who may open the /ops/ pages: the Manager role (superusers included), the same rule as the admin (the one-time
code included when ADMIN_OTP_REQUIRED is on)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from staff.middleware import lacks_second_factor
from staff.roles import is_manager


def manager_required(view):
    """Anonymous visitors are sent to sign in; anyone signed in without the Manager role gets a 403 (`is_staff`
    alone is not enough), and so does a manager signed in without the one-time code while ADMIN_OTP_REQUIRED is on
    (staff.middleware sends such a session to the admin's sign-in before it gets here)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_manager(request.user) or lacks_second_factor(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)
