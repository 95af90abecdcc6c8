"""The manager's catalogue page: upload a CSV file, watch its check, import it when clean; download the catalogue.
Thin: the work is in inventory.imports and inventory.catalogue."""

import csv

from django import forms
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from inventory import catalogue, imports
from inventory.models import CatalogueImport, Location
from staff.access import manager_required

RECENT = 10
ERRORS_SHOWN = 200


class UploadForm(forms.Form):
    file = forms.FileField(label="Catalogue file (CSV, UTF-8)")


@manager_required
@require_http_methods(["GET", "POST"])
def catalogue_page(request):
    """The upload form, the columns a file has, and the last runs. A posted file is kept and its check queued; the
    page of that run follows it."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            run = imports.start_check(filename=upload.name, data=upload.read(), user=request.user)
        except DomainError as error:
            form.add_error("file", error.message)
        else:
            return redirect("inventory:catalogue-run", pk=run.pk)
    context = {
        "form": form,
        "runs": CatalogueImport.objects.defer("content").select_related("created_by")[:RECENT],
        "columns": catalogue.COLUMNS,
        "locations": Location.objects.order_by("code"),
        "manage_nav": "catalogue",
    }
    return render(request, "catalogue/page.html", context, status=400 if form.errors else 200)


@manager_required
@require_GET
def catalogue_run(request, pk: int):
    """One file's check or import: progress while it runs (the page polls itself), then every bad row, or what the
    import will do or did."""
    try:
        run = imports.get_run(pk)
    except DomainError:
        raise Http404("No such catalogue import.") from None
    result = run.result or {}
    context = {
        "run": run,
        "result": result,
        "errors": (result.get("errors") or [])[:ERRORS_SHOWN],
        "error_count": result.get("error_count", 0),
        "progress": imports.progress_of(run) if run.running else {},
        "no_worker": imports.waiting_for_worker(run),
        "manage_nav": "catalogue",
    }
    return render(request, "catalogue/run.html", context)


@manager_required
@require_POST
def catalogue_import(request, pk: int):
    """Import a checked, clean file (once: a second click finds it importing or imported)."""
    try:
        imports.confirm_import(import_id=pk, user=request.user)
    except DomainError as error:
        run = CatalogueImport.objects.filter(pk=pk).defer("content").first()
        if run is None:
            raise Http404("No such catalogue import.") from None
        context = {"run": run, "result": run.result, "refusal": error.message, "manage_nav": "catalogue"}
        return render(request, "catalogue/run.html", context, status=error.status)
    return redirect("inventory:catalogue-run", pk=pk)


class _Echo:
    def write(self, value):
        return value


@manager_required
@require_GET
def catalogue_export(request) -> StreamingHttpResponse:
    """The whole catalogue as CSV, streamed, in the columns the import reads."""
    locations = list(Location.objects.order_by("code"))
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(catalogue.export_header(locations))
        for row in catalogue.export_rows(locations):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="catalogue-{timezone.localdate():%Y-%m-%d}.csv"'
    return response
