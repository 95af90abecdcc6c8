"""The API side of core.idempotency: the `Idempotency-Key` header, and the header that marks a replay."""

from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from core.idempotency import run_once, scope_for

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def key_parameter(required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        HEADER,
        # 1-128 printable characters, spaces around it trimmed (core.idempotency.clean_key)
        {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~](?:[ -~]{0,126}[!-~])?$"},
        OpenApiParameter.HEADER,
        required=required,
        description="A client-chosen unique key (a uuid). A retry with the same key and body gets the first "
        "response (with `Idempotent-Replayed: true`); the same key with another body gets 422.",
    )


def respond_once(request, *, endpoint: str, action, required: bool = True) -> Response:
    """Run `action` (returning (status, body)) once per Idempotency-Key; without a key, run it plainly unless the
    key is `required` (then 400 idempotency_key_required)."""
    key = request.headers.get(HEADER)
    if key is None and not required:
        status, body = action()
        return Response(body, status=status)
    outcome = run_once(
        scope=scope_for(request.user, request.auth), key=key, endpoint=endpoint, payload=request.data, action=action
    )
    response = Response(outcome.body, status=outcome.status)
    if outcome.replayed:
        response[REPLAYED_HEADER] = "true"
    return response
