"""API clients: issue, check and revoke their tokens.

A token reads `thk_<prefix>_<secret>`. The prefix finds the row; the SHA-256 of the whole token is compared in
constant time. The secret carries 256 random bits, so a fast hash is enough (nothing to brute-force), and the token
is worthless to whoever reads the table. Every client acts through its own service user, whose role follows the
scope (read: Manager's read access; sell: Cashier; manage: Manager), always confined to the client's locations
(staff.selectors.locations_for honours `acting_api_client`).
"""

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, transaction
from django.utils import timezone

from core import writes
from core.errors import DomainError
from staff import queries
from staff.audit import audit
from staff.models import ApiClient
from staff.roles import CASHIER, MANAGER

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "thk_"  # noqa: S105 (what every token starts with, not a secret)
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute per client

ROLE_FOR_SCOPE: dict[str, str] = {
    ApiClient.Scope.READ: MANAGER,
    ApiClient.Scope.SELL: CASHIER,
    ApiClient.Scope.MANAGE: MANAGER,
}
SCOPE_RANK: dict[str, int] = {ApiClient.Scope.READ: 0, ApiClient.Scope.SELL: 1, ApiClient.Scope.MANAGE: 2}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scope_covers(granted: str, needed: str) -> bool:
    """`manage` covers `sell`, which covers `read`."""
    return SCOPE_RANK[granted] >= SCOPE_RANK[needed]


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def create_api_client(
    *, name: str, scope: str, locations: list, created_by=None, expires_at: datetime | None = None
) -> tuple[ApiClient, str]:
    """Create a client and its service user; return the client and the token (the only time it is seen).

    Raises DomainError (code "invalid") for an unknown scope, a taken name, no location or a past expiry."""
    name = (name or "").strip()
    if scope not in ApiClient.Scope.values:
        raise DomainError("Unknown scope.", code="invalid", fields={"scope": [f"One of {ApiClient.Scope.values}."]})
    if not name:
        raise DomainError("A client needs a name.", code="invalid", fields={"name": ["Required."]})
    if ApiClient.objects.filter(name=name).exists():
        raise DomainError("That name is taken.", code="invalid", fields={"name": ["Already used."]})
    if not locations:
        raise DomainError(
            "A client works at one location at least.", code="invalid", fields={"locations": ["Pick one."]}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError("The expiry is in the past.", code="invalid", fields={"expires_at": ["In the past."]})
    prefix, token = _new_token()
    user = get_user_model()(username=f"api-{prefix}", first_name=name[:150])
    user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get(name=ROLE_FOR_SCOPE[scope]))
    client = ApiClient.objects.create(
        name=name,
        user=user,
        scope=scope,
        prefix=prefix,
        token_hash=hash_token(token),
        created_by=created_by,
        expires_at=expires_at,
    )
    client.locations.set(locations)
    audit(
        "api_client_created",
        actor=created_by,
        object_type="inventory.apiclient",
        object_id=client.pk,
        data={"name": name, "scope": scope, "locations": sorted(location.pk for location in locations)},
    )
    return client, token


@transaction.atomic
def revoke_api_client(client: ApiClient, *, actor) -> None:
    """Revoke the client's token for good (its history stays). Revoking twice changes nothing."""
    if ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=actor
    ):
        # "inventory.apiclient": the type its rows have had since before the model moved to staff.
        audit("api_client_revoked", actor=actor, object_type="inventory.apiclient", object_id=client.pk)
    client.refresh_from_db()


def _record_use(client: ApiClient, now: datetime) -> None:
    try:
        with transaction.atomic():
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
    except DatabaseError:
        logger.warning("last use of API client %s not recorded", client.pk, exc_info=True)
        return
    client.last_used_at = now


class InvalidToken(Exception):
    pass


def client_for_token(token: str) -> ApiClient:
    """The live client holding `token`, its last use recorded (at most once a minute; never while writes are paused
    for a restore, and a failure to record it never fails the request).

    Raises InvalidToken (unknown, revoked or expired; the message says which for the caller)."""
    if not token.startswith(TOKEN_PREFIX) or token.count("_") < 2:
        raise InvalidToken("Invalid token.")
    prefix = token[len(TOKEN_PREFIX) :].split("_", 1)[0]
    client = queries.read_client(prefix)
    if client is None or not hmac.compare_digest(client.token_hash, hash_token(token)):
        raise InvalidToken("Invalid token.")
    now = timezone.now()
    if client.revoked_at is not None:
        raise InvalidToken("This token has been revoked.")
    if client.expires_at is not None and client.expires_at <= now:
        raise InvalidToken("This token has expired.")
    if not client.user.is_active:
        raise InvalidToken("This client is disabled.")
    if (client.last_used_at is None or now - client.last_used_at >= LAST_USED_RESOLUTION) and not writes.paused():
        _record_use(client, now)
    setattr(client.user, "acting_api_client", client)  # noqa: B010 - read with getattr (staff.selectors, staff.access)
    return client
