"""What every POS screen shares, in orders' and billing's views alike: the `pos_view` decorator (a paired device,
signed in, allowed at the terminal's store, not locked), `pos_render`, htmx-aware redirects and the manager's PIN
approval prompt.

The terminal is the paired device (staff.Terminal, named by its cookie: staff.terminals): `request.terminal` gives
the store, the register, the receipt printer and the kitchen stations. The person signed in (password or PIN) is who
acts; a PIN switch changes the person, never the terminal.

The lock and idle state itself (SESSION_LOCKED, SESSION_PIN_ONLY, mark_active ...) belongs to staff.middleware,
a floor below, which reads the `pos_lockable` / `pos_touch` marks that `pos_view` puts on a view.
"""

import hashlib
from functools import lru_cache, wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpResponse, HttpResponseNotModified
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils.translation import get_language
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


@lru_cache(maxsize=64)
def _template_digest(template: str) -> str:
    """The partial's source, hashed once per process: a deploy that changes the template changes every ETag."""
    return hashlib.blake2b(get_template(template).template.source.encode(), digest_size=8).hexdigest()


def _names_etag(if_none_match: str, etag: str) -> bool:
    """Whether If-None-Match names `etag`, by weak comparison (RFC 9110 13.1.2): a proxy that compressed the
    answer (nginx's gzip) hands it back as W/"..."."""
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def poll_render(request, template: str, context: dict, fingerprint) -> HttpResponse:
    """A polled partial (the print banner, the kitchen board), answered 304 Not Modified with no body when the
    page already shows what it would draw. `fingerprint` is everything the template shows, read from the same
    objects it is drawn from; the ETag adds who is asking (permissions change what is drawn), the language it is
    drawn in, the session's CSRF secret (the forms in the partial carry it) and the template's source. Drawing the
    template, the costly part, is skipped on a match; static/js/pos.js sends the ETag it holds and keeps the panel
    as it is on a 304."""
    if "CSRF_COOKIE" not in request.META:
        get_token(request)  # a browser with no CSRF cookie yet gets one now, as the drawing would have made it
    secret = request.META["CSRF_COOKIE"]
    digest = hashlib.blake2b(
        repr((template, _template_digest(template), request.user.pk, get_language(), secret, fingerprint)).encode(),
        digest_size=16,
    ).hexdigest()
    etag = f'"{digest}"'
    if _names_etag(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponseNotModified()
    else:
        response = pos_render(request, template, context)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"  # the browser keeps nothing it would show without asking
    return response


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
