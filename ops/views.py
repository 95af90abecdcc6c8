"""Health probes, the Prometheus scrape and the integrity page. Thin: the work is in ops.health, ops.metrics and
ops.integrity."""

import json

from django.db import transaction
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from prometheus_client import CONTENT_TYPE_LATEST

from ops import health, metrics
from ops.access import manager_required
from ops.integrity import integrity_check_running, last_report, request_integrity_check
from staff.roles import is_manager

HEALTH_JSON = "application/health+json"


def _health_response(body: dict, *, fail_status: int = 503) -> HttpResponse:
    status = fail_status if body["status"] == health.FAIL else 200
    response = HttpResponse(json.dumps(body), status=status, content_type=HEALTH_JSON)
    # A failing probe is answered every few seconds: our access line records it; Django's "Service Unavailable"
    # error line (and the Sentry event it would become) would only repeat it.
    response._has_been_logged = True
    return response


NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"  # what never_cache writes


@require_GET
def live(request):
    """The process answers. No database, cache or network I/O: for liveness probes. A constant answer, its
    Cache-Control included (never_cache would also date an Expires header on every probe, which costs more than
    the rest of this view)."""
    response = HttpResponse(b'{"status": "pass"}', content_type=HEALTH_JSON)
    response["Cache-Control"] = NEVER_CACHE
    return response


@never_cache
@require_GET
def ready(request):
    """The database reachable, migrations applied: for readiness probes and load balancers. Nothing else: a sale
    needs nothing else, so a Redis or Celery outage must not take the web out of service (RUNBOOK §5)."""
    return _health_response(health.readiness())


@never_cache
@require_GET
def full(request):
    """The full report for monitors holding the metrics token and signed-in managers; only the status for anyone
    else (the report names what is down, the backup's age, free disk and the version). 200 for pass or warn, 503 for
    fail, whoever asks. A manager's session signed in by PIN, locked, or (with ADMIN_OTP_REQUIRED) without the
    one-time code gets the status only."""
    from staff.middleware import SESSION_PIN_ONLY, is_locked, lacks_second_factor  # a PIN is not a password

    report = health.full_report()
    signed_in_manager = (
        is_manager(request.user)
        and not request.session.get(SESSION_PIN_ONLY)
        and not lacks_second_factor(request.user)
        and not is_locked(request, idle_lock=False)
    )
    if not (metrics.has_metrics_token(request) or signed_in_manager):
        report = {"status": report["status"]}
    response = _health_response(report)
    patch_vary_headers(response, ["Authorization", "Cookie"])
    return response


@never_cache
@require_GET
def startup(request):
    """Time from process start to first ready: for startup probes (503 until ready)."""
    return _health_response(health.startup())


@never_cache
@require_GET
def metrics_view(request):
    if not metrics.scrape_allowed(request):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    return HttpResponse(metrics.render_metrics(), content_type=CONTENT_TYPE_LATEST)


@manager_required
@require_http_methods(["GET", "POST"])
def integrity(request):
    """The last integrity report; "Run now" queues the check, and the page polls itself until the run has reported,
    then shows its result."""
    if request.method == "POST":
        from ops.tasks import integrity_check

        request_integrity_check()
        transaction.on_commit(integrity_check.delay)
        return redirect("ops:integrity")
    return render(request, "ops/integrity.html", {"report": last_report(), "running": integrity_check_running()})
