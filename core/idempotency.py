"""Apply a request once (DESIGN.md §3.4): the first result of a request is stored under the client's key and
replayed for every retry.

Usable from any edge: the API passes the `Idempotency-Key` header, a screen passes the hidden uuid of its form.

How it holds under concurrency: the key is claimed with ``INSERT … ON CONFLICT DO NOTHING`` in the same transaction
as the work. A duplicate sent while the first is in flight waits on the unique index until the first commits (then
it replays the stored result) or rolls back (then it does the work itself). A request that fails with a domain error
rolls its claim back with everything else, so retrying it with the same key tries again: nothing was applied.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError
from core.models import IdempotencyRecord

MAX_KEY_LENGTH = 128


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict | list | None
    replayed: bool


def scope_for(user, auth=None) -> str:
    """Who a key belongs to: the API credential when the request carried one (a token row: by the hash of its key;
    an API client: by its id), otherwise the user."""
    token_key = getattr(auth, "key", None)
    if isinstance(token_key, str) and token_key:
        return "token:" + hashlib.sha256(token_key.encode()).hexdigest()[:32]
    if getattr(auth, "pk", None) is not None and hasattr(auth, "_meta"):
        return f"{auth._meta.model_name}:{auth.pk}"
    return f"user:{user.pk}"


def clean_key(key) -> str:
    """Validate a client's key: 1-128 printable characters."""
    if not isinstance(key, str) or not key.strip():
        raise DomainError(
            "An idempotency key is required.",
            code="idempotency_key_required",
            fields={"idempotency_key": ["Required."]},
        )
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise DomainError(
            f"An idempotency key is at most {MAX_KEY_LENGTH} printable characters.",
            code="invalid",
            fields={"idempotency_key": ["Invalid key."]},
        )
    return key


def request_hash(endpoint: str, payload) -> str:
    canonical = json.dumps([endpoint, payload], sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    *, scope: str, key: str, endpoint: str, payload, action: Callable[[], tuple[int, dict | list | None]]
) -> Outcome:
    """Run `action` once for (scope, key) and return its (status, body); replay that result for a retry.

    `payload` is what identifies the request (the parsed body); the same key with a different payload or endpoint
    raises IdempotencyKeyReused (422). `action` runs inside this transaction; a DomainError it raises propagates
    and nothing, not even the claim on the key, is kept.
    """
    key = clean_key(key)
    digest = request_hash(endpoint, payload)
    with transaction.atomic():
        record_id = _claim(scope, key, endpoint, digest)
        if record_id is None:
            record = IdempotencyRecord.objects.get(scope=scope, key=key)
            if record.request_hash != digest:
                raise IdempotencyKeyReused(
                    "This idempotency key was already used for a different request.",
                    fields={"idempotency_key": ["Already used for a different request."]},
                )
            if record.response_status is None:
                raise Conflict("The first request with this idempotency key is still running.", code="in_progress")
            return Outcome(record.response_status, record.response_body, True)
        token = _all_or_nothing.set(True)
        try:
            status, body = action()
        finally:
            _all_or_nothing.reset(token)
        body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
        _store(record_id, status, body)
        return Outcome(status, body, False)


# True while an action runs inside run_once: any error it raises leaves run_once's atomic block and rolls the whole
# request back, so the services it calls need no savepoint of their own (see `atomic_step`).
_all_or_nothing: ContextVar[bool] = ContextVar("tillhouse_all_or_nothing", default=False)


def atomic_step(func):
    """transaction.atomic for a service: its own savepoint when called on its own inside a transaction that goes
    on after an error (a test, another service), none inside run_once's action, where an error rolls everything
    back anyway (two round trips less on every checkout)."""

    @functools.wraps(func)
    def inner(*args, **kwargs):
        with transaction.atomic(savepoint=not _all_or_nothing.get()):
            return func(*args, **kwargs)

    return inner


def _claim(scope: str, key: str, endpoint: str, digest: str) -> int | None:
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, key, endpoint, request_hash, created_at) "  # noqa: S608 - table name only
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (scope, key) DO NOTHING RETURNING id",
            [scope, key, endpoint, digest, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


_STORE = "UPDATE orders_idempotencyrecord SET response_status = %s, response_body = %s WHERE id = %s"


def _store(record_id: int, status: int, body) -> None:
    """Keep the result with the claim (a plain UPDATE: this runs on every checkout)."""
    value = IdempotencyRecord._meta.get_field("response_body").get_db_prep_save(body, connection)
    with connection.cursor() as cursor:
        cursor.execute(_STORE, [status, value, record_id])


def purge_records(*, older_than_days: int = 30) -> int:
    """Delete stored results older than `older_than_days`: clients retry within minutes, not months. Returns the
    number deleted."""
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
