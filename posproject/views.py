from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated

FAVICON = Path(settings.BASE_DIR) / "static" / "img" / "favicon.ico"


@login_required
def home(request):
    """The start page: links to what this user's role may open and, for whoever may read the sales reports, today
    at their stores (billing.dashboard)."""
    from billing.dashboard import start_page

    today = start_page(request.user) if request.user.has_perm("billing.view_zreport") else None
    return render(request, "home.html", {"today": today})


def not_found(request, exception=None):
    """404s: under /api/ the API's error body (no HTML page for a client that reads JSON), elsewhere the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": "No such API address.", "fields": {}}, status=404)
    return page_not_found(request, exception)


@requires_csrf_token
def server_error(request):
    """500s: rendered with no request context, so the page still shows when the database or the cache is what
    failed (a context processor or a session lookup would fail again)."""
    if request.path.startswith("/api/"):
        body = {"code": "server_error", "message": "Something went wrong on our side.", "fields": {}}
        return JsonResponse(body, status=500)
    return HttpResponseServerError(loader.get_template("500.html").render())


@cache
def _favicon() -> bytes:
    return FAVICON.read_bytes()


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico on every page, whatever the page links to."""
    return HttpResponse(_favicon(), content_type="image/x-icon")


class ApiDocsView(SpectacularSwaggerSplitView):
    """The browsable API documentation. A person who is not signed in is sent to the sign-in page (and back);
    a bad token is still refused with 401, and the schema itself keeps answering API clients with 401/403."""

    def handle_exception(self, exc):
        if isinstance(exc, NotAuthenticated) and not self.request.headers.get("Authorization"):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
