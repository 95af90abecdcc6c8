"""Session rules that hold on every URL.

SessionIdleTimeoutMiddleware signs staff out after SESSION_IDLE_TIMEOUT_MINUTES without a request (sliding; 0
switches it off). PosSessionGuardMiddleware keeps a locked POS session on the lock screen and a session signed in by
PIN on the POS screens, and (with ADMIN_OTP_REQUIRED) a manager's session without the second factor there too. A
background poll (a request carrying BACKGROUND_POLL_HEADER, which the POS pages' htmx polls send) never counts as
activity for either clock, except the kitchen board's poll from a session of the Kitchen role alone, which keeps
that wall display signed in (a manager or cashier who leaves the board open is signed out).

While writes are paused (a restore runs), an idle session is still signed out for the request, without the writes
of a sign-out (the session row and the sign-in log stay as they are, and the cookie is dropped); see sign_out.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect

from core import writes
from staff.roles import CASHIER, KITCHEN, MANAGER, WAITER, has_role, is_manager

LAST_ACTIVITY_KEY = "tillhouse_last_activity"
# The stamp is refreshed at most this often, so that a busy screen does not write its session on every request.
REFRESH_SECONDS = 30
BACKGROUND_POLL_HEADER = "X-Background-Poll"
# A POS terminal's lock state, kept in its session (the POS screens in orders.views set and clear them).
SESSION_LOCKED = "pos_locked"
SESSION_SEEN = "pos_last_seen"
# Set when the person now signed in got there by PIN: such a session reaches the POS screens only
# (PosSessionGuardMiddleware); a password sign-in clears it (staff.security).
SESSION_PIN_ONLY = "pos_pin_only"


def is_background_poll(request) -> bool:
    """A request the page made by itself on a timer (the print-problems banner, the kitchen board), not a person."""
    return request.headers.get(BACKGROUND_POLL_HEADER) == "1"


def keeps_kitchen_display(request) -> bool:
    """The kitchen board's poll from a session of the Kitchen role and no other: the one background poll that
    counts as activity for the idle sign-out, so the kitchen's wall screen stays up."""
    user = request.user
    return (
        request.path == reverse("orders:kitchen_board")
        and has_role(user, KITCHEN)
        and not any(has_role(user, role) for role in (MANAGER, CASHIER, WAITER))
    )


def lacks_second_factor(user) -> bool:
    """True for a manager (superusers included) signed in without the one-time code while ADMIN_OTP_REQUIRED is on:
    such a session may use what a session signed in by PIN may, no more. Other staff have no second factor."""
    if not getattr(settings, "ADMIN_OTP_REQUIRED", False) or not is_manager(user):
        return False
    is_verified = getattr(user, "is_verified", None)  # set by django_otp's OTPMiddleware
    return not (is_verified is not None and is_verified())


def idle_seconds() -> int:
    return getattr(settings, "POS_IDLE_LOCK_SECONDS", 120)


def is_locked(request, *, idle_lock: bool = True) -> bool:
    """True when this terminal's session is locked; with `idle_lock`, lock it first if it has been idle too long
    (views that never lock themselves, like the kitchen display, pass False)."""
    if request.session.get(SESSION_LOCKED):
        return True
    seen = request.session.get(SESSION_SEEN)
    if idle_lock and seen and idle_seconds() and time.time() - seen > idle_seconds():
        request.session[SESSION_LOCKED] = True
        return True
    return False


def mark_active(request) -> None:
    now = time.time()
    # Written at most every few seconds: a busy terminal should not save its session on every tap.
    if now - request.session.get(SESSION_SEEN, 0) > 5:
        request.session[SESSION_SEEN] = now


def sign_out(request) -> None:
    """logout(); while writes are paused (a restore), or when its writes run into the read-only database, the user is
    signed out of this request and the session emptied (its cookie is dropped) without writing anything."""
    if not writes.paused():
        try:
            with transaction.atomic():
                logout(request)
            return
        except DatabaseError as exc:
            if not writes.is_read_only_error(exc):
                raise
    request.session.flush()  # the session engine stores nothing while writes are paused
    request.user = AnonymousUser()


class SessionIdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timeout = getattr(settings, "SESSION_IDLE_TIMEOUT_MINUTES", 15) * 60
        # Without a session cookie there is no session to time out (API clients sign each request with a token).
        if timeout and settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_ACTIVITY_KEY)
            if last is not None and now - last > timeout:
                minutes = timeout // 60
                sign_out(request)
                messages.info(request, f"You were signed out after {minutes} minutes without activity.")
            elif (last is None or now - last >= min(REFRESH_SECONDS, timeout)) and (
                not is_background_poll(request) or keeps_kitchen_display(request)
            ):
                request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)


# Reachable from a locked or PIN-only session: signing in and out, the lock screen itself, probes and scrapes.
ALWAYS_OPEN = frozenset(
    {
        "login",
        "logout",
        "admin:login",  # a sign-in too: it asks for the second factor when that is on
        "admin:logout",
        "orders:switch",
        "orders:lock",
        "ops:health-live",
        "ops:health-ready",
        "ops:health-startup",
        "ops:health",
        "ops:api-health",
        "ops:metrics",
        "api-health",
        "favicon",  # asked for by the browser on every page, the lock screen too
        "terminals:pair",  # what an unpaired device shows in place of every POS screen
        "terminals:pair_status",
    }
)
# The POS screens (orders' and billing's, under /pos/) and the start page (links only; the brand link of every
# page): all a session signed in by PIN may use.
POS_NAMESPACES = frozenset({"orders", "billing"})
PIN_SESSION_OPEN = frozenset({"home"})


class PosSessionGuardMiddleware:
    """A POS session that is locked (the Lock button, or idle for POS_IDLE_LOCK_SECONDS) reaches nothing but the
    lock screen, sign-in/out and the probes until someone unlocks it with a PIN or signs in with a password; one
    signed in by PIN reaches only the POS screens, everything else (admin, reports, ops, API docs, the
    session-authenticated API) needs a password sign-in; with ADMIN_OTP_REQUIRED, a manager's session signed in
    without the one-time code is held to the same screens and sent to the admin's sign-in, which asks for it. Pages
    get a redirect, the API a 403 with a code, a background poll an empty 204 (so the lock screen's banner does not
    reload it). Requests signed with an API token carry no session and are not affected.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.user.is_authenticated or getattr(request, "session", None) is None:
            return None
        match = request.resolver_match
        if match is None or match.view_name in ALWAYS_OPEN:
            return None
        session = request.session
        if is_locked(request, idle_lock=getattr(view_func, "pos_lockable", True)):
            return self._refuse(request, "locked", "This terminal is locked: unlock it with your PIN.")
        pos_screen = match.namespace in POS_NAMESPACES or match.view_name in PIN_SESSION_OPEN
        if session.get(SESSION_PIN_ONLY) and not pos_screen:
            return self._refuse(request, "password_required", "Signed in by PIN: sign in with your password.")
        if not pos_screen and lacks_second_factor(request.user):
            return self._refuse(
                request, "second_factor_required", "Sign in with your password and one-time code for this."
            )
        if SESSION_SEEN in session and getattr(view_func, "pos_touch", True) and not is_background_poll(request):
            mark_active(request)  # any page counts as activity for the POS idle lock, not only POS screens
        return None

    @staticmethod
    def _refuse(request, code: str, message: str):
        if is_background_poll(request):
            return HttpResponse(status=204)
        if request.path.startswith("/api/"):
            return JsonResponse({"code": code, "message": message, "fields": {}}, status=403)
        if code == "locked":
            url = f"{reverse('orders:switch')}?{urlencode({'locked': 1, 'next': request.get_full_path()})}"
        elif code == "second_factor_required":
            url = redirect_to_login(request.get_full_path(), reverse("admin:login"))["Location"]
        else:
            url = redirect_to_login(request.get_full_path())["Location"]
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return redirect(url)
