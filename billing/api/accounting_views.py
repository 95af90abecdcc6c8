"""The end-of-day accounting export over the API (managers and read tokens):
`GET /api/v1/accounting/export/?location=&day=&output=json|csv` (docs/ACCOUNTING_EXPORT.md)."""

from datetime import timedelta

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import accounting, reports
from core.errors import NotFound
from staff.permissions import IsManager


class ExportQuerySerializer(serializers.Serializer):
    location = serializers.IntegerField(min_value=1)
    day = serializers.DateField(required=False)
    output = serializers.ChoiceField(choices=["json", "csv"], default="json")

    def validate(self, attrs):
        attrs.setdefault("day", timezone.localdate() - timedelta(days=1))
        return attrs


class AccountingExportView(APIView):
    permission_classes = [IsAuthenticated, IsManager]

    @extend_schema(
        parameters=[
            OpenApiParameter("location", {"type": "integer", "minimum": 1}, required=True, description="The store."),
            OpenApiParameter(
                "day", {"type": "string", "format": "date"}, description="Local day (default: yesterday)."
            ),
            OpenApiParameter("output", str, enum=["json", "csv"], description="json (default) or csv."),
        ],
        responses={
            200: OpenApiResponse(description="The export (docs/ACCOUNTING_EXPORT.md); text/csv with output=csv."),
        },
        summary="End-of-day accounting export of one store",
    )
    def get(self, request):
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        location = reports.report_stores(request.user).filter(pk=data["location"]).first()
        if location is None:
            raise NotFound("No such store.", fields={"location": ["Not a store you can see."]})
        export = accounting.day_export(location, data["day"])
        if data["output"] == "csv":
            response = HttpResponse(accounting.as_csv(export), content_type="text/csv; charset=utf-8")
            name = f"accounting-{location.code}-{data['day'].isoformat()}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        return Response(export)
