"""Text from the request line, cleaned in one place: a NUL character (which PostgreSQL cannot store or compare) in
the path or the query string is refused with a clear 400 before any view sees it, and search boxes get their query
through clean_search()."""

import unicodedata

from django.http import HttpResponseBadRequest, JsonResponse

SEARCH_MAX_LENGTH = 100
MAX_ID = 2**63 - 1  # bigint


def clean_search(query) -> str:
    """A search box's text: control and unassigned characters dropped, spaces trimmed, at most SEARCH_MAX_LENGTH."""
    text = "".join(ch for ch in str(query or "") if unicodedata.category(ch) not in ("Cc", "Cs", "Cn"))
    return text.strip()[:SEARCH_MAX_LENGTH]


def is_whole_number(text: str) -> bool:
    """ "123", not "-1", "1.5", "" or "²" (str.isdigit admits superscripts and other digits int() refuses)."""
    return text.isascii() and text.isdigit()


def id_param(request, name: str) -> int | None:
    """An id filter from the query string (`?location=3`): None when absent, else a whole number up to the largest
    id a column holds; anything else is a 400 naming the parameter (never silently ignored)."""
    from rest_framework.exceptions import ValidationError

    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not is_whole_number(value) or int(value) > MAX_ID:
        raise ValidationError({name: ["Must be a whole number (an id)."]})
    return int(value)


def choice_param(request, name: str, choices) -> str | None:
    """A filter from the query string that is one of `choices` (`?status=open`): None when absent; anything else is
    a 400 naming the parameter."""
    from rest_framework.exceptions import ValidationError

    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise ValidationError({name: [f"One of: {', '.join(choices)}."]})
    return value


def _nul_in(request) -> str | None:
    """The name of the first part of the request line holding a NUL character, or None."""
    if "\x00" in request.path:
        return "path"
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return key.replace("\x00", "") or "query"
    return None


class RefuseNulCharactersMiddleware:
    """A 400 naming the parameter (the API's {"code", "message", "fields"} body under /api/) for a NUL character in
    the path or the query string."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = _nul_in(request)
        if where is None:
            return self.get_response(request)
        message = "The request holds a NUL character."
        if request.path.startswith("/api/"):
            body = {"code": "invalid", "message": message, "fields": {where: ["Must not contain NUL characters."]}}
            return JsonResponse(body, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
