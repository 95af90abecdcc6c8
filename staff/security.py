"""Login lockout (django-axes) glue: the limit per address, the audit trail and the manager's unlock in the admin.

Axes counts failed logins per username + client IP and locks that pair after AXES_FAILURE_LIMIT failures, for
AXES_COOLOFF_TIME or until a manager unlocks it (admin: Access attempts → "Unlock selected logins", or
`manage.py axes_reset_username <username>`). `LoginThrottleHandler` adds a limit per client IP across usernames
(LOGIN_IP_FAILURE_LIMIT within the same cool-off), so that spraying one password over many usernames is stopped
too; `manage.py axes_reset_ip <address>` (or deleting that address's rows in the admin) lifts it. The client IP is
core.client_ip's, the same as in the logs. Each lockout and each lifted lockout leaves an AuditEvent.
"""

import time
from contextlib import contextmanager
from contextvars import ContextVar

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin
from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt, AccessFailureLog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.signals import user_logged_in
from django.db.models import Sum
from django.db.models.signals import post_delete

from staff.audit import audit
from staff.middleware import LAST_ACTIVITY_KEY
from staff.roles import is_manager

_unlocking_user: ContextVar = ContextVar("tillhouse_unlocking_user", default=None)


@contextmanager
def unlocking_as(user):
    """Attribute lockouts lifted inside this block to `user` in the audit trail."""
    token = _unlocking_user.set(user)
    try:
        yield
    finally:
        _unlocking_user.reset(token)


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler, plus: an address with LOGIN_IP_FAILURE_LIMIT failures (all usernames together)
    within the cool-off counts as locked for every username (0 turns this limit off)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        limit = settings.LOGIN_IP_FAILURE_LIMIT
        if limit and address_failures(request) >= limit:
            request.tillhouse_address_locked = True
            return max(failures, get_failure_limit(request, credentials))
        return failures


def address_failures(request) -> int:
    """Failed sign-ins from the request's client address, every username together, within the cool-off."""
    address = getattr(request, "axes_ip_address", None)
    if not address:
        return 0
    attempts = AccessAttempt.objects.filter(ip_address=address)
    if get_cool_off(request) is not None:
        attempts = attempts.filter(attempt_time__gt=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    by_address = getattr(request, "tillhouse_address_locked", False)
    audit(
        "login_locked_out",
        object_type="login",
        object_id=(username or "")[:64],
        data={
            "ip_address": ip_address,
            "scope": "address" if by_address else "username",
            "failure_limit": settings.LOGIN_IP_FAILURE_LIMIT if by_address else settings.AXES_FAILURE_LIMIT,
        },
    )


def record_lockout_lifted(sender, instance: AccessAttempt, **kwargs) -> None:
    """A deleted attempt row that had reached the limit was a lockout: a manager, the CLI or the cool-off ended it."""
    if instance.failures_since_start < settings.AXES_FAILURE_LIMIT:
        return
    actor = _unlocking_user.get()
    audit(
        "login_unlocked",
        actor=actor if actor is not None and actor.is_authenticated else None,
        object_type="login",
        object_id=(instance.username or "")[:64],
        data={"ip_address": instance.ip_address, "failures": instance.failures_since_start},
    )


def start_idle_clock(sender, request=None, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LAST_ACTIVITY_KEY] = int(time.time())


def end_pin_only_session(sender, request=None, **kwargs) -> None:
    """A sign-in (with a password: the PIN switch marks its session again right after) unlocks the terminal and
    lifts the POS-only limit of a session signed in by PIN."""
    if request is not None and hasattr(request, "session"):
        from staff.middleware import SESSION_LOCKED, SESSION_PIN_ONLY, SESSION_SEEN

        request.session.pop(SESSION_PIN_ONLY, None)
        request.session.pop(SESSION_LOCKED, None)
        if SESSION_SEEN in request.session:
            request.session[SESSION_SEEN] = time.time()  # the idle lock's clock starts again too


def connect_signals() -> None:
    user_logged_in.connect(start_idle_clock, dispatch_uid="tillhouse_start_idle_clock")
    user_logged_in.connect(end_pin_only_session, dispatch_uid="tillhouse_end_pin_only_session")
    user_locked_out.connect(record_lockout, dispatch_uid="tillhouse_record_lockout")
    post_delete.connect(record_lockout_lifted, sender=AccessAttempt, dispatch_uid="tillhouse_record_unlock")


class ManagersMayReview:
    """Login records are read by managers (and lockouts lifted by them); nobody edits them."""

    def has_view_permission(self, request, obj=None):
        return is_manager(request.user)

    def has_change_permission(self, request, obj=None):
        return False


class LoginLockoutAdmin(ManagersMayReview, AccessAttemptAdmin):
    actions = ["unlock", "cleanup_expired_attempts"]

    @admin.action(description="Unlock selected logins")
    def unlock(self, request, queryset):
        with unlocking_as(request.user):
            count, _ = queryset.delete()
        self.message_user(request, f"Unlocked {count} login(s).")

    def has_delete_permission(self, request, obj=None):
        return is_manager(request.user)

    def delete_model(self, request, obj):
        with unlocking_as(request.user):
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with unlocking_as(request.user):
            super().delete_queryset(request, queryset)


class FailedLoginAdmin(ManagersMayReview, AccessFailureLogAdmin):
    pass


def register_lockout_admin() -> None:
    for model, model_admin in ((AccessAttempt, LoginLockoutAdmin), (AccessFailureLog, FailedLoginAdmin)):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        admin.site.register(model, model_admin)
