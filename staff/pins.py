"""Personal PINs for the quick user switch on a shared POS terminal.

A PIN is short, so it is only ever checked together with a chosen member of staff, it is stored as a keyed hash
(HMAC-SHA256 with a server-side secret, a salt of its own and the person's id: `hash_pin`), and it is checked by one
function, `verify_pin`, on every path (the switch and lock
screens, a manager's approval on a screen, the API's manager sign-off), which applies three limits:

- per person: `POS_PIN_MAX_ATTEMPTS` wrong PINs in a row lock that PIN for `POS_PIN_LOCKOUT_MINUTES` (database);
- per terminal: `POS_PIN_IP_MAX_ATTEMPTS` wrong PINs, for anyone, within `POS_PIN_IP_WINDOW_MINUTES` refuse every
  PIN from that terminal until the window ends (cache), so one terminal cannot try a PIN on every member in turn;
- per store: `POS_PIN_STORE_MAX_ATTEMPTS` wrong PINs within `POS_PIN_STORE_WINDOW_MINUTES` from all its terminals
  together refuse every PIN at that store until the window ends (cache), so many terminals cannot guess in parallel.

A terminal is named by `terminal_of(request)`: today the client address (as configured for the login lockout), later
a paired terminal's id; the limits only need a stable string. A new PIN must have `POS_PIN_LENGTH` digits (6 by
default) and not be trivially guessable (`pin_problem`); PINs stored earlier keep working. Setting a PIN, each
failure, each lockout and each successful use leave an AuditEvent.

Why a keyed hash and not a slow password hasher: a 6-digit PIN has a million values, which a slow hash does not
save from anyone holding the stored hashes (a million tries of PBKDF2 is an afternoon), while it made every PIN
switch cost about 300 ms of a web worker. What protects a PIN is the lockouts above, and, for a stolen database,
the secret: `POS_PIN_SECRET` (or, when it is empty, `SECRET_KEY` with `SECRET_KEY_FALLBACKS`), which is not in the
database or its backups. A check costs microseconds. PINs stored earlier with Django's password hashers keep
working and are stored keyed at their next successful use (so are PINs checked with a fallback key).
"""

import hashlib
import hmac
import itertools
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone

from core.errors import ApprovalRequired, DomainError, NotFound, PermissionDenied
from core.limits import count_in_window, counted
from staff.audit import audit
from staff.models import StaffProfile
from staff.roles import MANAGER, is_manager

# Forms accept up to this many characters; what a new PIN must be is `pin_problem`'s business.
PIN_MAX_CHARS = 12
# Well-known choices that the pattern checks below do not catch (repeats, runs and palindromes are caught there).
COMMON_PINS = frozenset({"112233", "123321", "147258", "159753", "102030", "121314", "123654", "111222", "000111"})
logger = logging.getLogger(__name__)


PIN_HASH_PREFIX = "pin-hmac-sha256"


def _pin_keys() -> list[bytes]:
    """The secrets PINs are hashed with, the current one first (the rest only check PINs stored earlier)."""
    own = getattr(settings, "POS_PIN_SECRET", "")
    if own:
        return [own.encode()]
    return [key.encode() for key in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))]


def _pin_mac(key: bytes, salt: str, user_id: int, pin: str) -> str:
    return hmac.new(key, f"tillhouse.pin:{salt}:{user_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def hash_pin(pin: str, user_id: int) -> str:
    """What is stored for `user_id`'s PIN: the keyed hash with a fresh salt, bound to that person (copied onto
    another profile it matches nothing)."""
    salt = secrets.token_hex(8)
    return f"{PIN_HASH_PREFIX}${salt}${_pin_mac(_pin_keys()[0], salt, user_id, pin)}"


def pin_matches(pin: str, user_id: int, stored: str) -> tuple[bool, bool]:
    """Whether `pin` is `user_id`'s stored PIN, and whether what is stored should be replaced by `hash_pin` (a PIN
    stored by a password hasher, or keyed with an older secret)."""
    if not stored:
        return False, False
    if stored.startswith(PIN_HASH_PREFIX + "$"):
        _, salt, digest = stored.split("$", 2)
        for n, key in enumerate(_pin_keys()):
            if hmac.compare_digest(_pin_mac(key, salt, user_id, pin), digest):
                return True, n > 0
        return False, False
    return check_password(pin, stored), True


class InvalidPin(PermissionDenied):
    code = "invalid_pin"


class PinLocked(PermissionDenied):
    code = "pin_locked"


def max_attempts() -> int:
    return getattr(settings, "POS_PIN_MAX_ATTEMPTS", 5)


def lockout_period() -> timedelta:
    return timedelta(minutes=getattr(settings, "POS_PIN_LOCKOUT_MINUTES", 15))


def pin_length() -> int:
    return getattr(settings, "POS_PIN_LENGTH", 6)


def ip_max_attempts() -> int:
    return getattr(settings, "POS_PIN_IP_MAX_ATTEMPTS", 30)


def ip_window() -> timedelta:
    return timedelta(minutes=getattr(settings, "POS_PIN_IP_WINDOW_MINUTES", 15))


def store_max_attempts() -> int:
    return getattr(settings, "POS_PIN_STORE_MAX_ATTEMPTS", 60)


def store_window() -> timedelta:
    return timedelta(minutes=getattr(settings, "POS_PIN_STORE_WINDOW_MINUTES", 15))


def terminal_of(request) -> str:
    """The name the PIN limits give the terminal `request` came from: its client address today (the address the
    login lockout uses, so the proxy setting applies to both), a paired terminal's id once terminals exist."""
    from core.client_ip import client_ip

    return client_ip(request) or ""


def _ip_key(terminal: str) -> str:
    return f"pos-pin-failures:{terminal}"


def _store_key(location_id) -> str:
    return f"pos-pin-failures:store:{location_id}"


def _over_limit(key: str | None, limit: int) -> bool:
    """True when the failures counted under `key` reached `limit`. A cache outage fails open (the per-person
    lockout, kept in the database, still applies)."""
    return key is not None and counted(key, what="PIN") >= limit


def _count_failure(key: str | None, window: timedelta) -> int:
    """Count one wrong PIN under `key` in a fixed window that starts at its first failure; return the count."""
    return count_in_window(key, int(window.total_seconds()), what="PIN") if key else 0


def ip_locked(terminal: str | None) -> bool:
    """True when `terminal` has had `ip_max_attempts()` wrong PINs within the window."""
    return _over_limit(_ip_key(terminal) if terminal else None, ip_max_attempts())


def store_locked(location) -> bool:
    """True when the store `location` has had `store_max_attempts()` wrong PINs within the window."""
    return _over_limit(_store_key(location.pk) if location is not None else None, store_max_attempts())


def pin_problem(pin: str) -> str | None:
    """Why `pin` cannot be chosen as a new PIN, or None: it must be `pin_length()` digits and not all one digit, a
    run up or down (123456, 654321, 890123), a repeated block (121212, 123123), a palindrome (123321) or a common
    choice."""
    length = pin_length()
    if not (len(pin) == length and pin.isascii() and pin.isdigit()):
        return f"Use {length} digits."
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({0}, {1}, {9}):
        return "Too easy to guess: not one digit repeated or a run like 123456."
    if any(length % size == 0 and pin == pin[:size] * (length // size) for size in range(2, length // 2 + 1)):
        return "Too easy to guess: not a repeated pattern like 121212."
    if pin == pin[::-1] or pin in COMMON_PINS:
        return "Too easy to guess: choose a less common PIN."
    return None


def check_new_pin(pin: str) -> str:
    """Return `pin` stripped if it may be chosen; raise DomainError (code "invalid", field "pin") if not."""
    pin = (pin or "").strip()
    if problem := pin_problem(pin):
        raise DomainError(f"That PIN cannot be used. {problem}", code="invalid", fields={"pin": [problem]})
    return pin


@transaction.atomic
def set_pin(*, user, pin: str, actor=None) -> StaffProfile:
    """Give `user` a new PIN, clearing any lockout.

    Raises DomainError (code "invalid", field "pin") when the PIN is not `pin_length()` digits or is trivially
    guessable (see `pin_problem`).
    """
    pin = check_new_pin(pin)
    profile, _ = StaffProfile.objects.select_for_update().get_or_create(user=user)
    profile.pin_hash = hash_pin(pin, user.pk)
    profile.pin_failed_attempts = 0
    profile.pin_locked_until = None
    profile.save(update_fields=["pin_hash", "pin_failed_attempts", "pin_locked_until"])
    audit("pin_set", actor=actor or user, object_type="user", object_id=user.pk)
    return profile


def verify_pin(
    *,
    user_id: int,
    pin: str,
    purpose: str = "switch",
    location=None,
    terminal: str | None = None,
    client_ip: str | None = None,
):
    """Check the PIN of staff member `user_id` and return the user: the one check every PIN goes through.

    `purpose` ("switch", "approval", "unlock") is recorded in the audit trail. Each failure counts three times:
    for the person (the `max_attempts()`-th failure in a row locks the PIN for `lockout_period()`; a success resets
    the count), for `terminal` (see `terminal_of`; `client_ip` is its older name) and for the store `location`
    (each refuses every PIN once its limit is reached within its window, whoever is chosen).

    Raises NotFound (no such active staff member), PinLocked (locked, even with the right PIN, or the terminal or
    the store is locked), InvalidPin (wrong PIN, or the member has no PIN yet).
    """
    terminal = terminal or client_ip
    if ip_locked(terminal):
        raise PinLocked("Too many wrong PINs from this terminal: try again later or ask a manager.")
    if store_locked(location):
        raise PinLocked("Too many wrong PINs at this store: try again later or sign in with a password.")
    with transaction.atomic():
        try:
            profile = (
                StaffProfile.objects.select_for_update(of=("self",))
                .select_related("user")
                .get(user_id=user_id, user__is_active=True)
            )
        except (StaffProfile.DoesNotExist, ValueError, TypeError):
            raise NotFound("No such member of staff.", fields={"user": ["Choose who you are."]}) from None
        now = timezone.now()
        if profile.pin_locked_until and profile.pin_locked_until > now:
            minutes = max(1, int((profile.pin_locked_until - now).total_seconds() // 60) + 1)
            error: PermissionDenied = PinLocked(
                f"Too many wrong PINs: locked for {minutes} more minute(s). Ask a manager."
            )
        elif (match := pin_matches(pin or "", profile.user_id, profile.pin_hash))[0]:
            profile.pin_failed_attempts = 0
            profile.pin_locked_until = None
            fields = ["pin_failed_attempts", "pin_locked_until"]
            if match[1]:
                profile.pin_hash = hash_pin(pin, profile.user_id)
                fields.append("pin_hash")
            profile.save(update_fields=fields)
            _audit(f"pin_{purpose}", profile.user, location)
            return profile.user
        else:
            profile.pin_failed_attempts += 1
            locked = profile.pin_failed_attempts >= max_attempts()
            until = now + lockout_period()
            if locked:
                profile.pin_locked_until = until
                profile.pin_failed_attempts = 0
            profile.save(update_fields=["pin_failed_attempts", "pin_locked_until"])
            _audit("pin_failed", profile.user, location, purpose=purpose)
            if locked:
                _audit("pin_locked", profile.user, location, until=until.isoformat())
                error = PinLocked("Too many wrong PINs: this PIN is locked. Ask a manager.")
            else:
                error = InvalidPin("Wrong PIN.", fields={"pin": ["Wrong PIN."]})
            if terminal and _count_failure(_ip_key(terminal), ip_window()) == ip_max_attempts():
                until = now + ip_window()
                _audit("pin_ip_locked", profile.user, location, ip=terminal, until=until.isoformat())
                error = PinLocked("Too many wrong PINs from this terminal: try again later or ask a manager.")
            if location is not None and _count_failure(_store_key(location.pk), store_window()) == store_max_attempts():
                until = now + store_window()
                _audit("pin_store_locked", profile.user, location, until=until.isoformat())
                error = PinLocked("Too many wrong PINs at this store: try again later or sign in with a password.")
    # Raised after the transaction committed, so the failure count and the audit rows are kept.
    raise error


def verify_manager_pin(
    *, user_id: int, pin: str, location=None, terminal: str | None = None, client_ip: str | None = None
):
    """Verify an approving manager's PIN (through `verify_pin` and its limits) and return that manager.

    Raises what verify_pin raises, and ApprovalRequired when the PIN is right but the person is not a manager.
    """
    user = verify_pin(user_id=user_id, pin=pin, purpose="approval", location=location, terminal=terminal or client_ip)
    if not is_manager(user):
        raise ApprovalRequired("Only a manager can approve this.", fields={"approver": ["Not a manager."]})
    return user


def unlock_pin(*, user, actor) -> None:
    """A manager lifts a PIN lockout."""
    if not is_manager(actor):
        raise PermissionDenied("Only a manager can unlock a PIN.")
    with transaction.atomic():
        StaffProfile.objects.filter(user=user).update(pin_failed_attempts=0, pin_locked_until=None)
        audit("pin_unlocked", actor=actor, object_type="user", object_id=user.pk)


def pin_users_for(location, *, managers_only: bool = False):
    """Active staff at `location` who have a PIN, for the switch screen and the manager PIN prompt (managers
    work everywhere)."""
    User = get_user_model()
    query = User.objects.filter(is_active=True, staff__pin_hash__gt="")
    if managers_only:
        return query.filter(groups__name=MANAGER).order_by("first_name", "username")
    if location is not None:
        query = query.filter(staff__locations=location) | query.filter(groups__name=MANAGER)
    return query.distinct().order_by("first_name", "username")


def _audit(action: str, user, location, **data) -> None:
    audit(action, actor=user, location=location, object_type="user", object_id=user.pk, data=data)
