"""Manager screens: sales reports with an hourly chart and CSV export, cash sessions, X and Z report pages."""

from datetime import date, datetime
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from billing import reports, sessions
from billing.charts import hourly_sales_svg
from billing.models import CashSession, ZReport
from core.csv_export import csv_response
from core.errors import DomainError
from core.replicas import reads_from_replica
from staff.roles import is_manager
from staff.selectors import locations_for


def manager_required(view):
    def wrapped(request, *args, **kwargs):
        if not is_manager(request.user):
            raise DjangoPermissionDenied("Only managers may open reports.")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_required(wrapped)


ALL_STORES = "all"


class PeriodForm(forms.Form):
    """Stores and days of a report. `location` is one store's id or "all" (every store the user may read,
    summed); left out, the report opens on the user's own store, or all of their stores if they work at several
    (reports.default_stores), never on a warehouse."""

    location = forms.ChoiceField(label="Store")
    date_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, user):
        today = timezone.localdate()
        self.stores = list(reports.report_stores(user))
        default = reports.default_stores(user)
        chosen = data.get("location") or (str(default[0].pk) if len(default) == 1 else ALL_STORES if default else "")
        data = {
            "location": chosen,
            "date_from": data.get("date_from") or today.replace(day=1).isoformat(),
            "date_to": data.get("date_to") or today.isoformat(),
        }
        super().__init__(data)
        choices = [(str(store.pk), store.name) for store in self.stores]
        if len(self.stores) > 1:
            choices.insert(0, (ALL_STORES, f"All stores ({len(self.stores)})"))
        self.fields["location"].choices = choices

    def period(self) -> reports.Period | None:
        """The period asked for, or None with the form's errors filled in."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        if data["location"] == ALL_STORES:
            stores = self.stores
        else:
            stores = [store for store in self.stores if str(store.pk) == data["location"]]
        try:
            return reports.period(locations=stores, date_from=data["date_from"], date_to=data["date_to"])
        except DomainError as error:
            for field, problems in error.fields.items():
                self.add_error(field if field in self.fields else None, problems)
            return None


SUMMARY_ROWS = (
    ("orders", "Orders"),
    ("gross_sales", "Gross sales"),
    ("discounts", "Discounts"),
    ("service_charge", "Service charge"),
    ("sales", "Sales"),
    ("refunds", "Refunds"),
    ("refund_count", "Refund count"),
    ("net_sales", "Net sales"),
    ("tax", "Tax due"),
    ("net_of_tax", "Net of tax"),
    ("cost", "Cost of goods sold"),
    ("margin", "Gross margin"),
    ("tips", "Tips"),
    ("rounding", "Cash rounding"),
    ("voids", "Voided lines"),
    ("average_ticket", "Average ticket"),
    ("gift_cards_sold", "Gift cards sold (money owed, not sales)"),
)


def _summary_rows(compared: dict) -> list[dict]:
    return [
        {
            "key": key,
            "title": title,
            "current": compared["current"][key],
            "previous": compared["previous"][key],
            "change": compared["change"][key],
        }
        for key, title in SUMMARY_ROWS
    ]


@manager_required
@reads_from_replica
def sales(request):
    """Sales for a date range at a store or all stores: summary beside the previous period, chart by hour, and one
    report (`?report=`) as a table."""
    form = PeriodForm(request.GET, user=request.user)
    p = form.period()
    chosen = reports.REPORTS.get(request.GET.get("report", ""), reports.REPORTS["day"])
    context = {"form": form, "period": p, "reports": reports.REPORTS.values(), "chosen": chosen}
    if p is not None:
        hours = reports.by_hour(p)
        query = request.GET.copy()
        query.pop("report", None)
        query["location"] = form.cleaned_data["location"]
        compared = reports.summary_with_previous(p)
        context.update(
            summary=compared["current"],
            gift_cards=reports.gift_card_liability(p),
            compared=compared,
            summary_rows=_summary_rows(compared),
            chart=hourly_sales_svg(hours, currency=settings.POS_CURRENCY),
            table=_table(chosen, hours if chosen.slug == "hour" else chosen.rows(p)),
            query=query.urlencode(),
        )
    return render(request, "reports/sales.html", context)


class YearForm(forms.Form):
    """A store (or "all") and a calendar year, for the year-over-year screen."""

    location = forms.ChoiceField(label="Store")
    year = forms.IntegerField(min_value=reports.EARLIEST_DAY.year + 1, max_value=reports.LATEST_DAY.year)

    def __init__(self, data, *, user):
        self.stores = list(reports.report_stores(user))
        default = reports.default_stores(user)
        chosen = data.get("location") or (str(default[0].pk) if len(default) == 1 else ALL_STORES if default else "")
        super().__init__({"location": chosen, "year": data.get("year") or timezone.localdate().year})
        choices = [(str(store.pk), store.name) for store in self.stores]
        if len(self.stores) > 1:
            choices.insert(0, (ALL_STORES, f"All stores ({len(self.stores)})"))
        self.fields["location"].choices = choices

    def stores_chosen(self) -> list | None:
        if not self.is_valid():
            return None
        if self.cleaned_data["location"] == ALL_STORES:
            return self.stores
        return [store for store in self.stores if str(store.pk) == self.cleaned_data["location"]]


@manager_required
@reads_from_replica
def year_over_year(request):
    """This year beside last year, month by month, at a store or all stores together."""
    form = YearForm(request.GET, user=request.user)
    stores = form.stores_chosen()
    context: dict = {"form": form}
    if stores:
        compared = reports.year_over_year(locations=stores, year=form.cleaned_data["year"])
        largest = max(
            [row["net_sales"] for row in compared["months"]] + [row["previous_net_sales"] for row in compared["months"]]
        )
        for row in compared["months"]:
            row["bar"] = int(row["net_sales"] * 100 / largest) if largest > 0 else 0
            row["previous_bar"] = int(row["previous_net_sales"] * 100 / largest) if largest > 0 else 0
        context["compared"] = compared
    return render(request, "reports/year.html", context)


@manager_required
@reads_from_replica
def sales_csv(request, report: str):
    """One report as CSV: the same rows and columns as the screen; `summary`: the summary beside the previous
    period."""
    definition = reports.REPORTS.get(report)
    form = PeriodForm(request.GET, user=request.user)
    p = form.period()
    if (definition is None and report != "summary") or p is None:
        return HttpResponse("Unknown report or invalid period.", status=400, content_type="text/plain")
    filename = f"{report}-{p.code}-{p.date_from}-{p.date_to}.csv"
    if definition is None:
        compared = reports.summary_with_previous(p)
        return csv_response(
            filename,
            [
                "Figure",
                f"{p.date_from} to {p.date_to}",
                f"{compared['previous_from']} to {compared['previous_to']}",
                "Change",
            ],
            (
                [row["title"], _text(row["current"]), _text(row["previous"]), _text(row["change"])]
                for row in _summary_rows(compared)
            ),
        )
    return csv_response(
        filename,
        [title for _, title in definition.columns],
        ([_text(row.get(key)) for key, _ in definition.columns] for row in definition.rows(p)),
    )


def _table(report: reports.Report, rows: list[dict]) -> dict:
    """Rows as display cells, each with whether it is a number (right-aligned)."""
    return {
        "report": report,
        "headings": [title for _, title in report.columns],
        "rows": [
            [
                {"text": _text(row.get(key)) or "—", "num": isinstance(row.get(key), int | Decimal)}
                for key, _ in report.columns
            ]
            for row in rows
        ],
    }


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@manager_required
@reads_from_replica
def session_list(request):
    """Recent cash sessions at the manager's locations, with their X or Z report."""
    queryset = (
        CashSession.objects.filter(register__location__in=locations_for(request.user))
        .select_related("register__location", "opened_by", "closed_by", "z_report")
        .order_by("-opened_at", "-id")
    )
    return render(request, "reports/sessions.html", {"sessions": queryset[:100]})


@login_required
@permission_required("billing.view_cashsession", raise_exception=True)
def x_report(request, pk: int):
    """The X report of an open session: running totals, blind for cashiers (no cash expected)."""
    try:
        data = sessions.x_report(session_id=pk, user=request.user)
    except DomainError as error:
        if error.code == "session_closed":
            z = ZReport.objects.filter(session_id=pk).first()
            if z is not None:
                return redirect("reports:z-report", z.pk)
        return _domain_error(request, error)
    session = get_object_or_404(CashSession.objects.select_related("register__location"), pk=pk)
    data.update(register_name=session.register.name, location=session.register.location.name)
    return render(request, "reports/x_report.html", {"session": session, "report": _with_times(data)})


@require_POST
@login_required
@permission_required("billing.view_cashsession", raise_exception=True)
def print_x_report(request, pk: int):
    try:
        sessions.print_x_report(session_id=pk, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "X report sent to the printer.")
    return redirect("reports:x-report", pk)


@manager_required
def z_report(request, pk: int):
    """A Z report as a printable page. The original was printed at close, so this page is marked COPY."""
    z = get_object_or_404(
        ZReport.objects.select_related("register__location", "session"),
        pk=pk,
        register__location__in=locations_for(request.user),
    )
    return render(request, "reports/z_report.html", {"z": z, "report": _with_times(z.data)})


@require_POST
@manager_required
def reprint_z_report(request, pk: int):
    try:
        sessions.reprint_z_report(z_report_id=pk, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "A copy was sent to the printer.")
    return redirect("reports:z-report", pk)


def _with_times(data: dict) -> dict:
    """The report's ISO timestamps as datetimes, so that the page shows them in local time."""
    shown = dict(data)
    for key in ("opened_at", "closed_at", "generated_at"):
        shown[key] = parse_datetime(data[key]) if data.get(key) else None
    shown["movements"] = [{**m, "at": parse_datetime(m["at"])} for m in data.get("movements", [])]
    return shown


def _domain_error(request, error: DomainError):
    return render(request, "reports/error.html", {"message": error.message}, status=error.status)
