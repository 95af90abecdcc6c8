"""Error tracking: Sentry when SENTRY_DSN is set, with no personal data and secrets scrubbed from every event.

Called at the end of settings (`init_sentry(...)`), so it must not import models.
"""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from ops.redact import MASK, mask_data, mask_text

_REQUEST_KEYS_TO_DROP = ("cookies",)


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """before_send / before_send_transaction: mask secrets in the request, messages, exceptions, frames and extras."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in _REQUEST_KEYS_TO_DROP:
            if request.get(key):
                request[key] = MASK
        if "headers" in request:
            request["headers"] = mask_data(request["headers"])
        if isinstance(request.get("query_string"), str):
            request["query_string"] = mask_text(request["query_string"])
        if "url" in request:
            request["url"] = mask_text(request["url"])
        if "data" in request:
            request["data"] = mask_data(request["data"])
        request.pop("env", None)
    if "user" in event:
        event["user"] = {"id": event["user"].get("id")} if isinstance(event["user"], dict) else {}
    for exception in (event.get("exception") or {}).get("values", []) or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = mask_text(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames", []) or []:
            if "vars" in frame:
                frame["vars"] = mask_data(frame["vars"])
            for key in ("context_line", "pre_context", "post_context"):
                if key in frame:
                    frame[key] = mask_data(frame[key])
    if isinstance(event.get("logentry"), dict):
        event["logentry"] = mask_data(event["logentry"])
    if isinstance(event.get("message"), str):
        event["message"] = mask_text(event["message"])
    for key in ("extra", "contexts", "tags"):
        if key in event:
            event[key] = mask_data(event[key])
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict) and "values" in breadcrumbs:
        breadcrumbs["values"] = mask_data(breadcrumbs["values"])
    elif isinstance(breadcrumbs, list):
        event["breadcrumbs"] = mask_data(breadcrumbs)
    return event


def init_sentry(*, dsn: str, environment: str, release: str, traces_sample_rate: float = 0.0, **options) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        # No personal data: left unset, sentry-sdk sends none (its send_default_pii is deprecated and off by default),
        # and scrub_event removes what an integration might still attach.
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        traces_sample_rate=traces_sample_rate,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=False),
        ],
        **options,
    )
