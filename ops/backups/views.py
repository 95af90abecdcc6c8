"""The backup status page for managers, and its "back up now" button. Thin: data from selectors, work in tasks."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from inventory.roles import is_manager
from ops.backups.selectors import backup_overview
from ops.backups.tasks import backup_now as backup_now_task


def staff_only(view):
    """Managers and staff; anyone else signed in gets a 403 (not a login loop)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not (request.user.is_staff or is_manager(request.user)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@login_required
@staff_only
@require_GET
def status(request):
    return render(request, "ops/backups.html", backup_overview())


@login_required
@staff_only
@require_POST
def backup_now(request):
    backup_now_task.delay(request.user.pk)
    messages.success(request, "Backup started. This page shows it as running until it finishes.")
    return redirect("ops:backups")
