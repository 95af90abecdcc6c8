"""The screen side of core.idempotency: a POS write sent twice (a retry after a lost answer, a double tap) is applied
once, and the second request gets the first one's answer (DESIGN.md §3.4 and §6).

The device mints the key before the first try and sends it as the `Idempotency-Key` header (htmx requests) or as
the hidden field `idempotency_key` (a plain form). A request without a key is served as before.

Only an answer that applied something is kept (status below 400): a refusal keeps nothing, not even the claim on
the key, so the same request can be sent again once the cause is fixed. What a refused view wrote on purpose (a
wrong PIN counted towards the lockout) stays, exactly as without this decorator; an unexpected error rolls the
whole request back.
"""

from __future__ import annotations

import functools

from django.db import transaction
from django.http import HttpResponse
from django.utils.html import escape

from core.errors import DomainError
from core.idempotency import _claim, _store, clean_key, request_hash, scope_for
from core.idempotent_api import HEADER, REPLAYED_HEADER
from core.models import IdempotencyRecord

FIELD = "idempotency_key"
REFUSED_HEADER = "X-Idempotency-Refused"
# What a replay must carry besides its body: where a redirect goes and what htmx does with the answer.
KEPT_HEADERS = ("Content-Type", "Location", "HX-Redirect", "HX-Retarget", "HX-Reswap", "HX-Trigger", "HX-Push-Url")
UNHASHED_FIELDS = {"csrfmiddlewaretoken", FIELD}


def key_of(request) -> str | None:
    key = request.headers.get(HEADER) or request.POST.get(FIELD)
    return key if key else None


def request_payload(request) -> dict:
    """What identifies a screen request: its path and every posted field (the CSRF token and the key aside)."""
    fields = {name: values for name, values in request.POST.lists() if name not in UNHASHED_FIELDS}
    return {"path": request.path, "fields": dict(sorted(fields.items()))}


def applied_once(view):
    """Decorate a POS write view (inside `pos_view`, so the user is known): a POST with a key is applied once per
    (user, key); a replay answers the stored first answer with `Idempotent-Replayed: true`; the same key with
    another body or path is refused with 409."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        raw_key = key_of(request) if request.method == "POST" else None
        if raw_key is None:
            return view(request, *args, **kwargs)
        try:
            key = clean_key(raw_key)
        except DomainError as exc:
            return refusal(exc.message, status=400)
        scope = "pos:" + scope_for(request.user)
        match = getattr(request, "resolver_match", None)
        endpoint = (match.view_name if match else request.path)[:64]
        digest = request_hash(endpoint, request_payload(request))
        with transaction.atomic():
            record_id = _claim(scope, key, endpoint, digest)
            if record_id is None:
                return _replay(scope, key, digest)
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            if response.status_code >= 400 or getattr(response, "streaming", False):
                IdempotencyRecord.objects.filter(pk=record_id).delete()
                return response
            _store(record_id, response.status_code, _kept(response))
            return response

    return wrapper


def _kept(response) -> dict:
    return {
        "content": response.content.decode(response.charset or "utf-8"),
        "headers": {name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
    }


def _replay(scope: str, key: str, digest: str) -> HttpResponse:
    record = IdempotencyRecord.objects.get(scope=scope, key=key)
    if record.request_hash != digest:
        return refusal("This action was already sent with other details: reload the screen and try again.")
    if record.response_status is None:
        return refusal("The first try of this action is still running: wait a moment and try again.")
    body = record.response_body or {}
    response = HttpResponse(body.get("content", ""), status=record.response_status)
    for name, value in body.get("headers", {}).items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def refusal(message: str, *, status: int = 409) -> HttpResponse:
    """A refusal the page shows in its failure banner (htmx swaps nothing in: the screen keeps what was typed)."""
    response = HttpResponse(f'<p class="error-box" role="alert">{escape(message)}</p>', status=status)
    response[REFUSED_HEADER] = "1"
    response["HX-Reswap"] = "none"
    return response
