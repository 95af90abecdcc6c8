"""Structured logs: one JSON object per line, each carrying the request id of the request (or task) it belongs to.

- `RequestIdMiddleware` accepts a sane `X-Request-ID` or makes one, echoes it on the response and logs one access
  line per request (method, path, status, latency, client ip, user id).
- `RequestContextFilter` copies the current request id, user id and Celery task id onto every log record.
- The Celery signal handlers (connected in `ops.apps`) put the request id into the headers of every task published
  while handling a request, and restore it while the worker runs that task, so its log lines carry the same id.
- Both formatters mask secrets (`ops.redact`); `TextFormatter` is the human-readable one used when DEBUG is on.
"""

import contextvars
import datetime as dt
import json
import logging
import re
import time
import traceback
import uuid

from django.utils.functional import empty

from core.client_ip import client_ip
from ops.redact import mask_data, mask_text

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# Probes and scrapes arrive every few seconds: their access lines are DEBUG, not INFO.
_QUIET_PATHS = ("/health", "/metrics", "/api/v1/health")

access_logger = logging.getLogger("tillhouse.request")

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "request_id", "user_id", "task_id", "request", "color_message"}
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The caller's id when it is a plausible one (no spaces, no control characters, 8–128 chars), else a new one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return new_request_id()


def _user_id_if_loaded(request) -> int | None:
    """The user's id only if something already loaded the user: logging must not cost a session query."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty:
        return None
    return getattr(wrapped, "pk", None)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        rid_token = request_id_var.set(request_id)
        uid_token = user_id_var.set(None)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._log(request, response.status_code, started)
            return response
        finally:
            request_id_var.reset(rid_token)
            user_id_var.reset(uid_token)

    def _log(self, request, status: int, started: float) -> None:
        user_id = _user_id_if_loaded(request)
        if user_id is not None:
            user_id_var.set(user_id)
        path = request.get_full_path()
        level = logging.DEBUG if path.startswith(_QUIET_PATHS) and status < 500 else logging.INFO
        if not access_logger.isEnabledFor(level):
            return
        access_logger.log(
            level,
            "%s %s %s",
            request.method,
            mask_text(path),
            status,
            extra={
                "method": request.method,
                "path": mask_text(path),
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "client_ip": client_ip(request),
            },
        )


class RequestContextFilter(logging.Filter):
    """Adds request_id, user_id and task_id to every record (None when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "user_id", None) is None:
            record.user_id = user_id_var.get()
        if getattr(record, "task_id", None) is None:
            record.task_id = task_id_var.get()
        return True


def _extras(record: logging.LogRecord) -> dict:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
        }
        task_id = getattr(record, "task_id", None)
        if task_id:
            entry["task_id"] = task_id
        for key, value in mask_data(_extras(record)).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = mask_text("".join(traceback.format_exception(*record.exc_info)))
        elif record.stack_info:
            entry["stack"] = mask_text(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For people reading a terminal (DEBUG on): `12:00:01 INFO  [ab12cd34] tillhouse.request GET / 200`."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = (
            f"{when} {record.levelname:<7} [{(request_id or '-')[:8]}] {record.name} {mask_text(record.getMessage())}"
        )
        extras = _extras(record)
        if "latency_ms" in extras:
            line += f" ({extras['latency_ms']} ms)"
        if record.exc_info:
            line += "\n" + mask_text("".join(traceback.format_exception(*record.exc_info)))
        return line


# --- Celery: carry the request id from the web request into the task's logs --------------------------------------


_task_tokens: dict[str, tuple] = {}


def stamp_request_id_on_task(headers=None, **kwargs) -> None:
    """before_task_publish: the task message gets the id of the request (or task) that published it."""
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


def restore_request_id_in_task(task_id=None, task=None, **kwargs) -> None:
    """task_prerun: while the worker runs the task, log records carry the publisher's request id."""
    request_id = getattr(getattr(task, "request", None), "request_id", None) or request_id_var.get()
    _task_tokens[task_id] = (request_id_var.set(request_id), task_id_var.set(task_id))


def forget_request_id_after_task(task_id=None, **kwargs) -> None:
    """task_postrun: the next task run in this worker starts without an id."""
    tokens = _task_tokens.pop(task_id, None)
    if tokens:
        request_id_var.reset(tokens[0])
        task_id_var.reset(tokens[1])
