"""One DRF exception handler: every error body is {"code", "message", "fields"}."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError


def _flatten(detail):
    if isinstance(detail, list):
        return [str(item) if not isinstance(item, dict | list) else _flatten(item) for item in detail]
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return [str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        # DRF reads request.body for JSON and forms, where Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE.
        return Response(
            {
                "code": "too_large",
                "message": f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
                "fields": {},
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, OperationalError):
        # The database went away mid-request: fail fast and let the client retry with its idempotency key.
        return Response(
            {"code": "unavailable", "message": "The database is unavailable; try again.", "fields": {}},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "code": "invalid",
            "message": "The request has invalid fields.",
            "fields": _flatten(detail),
        }
    else:
        code = getattr(exc, "default_code", "error")
        response.data = {"code": code, "message": str(getattr(exc, "detail", exc)), "fields": {}}
    return response
