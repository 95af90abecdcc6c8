"""Who may act: at which location (check_location), with whose approval (manager_approval), and who opens a
manager's page (manager_required)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageDenied

from core.errors import ApprovalRequired, PermissionDenied
from staff.middleware import lacks_second_factor
from staff.roles import is_manager
from staff.selectors import locations_for, works_everywhere

# Set on a request's user object by `may_act_at` once the check passed, so that the services a POS screen then calls
# do not ask the database the same question again within that request.
_CHECKED = "_tillhouse_acts_at"


def may_act_at(user, location_id: int) -> bool:
    """Whether `user` may act at the location (as check_location decides), remembered on this user object."""
    try:
        check_location(user, location_id)
    except PermissionDenied:
        return False
    user.__dict__.setdefault(_CHECKED, set()).add(location_id)
    return True


def check_location(user, location_id: int, *, message: str = "You do not work at this location.") -> None:
    """Raise PermissionDenied (with `message`) unless `user` may act at the location: the one location check of
    every service (orders, kitchen, tills, Z reports, print jobs)."""
    if not user or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    if works_everywhere(user) or location_id in user.__dict__.get(_CHECKED, ()):
        return
    client = getattr(user, "acting_api_client", None)
    known = getattr(client, "location_ids", None)  # read with the client's token (staff.api_clients)
    if known is not None:
        if location_id not in known:
            raise PermissionDenied(message)
        return
    if not locations_for(user).filter(pk=location_id).exists():
        raise PermissionDenied(message)


def manager_approval(user, approver, what: str):
    """The manager approving `what`: `approver` if given (must be a manager; on the screens and the API one whose
    PIN staff.pins.verify_manager_pin has checked), else `user` if a manager. The caller audits the approved act
    with the returned approver (staff.audit.audit).

    Raises ApprovalRequired otherwise."""
    if approver is not None:
        if not is_manager(approver):
            raise ApprovalRequired(f"{what} needs a manager's approval; {approver} is not a manager.")
        return approver
    if is_manager(user):
        return user
    raise ApprovalRequired(f"{what} needs a manager's approval.")


def manager_required(view):
    """A manager's page (the setup and catalogue pages): anonymous visitors are sent to sign in; anyone signed in
    without the Manager role gets a 403, and so does a manager without the one-time code while ADMIN_OTP_REQUIRED is
    on (the rule of ops.access). A session signed in by PIN never gets here (staff.middleware)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_manager(request.user) or lacks_second_factor(request.user):
            raise PageDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)
