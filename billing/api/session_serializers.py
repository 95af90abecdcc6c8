"""Shapes for cash sessions and Z reports. Input serializers check types; the rules are in billing.sessions."""

from rest_framework import serializers

from billing.models import CashMovement, CashSession, Register, ZReport
from orders.api.serializers import MoneyModelSerializer, money


class RegisterSerializer(MoneyModelSerializer):
    open_session = serializers.SerializerMethodField()

    class Meta:
        model = Register
        fields = ["id", "name", "location", "printer", "active", "last_z_number", "grand_total", "open_session"]

    def get_open_session(self, register) -> int | None:
        return register.open_sessions[0].pk if register.open_sessions else None


class CashMovementSerializer(MoneyModelSerializer):
    user = serializers.StringRelatedField()

    class Meta:
        model = CashMovement
        fields = ["id", "session", "kind", "amount", "reason", "user", "created_at"]


class CashSessionSerializer(MoneyModelSerializer):
    """A session. Counted, expected and over/short stay empty until the blind count closes it."""

    register_name = serializers.CharField(source="register.name", read_only=True)
    opened_by = serializers.StringRelatedField()
    closed_by = serializers.StringRelatedField(allow_null=True)
    approved_by = serializers.StringRelatedField(allow_null=True)
    z_report = serializers.SerializerMethodField()

    class Meta:
        model = CashSession
        fields = [
            "id",
            "register",
            "register_name",
            "status",
            "opened_by",
            "opened_at",
            "opening_float",
            "closed_by",
            "closed_at",
            "counted_cash",
            "counted_denominations",
            "expected_cash",
            "over_short",
            "approved_by",
            "z_report",
        ]

    def get_z_report(self, session) -> dict | None:
        z = getattr(session, "z_report", None)
        return {"id": z.pk, "number": z.number} if z else None

    def to_representation(self, session):
        data = super().to_representation(session)
        if session.status == CashSession.Status.OPEN:
            for key in ("counted_cash", "expected_cash", "over_short"):
                data[key] = None
        return data


class ZReportSerializer(MoneyModelSerializer):
    register_name = serializers.CharField(source="register.name", read_only=True)

    class Meta:
        model = ZReport
        fields = [
            "id",
            "register",
            "register_name",
            "session",
            "number",
            "gross_sales",
            "net_sales",
            "tax_total",
            "grand_total",
            "data",
            "created_at",
        ]
        read_only_fields = fields


class OpenSessionSerializer(serializers.Serializer):
    register = serializers.IntegerField(min_value=1)
    opening_float = money(required=False, allow_null=True, default=None)
    float_denominations = serializers.DictField(
        child=serializers.IntegerField(min_value=0), required=False, default=dict, help_text='{"20": 4, "0.50": 10}'
    )


class ManagerApprovalSerializer(serializers.Serializer):
    """A manager's approval given on the request: another manager by user id and PIN (a manager caller approves
    for themselves without these)."""

    approver = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    approver_pin = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["approver"] and not attrs["approver_pin"]:
            raise serializers.ValidationError({"approver_pin": ["The approving manager's PIN is required."]})
        return attrs


class CashMovementInputSerializer(ManagerApprovalSerializer):
    """Above the store's cap (`max_pay_in`, `max_pay_out`) a manager approves."""

    amount = money()
    reason = serializers.CharField(max_length=200)


class NoSaleSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class CloseSessionSerializer(serializers.Serializer):
    """The blind count. A manager signs off a large difference: the caller themselves if a manager, or another
    manager by user id and PIN."""

    denominations = serializers.DictField(
        child=serializers.IntegerField(min_value=0), allow_empty=False, help_text='{"50": 3, "0.20": 7}'
    )
    approver = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    approver_pin = serializers.CharField(max_length=12, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["approver"] and not attrs["approver_pin"]:
            raise serializers.ValidationError({"approver_pin": ["The approving manager's PIN is required."]})
        return attrs
