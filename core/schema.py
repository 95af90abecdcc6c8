"""The OpenAPI schema tells the truth, from one AutoSchema: every operation documents the error statuses it can
answer, each with the one error body the exception handler writes ({"code", "message", "fields"}, core.api);
request shapes say what the server reads (decimal strings need a digit and, when negatives are refused, no sign;
text has no NUL; booleans may be spelled as DRF reads them; lists and dicts say how many items they take; id filters
are whole numbers)."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from core.idempotent_api import HEADER as IDEMPOTENCY_HEADER
from core.inputs import MAX_ID

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: clients switch on it (invalid, not_found, out_of_stock, ...).")
    message = serializers.CharField(help_text="For people.")
    # DRF's metaclass takes declared fields out of the class, so this does not shadow `Serializer.fields`; the stubs
    # cannot know that
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        help_text="Input field name → its problems (a list of messages, nested for lists and objects); may be empty.",
    )

    class Meta:
        ref_name = "Error"


ERRORS = {
    400: "Invalid input: the fields named in `fields` (also a bad query parameter, `limit`, `offset` or a NUL).",
    401: "No valid credentials (token or session).",
    403: "Signed in, but the role, the token's scope or the location does not allow this.",
    404: "No such object (or not at the caller's locations).",
    409: "The request clashes with the current state (already paid, posted, closed; out of stock; in flight).",
    422: "The Idempotency-Key was used before with another body.",
    503: "The database is unavailable or the system is in maintenance; retry later with the same Idempotency-Key.",
}


def _decimal_pattern(field: serializers.DecimalField) -> str:
    whole = (field.max_digits - (field.decimal_places or 0)) if field.max_digits is not None else None
    sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
    digits = r"\d+" if whole is None else (rf"\d{{1,{whole}}}" if whole > 0 else "0")
    places = rf"(?:\.\d{{1,{field.decimal_places}}})?" if field.decimal_places else ""
    return f"^{sign}{digits}{places}$"


class AutoSchema(SpectacularAutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            schema["pattern"] = _decimal_pattern(field)
        if isinstance(field, serializers.CharField) and direction == "request" and "pattern" not in schema:
            # DRF refuses NUL characters, and (unless blank is allowed) text that is only spaces
            schema["pattern"] = "^[^\\x00]*$" if field.allow_blank else "^[^\\x00]*[^\\x00\\s][^\\x00]*$"
        if isinstance(field, serializers.BooleanField) and direction == "request" and schema.get("type") == "boolean":
            # DRF also reads 1/0 and "true"/"yes"/"on"... as booleans: say so, or a client sending them is "wrong"
            words = sorted(value for value in field.TRUE_VALUES | field.FALSE_VALUES if isinstance(value, str))
            schema = {
                "oneOf": [
                    {"type": "boolean"},
                    {"type": "integer", "enum": [0, 1]},
                    {"type": "string", "enum": words},
                ],
                **{key: value for key, value in schema.items() if key != "type"},
            }
        if isinstance(field, serializers.DictField) and not field.allow_empty:
            schema["minProperties"] = 1
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # ListSerializer has taken min_length/max_length since DRF 3.14; the stubs do not know them yet
            min_length: int | None = field.min_length  # type: ignore[attr-defined]
            max_length: int | None = field.max_length  # type: ignore[attr-defined]
            if min_length is not None:
                schema["minItems"] = min_length
            if max_length is not None:
                schema["maxItems"] = max_length
        return schema

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return operation
        for parameter in operation.get("parameters", []):
            # Id filters are whole numbers: the views refuse anything else (core.inputs.id_param).
            if parameter["in"] == "query" and parameter.get("schema", {}).get("type") == "integer":
                parameter["schema"].setdefault("minimum", 0)
                parameter["schema"].setdefault("maximum", MAX_ID)
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        for status in self._error_statuses(operation):
            operation["responses"].setdefault(
                str(status),
                {"content": {"application/json": {"schema": error}}, "description": ERRORS[status]},
            )
        return operation

    def _error_statuses(self, operation) -> list[int]:
        statuses = [400, 404, 503]
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            statuses += [401, 403]
        if self.method in UNSAFE_METHODS:
            statuses.append(409)
        if any(parameter.get("name") == IDEMPOTENCY_HEADER for parameter in operation.get("parameters", [])):
            statuses.append(422)
        return sorted(statuses)
