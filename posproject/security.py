"""Login lockout (django-axes) glue: the audit trail and the manager's unlock in the admin.

Axes counts failed logins per username + client IP and locks that pair after AXES_FAILURE_LIMIT failures, for
AXES_COOLOFF_TIME or until a manager unlocks it (admin: Access attempts → "Unlock selected logins", or
`manage.py axes_reset_username <username>`). Each lockout and each lifted lockout leaves an AuditEvent.
"""

import time
from contextlib import contextmanager
from contextvars import ContextVar

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin
from axes.models import AccessAttempt, AccessFailureLog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete

from inventory.models import AuditEvent
from inventory.roles import is_manager
from posproject.middleware import LAST_ACTIVITY_KEY

_unlocking_user: ContextVar = ContextVar("tillhouse_unlocking_user", default=None)


@contextmanager
def unlocking_as(user):
    """Attribute lockouts lifted inside this block to `user` in the audit trail."""
    token = _unlocking_user.set(user)
    try:
        yield
    finally:
        _unlocking_user.reset(token)


def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    AuditEvent.objects.create(
        action="login_locked_out",
        object_type="login",
        object_id=(username or "")[:64],
        data={"ip_address": ip_address, "failure_limit": settings.AXES_FAILURE_LIMIT},
    )


def record_lockout_lifted(sender, instance: AccessAttempt, **kwargs) -> None:
    """A deleted attempt row that had reached the limit was a lockout: a manager, the CLI or the cool-off ended it."""
    if instance.failures_since_start < settings.AXES_FAILURE_LIMIT:
        return
    actor = _unlocking_user.get()
    AuditEvent.objects.create(
        action="login_unlocked",
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
        from orders.views import SESSION_LOCKED, SESSION_PIN_ONLY, SESSION_SEEN

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
