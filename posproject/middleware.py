"""Sign staff out after SESSION_IDLE_TIMEOUT_MINUTES without a request (sliding; 0 switches it off)."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

LAST_ACTIVITY_KEY = "tillhouse_last_activity"
# The stamp is refreshed at most this often, so that a busy screen does not write its session on every request.
REFRESH_SECONDS = 30


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
                logout(request)
                messages.info(request, f"You were signed out after {minutes} minutes without activity.")
            elif last is None or now - last >= min(REFRESH_SECONDS, timeout):
                request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)
