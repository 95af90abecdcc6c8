"""The manager's setup pages: a new store with what it needs to sell (one form, one transaction), then its
checklist with a test print. Thin: the work is in billing.setup."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import setup
from billing.setup_forms import SetupForms
from core.errors import DomainError
from core.inputs import clean_id
from inventory.models import Location
from staff.access import manager_required


@manager_required
@require_http_methods(["GET", "POST"])
def start(request):
    """The stores set up so far, each ready to sell or not, and the form that sets up a new one."""
    forms = SetupForms(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if forms.is_valid():
            try:
                made = setup.set_up_store(
                    store=forms.store.data_for_setup(),
                    tax_rates=[rate for form in forms.taxes.forms if (rate := form.data_for_setup())],
                    registers=[till for form in forms.registers.forms if (till := form.data_for_setup())],
                    tables=forms.tables.cleaned_data["tables"],
                    staff=[person for form in forms.staff.forms if (person := form.data_for_setup())],
                    user=request.user,
                )
            except DomainError as error:
                forms.add_problems(error.fields or {"": [error.message]})
            else:
                messages.success(request, f"{made.location.name} is set up. Check that a sale can be made.")
                return redirect("setup:store", pk=made.location.pk)
        status = 400
    stores = [
        (store, setup.ready_to_sell(store))
        for store in Location.objects.filter(kind=Location.Kind.STORE).order_by("name")
    ]
    context = {"forms": forms, "stores": stores, "manage_nav": "setup"}
    return render(request, "setup/start.html", context, status=status)


@manager_required
@require_GET
def store(request, pk: int):
    """A store's checklist: what a first sale still needs, and a test print for each register's printer."""
    location = get_object_or_404(Location, pk=pk)
    checks = setup.checklist(location)
    registers = location.registers.filter(active=True).select_related("printer").order_by("name")
    tests = {r.pk: setup.last_test_page(r.printer_id) for r in registers if r.printer_id is not None}
    context = {
        "location": location,
        "checks": checks,
        "ready": all(check.ok for check in checks),
        "registers": [(register, tests.get(register.pk)) for register in registers],
        "waiting": any(job is not None and job.status in ("queued", "sending") for job in tests.values()),
        "manage_nav": "setup",
    }
    return render(request, "setup/store.html", context)


@manager_required
@require_POST
def test_print(request, pk: int):
    """Queue a test page on a register's printer, through the print outbox."""
    location = get_object_or_404(Location, pk=pk)
    try:
        register_id = clean_id(request.POST.get("register"), "register")
        if not location.registers.filter(pk=register_id).exists():
            raise Http404("No such register at this store.")
        setup.print_test_page(register_id=register_id, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("setup:store", pk=location.pk)
    messages.success(request, "Test page sent to the printer.")
    return redirect("setup:store", pk=location.pk)
