"""The device's offline endpoints, under /pos/offline/ (DESIGN.md §6): the catalogue snapshot, the batch sync of
queued sales and the queue heartbeat. JSON in and out; errors as {"code", "message", "fields"}.

Who may call them: a paired device (the terminal's cookie) with a person signed in who works at its store and may
take payments. A device whose pairing was revoked may still hand in its queued sales (they are held for a manager);
it gets nothing else."""

import json
from decimal import Decimal
from functools import wraps

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from billing import offline
from billing.catalogue_snapshot import etag_matches, snapshot
from core.errors import DomainError
from orders.terminal import pos_render, pos_view
from staff import queries, terminals
from staff.access import may_act_at

MAX_BODY = 2 * 1024 * 1024
PERMISSION = "billing.add_payment"


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "fields": fields or {}}, status=status)


def device_view(*, revoked_ok: bool = False):
    """A paired device, a person signed in who works at its store with the right to take payments; JSON refusals.
    Not lockable and not a touch: a locked or idle terminal keeps syncing in the background."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            terminal, _ = terminals.device_terminal(request)
            revoked = False
            if terminal is None and revoked_ok:
                terminal = terminals.cookie_terminal(request)
                revoked = terminal is not None
            if terminal is None:
                return _error(403, "not_paired", terminals.REVOKED_MESSAGE)
            if not request.user.is_authenticated:
                return _error(401, "not_signed_in", "Sign in on this terminal first.")
            queries.read_access(request.user)
            if not request.user.has_perm(PERMISSION) or not may_act_at(request.user, terminal.location_id):
                return _error(403, "permission_denied", "You may not take payments at this store.")
            request.terminal, request.terminal_revoked = terminal, revoked
            try:
                return view(request, *args, **kwargs)
            except DomainError as error:
                return JsonResponse(error.as_dict(), status=error.status)

        wrapper.pos_lockable, wrapper.pos_touch = False, False  # read by staff.middleware
        return wrapper

    return decorator


def _json_body(request):
    if len(request.body) > MAX_BODY:
        raise DomainError("The request is too large: send fewer sales at once.", code="too_large", status=413)
    try:
        return json.loads(request.body or b"{}", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise DomainError("The body is not JSON.", code="invalid") from None


@require_GET
@device_view()
def catalogue(request):
    """The terminal's catalogue snapshot; 304 when the device's If-None-Match names the current version."""
    snap = snapshot(request.terminal)
    if etag_matches(request.headers.get("If-None-Match", ""), snap.etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(snap.body, content_type="application/json")
    response["ETag"] = snap.etag
    response["Cache-Control"] = "private, no-cache"  # kept, but asked again each time (answered 304 if unchanged)
    return response


@require_POST
@device_view(revoked_ok=True)
def sync(request):
    """Apply the device's queued sales in order; 200 with one outcome per sale (see billing.offline.apply_sale)."""
    sales, queue = offline.parse_batch(_json_body(request))
    result = offline.sync(
        terminal=request.terminal, user=request.user, revoked=request.terminal_revoked, sales=sales, queue=queue
    )
    return JsonResponse(result)


@require_POST
@device_view()
def heartbeat(request):
    """What the device says of its queue (length, oldest sale's time): kept for the ops page, alerted on."""
    queue = offline.parse_queue(_dict_or_error(_json_body(request)).get("queue"))
    if queue is None:
        raise DomainError("Say the queue's length.", code="invalid", fields={"queue": ["Required."]})
    state = offline.record_queue(request.terminal, queue)
    return JsonResponse({"reported_at": state.reported_at})


def _dict_or_error(data):
    if not isinstance(data, dict):
        raise DomainError("An object.", code="invalid", fields={"body": ["An object."]})
    return data


@require_GET
@pos_view(PERMISSION)
def screen(request):
    """The offline selling screen: a page the service worker keeps and shows when the server cannot be reached; it
    sells from the catalogue kept on the device (static/js/offline-screen.js) and queues each sale."""
    return pos_render(request, "pos/offline.html", {"offline_screen": True})


WORKER = "js/offline-sw.js"


@require_GET
@pos_view(PERMISSION, touch=False)
def service_worker(request):
    """The service worker's script, at /pos/sw.js so that its scope is /pos/. Asked for again by the browser on each
    POS page load (no-cache): a new deploy's worker replaces the old one."""
    path = finders.find(WORKER)
    if not path:
        raise Http404("No service worker.")
    with open(path, "rb") as script:
        response = HttpResponse(script.read(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/pos/"
    return response
