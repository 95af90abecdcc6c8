"""Paired devices: the device cookie, pairing (by a one-time code or directly) and revocation.

A browser becomes a terminal when a manager pairs it. It then keeps a long-lived signed cookie naming the terminal
and the terminal's pairing generation; pairing the terminal again (to another device) or revoking it moves the
generation on, and the older cookie is refused at its next request.

A pairing code is shown on the unpaired device. The device keeps the code and a random secret in a signed cookie of
its own; the server keeps only keyed hashes of both. A manager confirms the code (naming the terminal), and the
device, at its next poll, proves it is the one that showed the code and collects its device cookie. Codes are short,
without look-alike characters, expire after POS_PAIRING_CODE_MINUTES, and both asking for codes (per address) and
typing wrong ones (per manager) are rate-limited in the cache.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core import writes
from core.errors import DomainError, NotFound
from core.limits import count_in_window, counted
from staff.audit import audit
from staff.models import PairingCode, Terminal
from staff.selectors import locations_for

logger = logging.getLogger(__name__)

DEVICE_COOKIE = "tillhouse_terminal"
PAIRING_COOKIE = "tillhouse_pairing"
_DEVICE_SALT = "staff.terminals.device"
_PAIRING_SALT = "staff.terminals.pairing"
# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: what is read off a tablet across a counter is typed right.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 6
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often

REVOKED_MESSAGE = "This device's pairing was revoked or moved to another device. Ask a manager to pair it again."


def cookie_age() -> int:
    return getattr(settings, "POS_TERMINAL_COOKIE_DAYS", 730) * 86400


def code_minutes() -> int:
    return getattr(settings, "POS_PAIRING_CODE_MINUTES", 10)


def _hash(kind: str, value: str) -> str:
    return salted_hmac(f"staff.terminals.{kind}", value).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:16]


# --- The device cookie ---------------------------------------------------------------------------------------------


def device_terminal(request) -> tuple[Terminal | None, str]:
    """The terminal this browser is paired as, or (None, why) — why is empty for a browser never paired, a message
    for one whose pairing was revoked, moved to another device, or whose cookie does not verify."""
    value = request.COOKIES.get(DEVICE_COOKIE)
    if not value:
        return None, ""
    try:
        data = signing.loads(value, salt=_DEVICE_SALT, max_age=cookie_age())
        terminal_id, generation = int(data["t"]), int(data["g"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None, REVOKED_MESSAGE
    terminal = Terminal.objects.select_related("location", "register", "printer").filter(pk=terminal_id).first()
    if terminal is None or terminal.revoked_at is not None or terminal.generation != generation:
        return None, REVOKED_MESSAGE
    _seen(terminal)
    return terminal, ""


def cookie_terminal(request) -> Terminal | None:
    """The terminal this browser's cookie names when the cookie's signature verifies, even if the terminal was
    revoked or paired elsewhere since (the cookie is then stale): for what such a device may still hand in, its
    offline sales, which are held for a manager rather than applied."""
    value = request.COOKIES.get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=_DEVICE_SALT, max_age=cookie_age())
        terminal_id = int(data["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return Terminal.objects.select_related("location", "register", "printer").filter(pk=terminal_id).first()


def _seen(terminal: Terminal) -> None:
    now = timezone.now()
    if writes.paused() or (terminal.last_seen_at and now - terminal.last_seen_at < SEEN_EVERY):
        return
    try:
        with transaction.atomic():
            Terminal.objects.filter(pk=terminal.pk).update(last_seen_at=now)
    except DatabaseError as exc:  # the database turned read-only (a restore) before this process saw the flag
        if not writes.is_read_only_error(exc):
            raise
        return
    terminal.last_seen_at = now


def device_cookie_value(terminal: Terminal) -> str:
    return signing.dumps({"t": terminal.pk, "g": terminal.generation}, salt=_DEVICE_SALT)


def set_device_cookie(response, terminal: Terminal, *, generation: int | None = None) -> None:
    """Give the browser answering `response` the cookie of `terminal` (at `generation`, by default its current one):
    signed, httpOnly, SameSite=Lax, Secure unless POS_TERMINAL_COOKIE_SECURE is off (development)."""
    value = signing.dumps(
        {"t": terminal.pk, "g": terminal.generation if generation is None else generation}, salt=_DEVICE_SALT
    )
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=cookie_age(),
        httponly=True,
        samesite="Lax",
        secure=getattr(settings, "POS_TERMINAL_COOKIE_SECURE", not settings.DEBUG),
    )
    response.delete_cookie(PAIRING_COOKIE)


# --- Pairing and revoking --------------------------------------------------------------------------------------


def pairable_terminals(user):
    """The terminals `user` may pair: those at the locations they act at."""
    return Terminal.objects.filter(location__in=locations_for(user)).select_related("location", "register")


@transaction.atomic
def pair(*, terminal_id: int, actor, how: str) -> Terminal:
    """Pair terminal `terminal_id` to a (new) device: its generation moves on, so the device it was paired to before
    is refused from now on; a revoked terminal is back in service. `actor` must act at the terminal's location.
    Audited as terminal_paired. Raises NotFound (no such terminal where `actor` acts)."""
    terminal = pairable_terminals(actor).select_for_update(of=("self",)).filter(pk=terminal_id).first()
    if terminal is None:
        raise NotFound("No such terminal at your stores.", fields={"terminal": ["Choose a terminal."]})
    terminal.generation += 1
    terminal.paired_at = timezone.now()
    terminal.paired_by = actor
    terminal.revoked_at = None
    terminal.save(update_fields=["generation", "paired_at", "paired_by", "revoked_at"])
    audit("terminal_paired", actor=actor, obj=terminal, location_id=terminal.location_id, how=how)
    return terminal


@transaction.atomic
def revoke(*, terminal_id: int, actor) -> Terminal:
    """Revoke terminal `terminal_id`: its device is refused at its next request (and shown the pairing screen).
    Audited as terminal_revoked. Raises NotFound."""
    terminal = pairable_terminals(actor).select_for_update(of=("self",)).filter(pk=terminal_id).first()
    if terminal is None:
        raise NotFound("No such terminal at your stores.")
    terminal.generation += 1
    terminal.revoked_at = timezone.now()
    terminal.save(update_fields=["generation", "revoked_at"])
    audit("terminal_revoked", actor=actor, obj=terminal, location_id=terminal.location_id)
    return terminal


# --- Pairing codes -----------------------------------------------------------------------------------------------


def _count(key: str, window_seconds: int) -> int:
    """Count one more under `key` in a fixed window; a cache outage counts nothing (fails open, like the PIN
    limits: pairing still needs a manager)."""
    return count_in_window(key, window_seconds, what="pairing")


def _read_pairing_cookie(request) -> dict:
    try:
        data = signing.loads(request.COOKIES.get(PAIRING_COOKIE, ""), salt=_PAIRING_SALT)
        return {"code": str(data["c"]), "secret": str(data["s"])}
    except (signing.BadSignature, KeyError, TypeError):
        return {}


def pending_pairing(request) -> tuple[str, PairingCode | None]:
    """The code this browser shows and its row, when it has one that has not expired."""
    data = _read_pairing_cookie(request)
    if not data:
        return "", None
    row = PairingCode.objects.filter(device_hash=_hash("device", data["secret"]), expires_at__gt=timezone.now()).first()
    return (data["code"], row) if row is not None else ("", None)


def start_pairing(*, client_address: str) -> tuple[str, str]:
    """A new code for an unpaired device: returns (code, the value of the device's pairing cookie). Raises
    DomainError `rate_limited` (429) when `client_address` asked for POS_PAIRING_CODES_PER_HOUR already."""
    limit = getattr(settings, "POS_PAIRING_CODES_PER_HOUR", 20)
    if _count(f"pos-pairing-codes:{client_address}", 3600) > limit:
        raise DomainError(
            "Too many pairing codes from this address: try again in an hour.", code="rate_limited", status=429
        )
    now = timezone.now()
    PairingCode.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    secret = secrets.token_urlsafe(32)
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                PairingCode.objects.create(
                    code_hash=_hash("code", code),
                    device_hash=_hash("device", secret),
                    expires_at=now + timedelta(minutes=code_minutes()),
                )
        except IntegrityError:  # the same code is still on file (expired or not): draw another
            continue
        return code, signing.dumps({"c": code, "s": secret}, salt=_PAIRING_SALT)
    raise DomainError("Could not draw a free pairing code: reload the page.", code="busy", status=503)


def set_pairing_cookie(response, value: str) -> None:
    response.set_cookie(
        PAIRING_COOKIE,
        value,
        max_age=code_minutes() * 60,
        httponly=True,
        samesite="Lax",
        secure=getattr(settings, "POS_TERMINAL_COOKIE_SECURE", not settings.DEBUG),
    )


@transaction.atomic
def confirm_code(*, code: str, terminal_id: int, actor) -> Terminal:
    """A manager confirms the code shown on a device and names its terminal: the terminal is paired (see pair()) and
    the device collects its cookie at its next poll. Raises DomainError `rate_limited` (429) after
    POS_PAIRING_MAX_WRONG_CODES wrong codes by `actor` within 15 minutes, `invalid_code` (400) for a wrong or
    expired code, NotFound for a terminal outside `actor`'s stores."""
    limit = getattr(settings, "POS_PAIRING_MAX_WRONG_CODES", 10)
    key = f"pos-pairing-wrong:{actor.pk}"
    if counted(key, what="pairing") >= limit:
        raise DomainError("Too many wrong codes: wait 15 minutes.", code="rate_limited", status=429)
    row = (
        PairingCode.objects.select_for_update()
        .filter(code_hash=_hash("code", normalise_code(code)), expires_at__gt=timezone.now(), terminal__isnull=True)
        .first()
    )
    if row is None:
        _count(key, 15 * 60)
        raise DomainError(
            "No device shows this code, or it expired: check it on the device's screen.",
            code="invalid_code",
            fields={"code": ["Wrong or expired code."]},
        )
    terminal = pair(terminal_id=terminal_id, actor=actor, how="code")
    row.terminal, row.generation = terminal, terminal.generation
    row.confirmed_by, row.confirmed_at = actor, timezone.now()
    row.save(update_fields=["terminal", "generation", "confirmed_by", "confirmed_at"])
    return terminal


@transaction.atomic
def collect_pairing(request) -> tuple[Terminal, int] | None:
    """For a device polling its pairing screen: once its code was confirmed, the terminal and the generation to put
    in its cookie (the code is used up); None while it waits."""
    data = _read_pairing_cookie(request)
    if not data:
        return None
    row = (
        PairingCode.objects.select_for_update()
        .select_related("terminal")
        .filter(device_hash=_hash("device", data["secret"]), terminal__isnull=False)
        .first()
    )
    if row is None or row.terminal is None or row.generation is None:
        return None
    terminal, generation = row.terminal, row.generation
    row.delete()
    return terminal, generation


def set_kitchen_sound(*, terminal_id: int, on: bool) -> None:
    """Switch the kitchen display's sound for new tickets on or off, for this terminal."""
    Terminal.objects.filter(pk=terminal_id).update(kitchen_sound=on)
