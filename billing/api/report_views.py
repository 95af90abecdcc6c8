"""Sales reports over the API (managers): `GET /api/v1/reports/<report>/?location=&date_from=&date_to=`."""

from datetime import date, datetime
from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import reports
from billing.api.report_serializers import ReportQuerySerializer
from core.errors import NotFound
from staff.permissions import IsManager

PARAMETERS = [
    OpenApiParameter(
        "location",
        {"type": "integer", "minimum": 1},
        description="One store; left out, every store you may read, summed (warehouses and kitchens have no sales).",
    ),
    OpenApiParameter("date_from", date, description="First local day (default: today); from 2000-01-01."),
    OpenApiParameter("date_to", date, description="Last local day, included (default: date_from); to 2099-12-31."),
]


def period_from(request) -> reports.Period:
    query = ReportQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    stores = reports.report_stores(request.user)
    if data.get("location") is not None:
        location = stores.filter(pk=data["location"]).first()
        if location is None:
            raise NotFound("No such store.", fields={"location": ["Not a store you can see."]})
        chosen = [location]
    else:
        chosen = list(stores)
    return reports.period(locations=chosen, date_from=data["date_from"], date_to=data["date_to"])


def plain(value):
    """JSON-ready: money and quantities as strings (never floats), dates as ISO 8601."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _envelope(p: reports.Period, **content) -> dict:
    return {
        "location": p.location.pk if p.location else None,
        "locations": p.location_ids,
        "date_from": p.date_from.isoformat(),
        "date_to": p.date_to.isoformat(),
        **plain(content),
    }


class SalesSummaryView(APIView):
    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(parameters=PARAMETERS, responses={200: dict})
    def get(self, request):
        p = period_from(request)
        compared = reports.summary_with_previous(p)
        return Response(
            _envelope(
                p,
                report="summary",
                summary=compared["current"],
                previous={
                    "date_from": compared["previous_from"],
                    "date_to": compared["previous_to"],
                    "summary": compared["previous"],
                },
            )
        )


class SalesReportView(APIView):
    """One of: day, hour, product, category, staff, tender, tax, margin, refunds, voids."""

    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(
        parameters=[*PARAMETERS, OpenApiParameter("report", str, OpenApiParameter.PATH, enum=list(reports.REPORTS))],
        responses={200: dict},
    )
    def get(self, request, report: str):
        if report not in reports.REPORTS:
            raise NotFound(f"No report called {report!r}.")
        p = period_from(request)
        definition = reports.REPORTS[report]
        return Response(
            _envelope(
                p,
                report=report,
                title=definition.title,
                columns=[{"key": key, "title": title} for key, title in definition.columns],
                rows=definition.rows(p),
            )
        )
