"""Checkout, refunds and receipts API: thin — validate, call billing.services once per Idempotency-Key,
serialise. Scoped to the user's locations."""

import uuid

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.views import APIView

from billing import services
from billing.api import serializers as s
from billing.api.session_views import approver_from
from billing.models import Receipt, Refund
from core.errors import NotFound
from core.idempotency import clean_key
from core.idempotent_api import HEADER, key_parameter, respond_once
from core.inputs import id_param
from orders.models import Order, OrderLine
from staff.permissions import has_perms, has_roles
from staff.roles import CASHIER, MANAGER
from staff.selectors import locations_for


def _order_pk(user, uuid) -> int:
    pk = Order.objects.filter(uuid=uuid, location__in=locations_for(user)).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFound("Unknown order.", fields={"order": ["Unknown order."]})
    return pk


class CheckoutView(APIView):
    required_scope = "sell"  # API clients: staff/auth.py
    permission_classes = [has_roles(CASHIER, MANAGER)]

    @extend_schema(
        summary="Check out: pay an open order, or sell lines at once, at a register",
        description="Tenders: cash (the only one that gives change, rounded to the store's step), card, voucher, "
        "other, points (the customer's loyalty points: an amount that is a whole number of points at the store's "
        "`loyalty_point_value`, no more than their balance — `insufficient_points` — and only on an order with a "
        "customer — `customer_required`); several tenders split the bill (e.g. per guest). Stock is taken, a "
        "gapless receipt number issued, the customer's points earned and the receipt queued for printing in one "
        "transaction. Requires `Idempotency-Key`.",
        request=s.CheckoutSerializer,
        responses={201: s.SaleSerializer},
        parameters=[key_parameter(required=True)],
    )
    def post(self, request):
        clean_key(request.headers.get(HEADER))  # no key, no sale: refused before any PIN is tried
        data = s.CheckoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # The approver's PIN is checked before the sale's transaction, so a wrong PIN counts even if the sale fails.
        approver = approver_from(request, values, register_id=values["register"])

        def action():
            if values["order"] is not None:
                sale = services.take_payment(
                    order_id=_order_pk(request.user, values["order"]),
                    register_id=values["register"],
                    tenders=data.tenders_given(),
                    user=request.user,
                    approver=approver,
                    reason=values["reason"],
                )
            else:
                sale = services.sell(
                    register_id=values["register"],
                    user=request.user,
                    lines=data.lines_to_sell(),
                    tenders=data.tenders_given(),
                    channel=values["channel"],
                    note=values["note"],
                    approver=approver,
                    reason=values["reason"],
                )
            return status.HTTP_201_CREATED, s.sale_body(sale)

        return respond_once(request, endpoint="checkout", action=action, required=True)


def refund_queryset(user):
    return (
        Refund.objects.filter(order__location__in=locations_for(user))
        .select_related("order", "receipt")
        .prefetch_related("lines")
    )


@extend_schema_view(
    list=extend_schema(summary="Refunds at your locations"),
    retrieve=extend_schema(summary="One refund with its lines and receipt"),
)
class RefundViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RefundSerializer
    required_scope = "sell"
    permission_classes = [has_perms("billing.add_refund", read_perm="billing.view_refund")]

    def get_queryset(self):
        return refund_queryset(self.request.user)

    @extend_schema(
        summary="Refund lines of a paid order (a manager approves)",
        description="Each line gives back its share of what was paid; stock comes back (or is booked as waste "
        "with `restock: false`); a refund receipt gets the register's next number. Requires `Idempotency-Key`.",
        request=s.RefundCreateSerializer,
        responses={201: s.RefundSerializer},
        parameters=[key_parameter(required=True)],
    )
    def create(self, request):
        data = s.RefundCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data

        def action():
            record = services.refund(
                order_id=_order_pk(request.user, values["order"]),
                register_id=values["register"],
                items=data.items(),
                reason=values["reason"],
                tender=values["tender"],
                cash_beyond_paid=values["cash_beyond_paid"],
                user=request.user,
            )
            return status.HTTP_201_CREATED, s.RefundSerializer(refund_queryset(request.user).get(pk=record.pk)).data

        return respond_once(request, endpoint="refunds.create", action=action, required=True)


@extend_schema_view(
    list=extend_schema(
        summary="Receipts at your locations",
        parameters=[
            OpenApiParameter("register", int),
            OpenApiParameter("number", int),
            OpenApiParameter("order", str, description="Order uuid"),
        ],
    ),
    retrieve=extend_schema(summary="One receipt: the order, its lines, payments and refund"),
)
class ReceiptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ReceiptSerializer
    permission_classes = [has_perms("billing.view_receipt", read_perm="billing.view_receipt")]

    def get_queryset(self):
        queryset = (
            Receipt.objects.filter(register__location__in=locations_for(self.request.user))
            .select_related("order", "refund__order", "refund__receipt")
            .prefetch_related(
                Prefetch("order__lines", queryset=OrderLine.objects.order_by("course", "id")),
                "order__payments",
                "refund__lines",
            )
            .order_by("-issued_at", "-id")
        )
        params = self.request.query_params
        for name in ("register", "number"):
            if (value := id_param(self.request, name)) is not None:
                queryset = queryset.filter(**{name: value})
        if params.get("order"):
            try:
                queryset = queryset.filter(order__uuid=uuid.UUID(params["order"][:36]))
            except ValueError:
                queryset = queryset.none()
        return queryset
