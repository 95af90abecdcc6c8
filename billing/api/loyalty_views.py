"""A customer's loyalty points: the balance and the latest movements of the ledger (billing.loyalty). Points are
spent through the checkout as the `points` tender; managers adjust them in the admin."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import loyalty
from billing.models import LoyaltyMovement
from core.errors import NotFound
from orders.models import Customer
from staff.permissions import has_perms

RECENT_MOVEMENTS = 20


class LoyaltyMovementSerializer(serializers.ModelSerializer):
    order = serializers.UUIDField(source="order.uuid", read_only=True, allow_null=True, default=None)

    class Meta:
        model = LoyaltyMovement
        fields = ["id", "kind", "points", "balance_after", "shortfall", "order", "refund", "reason", "created_at"]


class LoyaltyBalanceSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    balance = serializers.IntegerField(help_text="Whole points; the sum of the customer's movements.")
    movements = LoyaltyMovementSerializer(many=True, help_text=f"The latest {RECENT_MOVEMENTS}, newest first.")


class LoyaltyBalanceView(APIView):
    required_scope = "read"
    permission_classes = [has_perms(read_perm="billing.view_loyaltyaccount")]
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        summary="A customer's loyalty points: the balance and the latest movements",
        description="Customers are shared by every store. To pay with points, send a `points` tender to the "
        "checkout whose amount is a whole number of points at the store's `loyalty_point_value` (locations API).",
        responses={200: LoyaltyBalanceSerializer},
    )
    def get(self, request, customer_id: int):
        if not Customer.objects.filter(pk=customer_id).exists():
            raise NotFound("Unknown customer.", fields={"customer": ["Unknown customer."]})
        movements = (
            LoyaltyMovement.objects.filter(customer_id=customer_id)
            .select_related("order")
            .order_by("-id")[:RECENT_MOVEMENTS]
        )
        body = {"customer": customer_id, "balance": loyalty.balance_of(customer_id), "movements": movements}
        return Response(LoyaltyBalanceSerializer(body).data)
