"""Personal PINs for the quick user switch on a shared POS terminal.

A PIN is short, so it is only ever checked together with a chosen member of staff, it is stored hashed with
Django's password hashers, and repeated failures lock it for a while (settings `POS_PIN_MAX_ATTEMPTS`,
`POS_PIN_LOCKOUT_MINUTES`). Failures are also counted per client IP address in the cache, across all staff, so one
terminal cannot try a PIN on every member in turn: `POS_PIN_IP_MAX_ATTEMPTS` failures within
`POS_PIN_IP_WINDOW_MINUTES` refuse every PIN from that address until the window ends. Setting a PIN, each failure, a
lockout and each successful use leave an AuditEvent.
"""

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from inventory.models import AuditEvent, StaffProfile
from inventory.roles import MANAGER, is_manager
from posproject.errors import ApprovalRequired, DomainError, NotFound, PermissionDenied

PIN_PATTERN = re.compile(r"^\d{4,8}$")
logger = logging.getLogger(__name__)


class InvalidPin(PermissionDenied):
    code = "invalid_pin"


class PinLocked(PermissionDenied):
    code = "pin_locked"


def max_attempts() -> int:
    return getattr(settings, "POS_PIN_MAX_ATTEMPTS", 5)


def lockout_period() -> timedelta:
    return timedelta(minutes=getattr(settings, "POS_PIN_LOCKOUT_MINUTES", 15))


def ip_max_attempts() -> int:
    return getattr(settings, "POS_PIN_IP_MAX_ATTEMPTS", 30)


def ip_window() -> timedelta:
    return timedelta(minutes=getattr(settings, "POS_PIN_IP_WINDOW_MINUTES", 15))


def _ip_key(client_ip: str) -> str:
    return f"pos-pin-failures:{client_ip}"


def ip_locked(client_ip: str | None) -> bool:
    """True when `client_ip` has had `ip_max_attempts()` wrong PINs within the window. A cache outage fails open
    (the per-person lockout, kept in the database, still applies)."""
    if not client_ip:
        return False
    try:
        return (cache.get(_ip_key(client_ip)) or 0) >= ip_max_attempts()
    except Exception:
        logger.warning("PIN rate limit unavailable: the cache did not answer", exc_info=True)
        return False


def _count_ip_failure(client_ip: str | None) -> int:
    """Count one wrong PIN from `client_ip` in a fixed window that starts at its first failure; return the count."""
    if not client_ip:
        return 0
    key = _ip_key(client_ip)
    try:
        cache.add(key, 0, timeout=int(ip_window().total_seconds()))
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=int(ip_window().total_seconds()))
        return 1
    except Exception:
        logger.warning("PIN rate limit unavailable: the cache did not answer", exc_info=True)
        return 0


@transaction.atomic
def set_pin(*, user, pin: str, actor=None) -> StaffProfile:
    """Give `user` a new PIN (4 to 8 digits), clearing any lockout.

    Raises DomainError (code "invalid", field "pin") when the PIN is not 4 to 8 digits.
    """
    pin = (pin or "").strip()
    if not PIN_PATTERN.match(pin):
        raise DomainError("A PIN is 4 to 8 digits.", code="invalid", fields={"pin": ["Use 4 to 8 digits."]})
    profile, _ = StaffProfile.objects.select_for_update().get_or_create(user=user)
    profile.pin_hash = make_password(pin)
    profile.pin_failed_attempts = 0
    profile.pin_locked_until = None
    profile.save(update_fields=["pin_hash", "pin_failed_attempts", "pin_locked_until"])
    AuditEvent.objects.create(
        action="pin_set", actor=actor or user, object_type="user", object_id=str(user.pk), data={}
    )
    return profile


def verify_pin(*, user_id: int, pin: str, purpose: str = "switch", location=None, client_ip: str | None = None):
    """Check the PIN of staff member `user_id` and return the user.

    `purpose` ("switch", "approval", "unlock") is recorded in the audit trail. Each failure counts; the
    `max_attempts()`-th failure in a row locks the PIN for `lockout_period()`. A success resets the count.
    With `client_ip` (the terminal's address) failures are also counted per address: the `ip_max_attempts()`-th
    within `ip_window()` refuses every PIN from that address, whoever is chosen, until the window ends.

    Raises NotFound (no such active staff member), PinLocked (locked, even with the right PIN, or the address is
    locked), InvalidPin (wrong PIN, or the member has no PIN yet).
    """
    if ip_locked(client_ip):
        raise PinLocked("Too many wrong PINs from this terminal: try again later or ask a manager.")
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
            error = PinLocked(f"Too many wrong PINs: locked for {minutes} more minute(s). Ask a manager.")
        elif profile.pin_hash and check_password(pin or "", profile.pin_hash):
            profile.pin_failed_attempts = 0
            profile.pin_locked_until = None
            profile.save(update_fields=["pin_failed_attempts", "pin_locked_until"])
            _audit(f"pin_{purpose}", profile.user, location)
            return profile.user
        else:
            profile.pin_failed_attempts += 1
            locked = profile.pin_failed_attempts >= max_attempts()
            if locked:
                profile.pin_locked_until = now + lockout_period()
                profile.pin_failed_attempts = 0
            profile.save(update_fields=["pin_failed_attempts", "pin_locked_until"])
            _audit("pin_failed", profile.user, location, purpose=purpose)
            if locked:
                _audit("pin_locked", profile.user, location, until=profile.pin_locked_until.isoformat())
                error = PinLocked("Too many wrong PINs: this PIN is locked. Ask a manager.")
            else:
                error = InvalidPin("Wrong PIN.", fields={"pin": ["Wrong PIN."]})
            if _count_ip_failure(client_ip) == ip_max_attempts():
                until = now + ip_window()
                _audit("pin_ip_locked", profile.user, location, ip=client_ip, until=until.isoformat())
                error = PinLocked("Too many wrong PINs from this terminal: try again later or ask a manager.")
    # Raised after the transaction committed, so the failure count and the audit rows are kept.
    raise error


def verify_manager_pin(*, user_id: int, pin: str, location=None, client_ip: str | None = None):
    """Verify an approving manager's PIN and return that manager.

    Raises what verify_pin raises, and ApprovalRequired when the PIN is right but the person is not a manager.
    """
    user = verify_pin(user_id=user_id, pin=pin, purpose="approval", location=location, client_ip=client_ip)
    if not is_manager(user):
        raise ApprovalRequired("Only a manager can approve this.", fields={"approver": ["Not a manager."]})
    return user


def unlock_pin(*, user, actor) -> None:
    """A manager lifts a PIN lockout."""
    if not is_manager(actor):
        raise PermissionDenied("Only a manager can unlock a PIN.")
    with transaction.atomic():
        StaffProfile.objects.filter(user=user).update(pin_failed_attempts=0, pin_locked_until=None)
        AuditEvent.objects.create(action="pin_unlocked", actor=actor, object_type="user", object_id=str(user.pk))


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
    AuditEvent.objects.create(
        action=action, actor=user, location=location, object_type="user", object_id=str(user.pk), data=data
    )
