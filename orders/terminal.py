"""What every POS screen shares, in orders' and billing's views alike: the `pos_view` decorator (a paired device,
signed in, allowed at the terminal's store, not locked), `pos_render`, htmx-aware redirects and the manager's PIN
approval prompt.

The terminal is the paired device (staff.Terminal, named by its cookie: staff.terminals): `request.terminal` gives
the store, the register, the receipt printer and the kitchen stations. The person signed in (password or PIN) is who
acts; a PIN switch changes the person, never the terminal.

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

from orders.forms import ManagerApprovalForm
from staff import pins, queries, terminals
from staff.access import may_act_at
from staff.middleware import idle_seconds, is_background_poll, is_locked, mark_active
from staff.views import pairing_screen


def refuse_elsewhere(request, terminal):
    """A person who does not work at the terminal's store: a clear refusal, with the way out (switch, sign out)."""
    return render(request, "pos/no_location.html", {"terminal": terminal, "unpaired": True}, status=403)


def redirect_to(request, url: str):
    """A redirect that also works for an htmx request (which would otherwise swap the target page in)."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def pos_view(perm: str | None = None, *, lockable: bool = True, touch: bool = True, anyone: bool = False):
    """Decorate a POS view: a paired device, signed in, allowed, working at the terminal's store, not locked.
    An unpaired or revoked device gets the pairing screen instead, whatever the view (a sale included).
    `touch=False` for polling endpoints, which must not keep an unattended terminal awake; `anyone` for the switch
    screen, the way out for someone signed in at a store they do not work at."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            terminal, problem = terminals.device_terminal(request)
            if terminal is None:
                return pairing_screen(request, message=problem)
            if not request.user.is_authenticated:
                if request.htmx:
                    return HttpResponseClientRedirect(reverse(settings.LOGIN_URL))
                return redirect_to_login(request.get_full_path())
            queries.read_access(request.user)  # roles and permissions in one statement, for this request
            if perm and not request.user.has_perm(perm):
                raise DjangoPermissionDenied
            if not anyone and not may_act_at(request.user, terminal.location_id):
                return refuse_elsewhere(request, terminal)
            if lockable and is_locked(request):
                return redirect_to(request, f"{reverse('orders:switch')}?locked=1")
            if touch and not is_background_poll(request):
                mark_active(request)
            request.terminal = terminal
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
