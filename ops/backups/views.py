"""The backup status page for managers, and its "back up now" button. Thin: data from selectors, work in tasks."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from ops.access import manager_required
from ops.backups.pitr_services import pitr_overview
from ops.backups.selectors import backup_overview
from ops.backups.tasks import backup_now as backup_now_task


@manager_required
@require_GET
def status(request):
    return render(request, "ops/backups.html", {**backup_overview(), "pitr": pitr_overview()})


@manager_required
@require_POST
def backup_now(request):
    backup_now_task.delay(request.user.pk)
    messages.success(request, "Backup started. This page shows it as running until it finishes.")
    return redirect("ops:backups")
