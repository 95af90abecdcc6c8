"""Query parameters of the sales reports."""

from django.utils import timezone
from rest_framework import serializers


class ReportQuerySerializer(serializers.Serializer):
    location = serializers.IntegerField(min_value=1, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs):
        today = timezone.localdate()
        attrs.setdefault("date_to", attrs.get("date_from", today))
        attrs.setdefault("date_from", attrs["date_to"])
        return attrs
