"""/ops/offline/: terminals with sales still queued offline, and the offline sales held for a manager's review."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing import offline
from billing.models import OfflineSale
from core.errors import DomainError
from ops.access import manager_required


@manager_required
@require_GET
def offline_page(request):
    now = timezone.now()
    backlog = [
        {
            "state": state,
            "oldest_minutes": int((now - state.oldest_queued_at).total_seconds() // 60)
            if state.oldest_queued_at
            else None,
        }
        for state in offline.terminals_with_backlog().order_by("oldest_queued_at")
    ]
    held = OfflineSale.objects.filter(status=OfflineSale.Status.HELD).select_related("terminal", "location", "staff")
    flagged = (
        OfflineSale.objects.filter(status=OfflineSale.Status.APPLIED)
        .exclude(flags=[])
        .select_related("terminal", "order")
        .order_by("-received_at")[:50]
    )
    return render(
        request,
        "ops/offline.html",
        {"backlog": backlog, "held": held.order_by("received_at")[:200], "flagged": flagged, "ops_nav": "offline"},
    )


def _review(service):
    @manager_required
    @require_POST
    def view(request, pk: int):
        try:
            record = service(offline_sale_id=pk, manager=request.user, note=request.POST.get("note", ""))
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("ops:offline")
        messages.success(request, f"Offline sale {record.reference}: {record.get_status_display().lower()}.")
        return redirect("ops:offline")

    return view


offline_apply = _review(offline.apply_held)
offline_reject = _review(offline.reject_held)
