"""What every POS screen shares, in orders' and billing's views alike: the terminal's session keys, the `pos_view`
decorator (signed in, allowed, at a location, not locked), `pos_render`, htmx-aware redirects and the manager's PIN
approval prompt.

The lock and idle state itself (SESSION_LOCKED, SESSION_PIN_ONLY, mark_active ...) belongs to staff.middleware,
a floor below, which reads the `pos_lockable` / `pos_touch` marks that `pos_view` puts on a view.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from inventory.models import Location
from orders.forms import ManagerApprovalForm
from staff import pins
from staff.middleware import idle_seconds, is_background_poll, is_locked, mark_active
from staff.selectors import locations_for

SESSION_LOCATION = "pos_location_id"
SESSION_REGISTER = "pos_register_id"
SESSION_REGISTER_NAME = "pos_register_name"
# What belongs to the terminal rather than to the person using it: kept across a PIN switch.
TERMINAL_KEYS = (SESSION_LOCATION, SESSION_REGISTER, SESSION_REGISTER_NAME)


class Terminal:
    """What this screen is: its location and, once a cash session is open on it, its register."""

    def __init__(self, request, location: Location | None):
        self.location = location
        self.register_id = request.session.get(SESSION_REGISTER)
        self.register_name = request.session.get(SESSION_REGISTER_NAME, "")


def _terminal_location(request) -> Location | None:
    allowed = locations_for(request.user).filter(kind=Location.Kind.STORE, active=True).order_by("name")
    location_id = request.session.get(SESSION_LOCATION)
    location = allowed.filter(pk=location_id).first() if location_id else None
    if location is None:
        location = allowed.first()
        if location is not None:
            request.session[SESSION_LOCATION] = location.pk
    return location


def redirect_to(request, url: str):
    """A redirect that also works for an htmx request (which would otherwise swap the target page in)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def pos_view(perm: str | None = None, *, lockable: bool = True, touch: bool = True):
    """Decorate a POS view: signed in, allowed, at a location, not locked. `touch=False` for polling endpoints,
    which must not keep an unattended terminal awake."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                if request.htmx:
                    return HttpResponseClientRedirect(reverse(settings.LOGIN_URL))
                return redirect_to_login(request.get_full_path())
            if perm and not request.user.has_perm(perm):
                raise DjangoPermissionDenied
            location = _terminal_location(request)
            if location is None:
                return render(request, "pos/no_location.html", status=403)
            if lockable and is_locked(request):
                return redirect_to(request, f"{reverse('orders:switch')}?locked=1")
            if touch and not is_background_poll(request):
                mark_active(request)
            request.terminal = Terminal(request, location)
            return view(request, *args, **kwargs)

        wrapper.pos_lockable, wrapper.pos_touch = lockable, touch  # read by staff.middleware
        return wrapper

    return decorator


def pos_render(request, template: str, context: dict | None = None, *, status: int = 200, nav: str = ""):
    context = dict(context or {})
    context.setdefault("terminal", getattr(request, "terminal", None))
    context.setdefault("idle_seconds", idle_seconds())
    context.setdefault("nav", nav)
    return render(request, template, context, status=status)


def approver_from_pin(request):
    """The manager who approved, from the PIN prompt; None when the prompt was left empty."""
    form = ManagerApprovalForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["approver"]:
        return None
    return pins.verify_manager_pin(
        user_id=form.cleaned_data["approver"],
        pin=form.cleaned_data["approver_pin"],
        location=request.terminal.location,
        terminal=pins.terminal_of(request),
    )
