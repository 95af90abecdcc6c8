"""Checkout, refunds and receipts API: thin — validate, call billing.services once per Idempotency-Key,
serialise. Scoped to the user's locations."""

import uuid

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import giftcards, receipt_mail, services
from billing.api import serializers as s
from billing.api.session_views import approver_from
from billing.models import Receipt, ReceiptEmail, Refund
from core.errors import NotFound
from core.idempotency import clean_key
from core.idempotent_api import HEADER, key_parameter, respond_once
from core.inputs import choice_param, id_param
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
        "other, gift_card (with the card's `card` code; `allow_partial` takes what the card holds; a card holding "
        "less is refused with `insufficient_balance` and the available balance), points (the customer's loyalty "
        "points: an amount that is a whole number of points at the store's `loyalty_point_value`, no more than "
        "their balance — `insufficient_points` — and only on an order with a customer — `customer_required`); a "
        "line of a gift-card product issues a card (in `gift_cards`, with its code); several tenders split the bill "
        "(e.g. per guest). Stock is taken, a gapless receipt number issued, the customer's points earned and the "
        "receipt queued for printing in one transaction. Requires `Idempotency-Key`.",
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
                card=values["card"],
                store_credit=values["store_credit"],
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
    required_scope = "sell"  # e-mailing a receipt
    permission_classes = [has_perms("billing.view_receipt", read_perm="billing.view_receipt")]

    @extend_schema(
        summary="E-mail a receipt",
        description="Queues the receipt (lines, total and the link to its page) for e-mail to `to`; a worker "
        "sends it after this answer, retrying while the mail server is unreachable. Follow its `status` in "
        "receipt-emails.",
        request=s.ReceiptEmailInputSerializer,
        responses={202: s.ReceiptEmailSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="email",
        url_name="send-email",
        permission_classes=[has_perms("billing.add_receiptemail")],
    )
    def email(self, request, pk=None):
        data = s.ReceiptEmailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        receipt = self.get_object()
        email = receipt_mail.request_receipt_email(
            receipt_id=receipt.pk, to=data.validated_data["to"], user=request.user
        )
        return Response(s.ReceiptEmailSerializer(email).data, status=status.HTTP_202_ACCEPTED)

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


class GiftCardBalanceView(APIView):
    required_scope = "sell"
    permission_classes = [has_roles(CASHIER, MANAGER)]

    @extend_schema(
        summary="A gift card's balance (the code in the body, never in the URL)",
        description="Unknown codes get 404 `gift_card_not_found`; too many unknown codes in a row get 429 "
        "`too_many_attempts` for a while.",
        request=s.GiftCardCodeSerializer,
        responses={200: s.CardBalanceSerializer},
    )
    def post(self, request):
        data = s.GiftCardCodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        card = giftcards.check_balance(data.validated_data["code"], user=request.user)
        return Response(s.card_balance(card, timezone.now()))


class GiftCardIssueView(APIView):
    permission_classes = [has_roles(MANAGER)]

    @extend_schema(
        summary="Issue a card without a sale (store credit, goodwill; a manager, audited)",
        request=s.GiftCardIssueSerializer,
        responses={201: s.GiftCardIssuedSerializer},
        parameters=[key_parameter(required=True)],
    )
    def post(self, request):
        data = s.GiftCardIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["location"] not in {loc.pk for loc in locations_for(request.user)}:
            raise NotFound("Unknown store.", fields={"location": ["Unknown store."]})

        def action():
            card = giftcards.issue_card(
                amount=values["amount"],
                location_id=values["location"],
                kind=values["kind"],
                customer_id=values["customer"],
                reason=values["reason"],
                user=request.user,
            )
            return status.HTTP_201_CREATED, s.issued_card(card)

        return respond_once(request, endpoint="gift-cards.issue", action=action, required=True)


@extend_schema_view(
    list=extend_schema(
        summary="Receipt e-mails at your locations, newest first",
        parameters=[OpenApiParameter("status", str, enum=ReceiptEmail.Status.values), OpenApiParameter("receipt", int)],
    ),
    retrieve=extend_schema(summary="One receipt e-mail: its status, attempts and last error"),
)
class ReceiptEmailViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ReceiptEmailSerializer
    required_scope = "sell"
    permission_classes = [has_perms("billing.change_receiptemail", read_perm="billing.view_receiptemail")]

    def get_queryset(self):
        queryset = ReceiptEmail.objects.filter(location__in=locations_for(self.request.user)).order_by(
            "-created_at", "-id"
        )
        if (wanted := choice_param(self.request, "status", ReceiptEmail.Status.values)) is not None:
            queryset = queryset.filter(status=wanted)
        if (receipt := id_param(self.request, "receipt")) is not None:
            queryset = queryset.filter(receipt_id=receipt)
        return queryset

    @extend_schema(
        summary="Send a failed receipt e-mail again", request=None, responses={202: s.ReceiptEmailSerializer}
    )
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        email = receipt_mail.resend_receipt_email(self.get_object().pk, request.user)
        return Response(s.ReceiptEmailSerializer(email).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Take a failed receipt e-mail off the problem list",
        request=None,
        responses={200: s.ReceiptEmailSerializer},
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        email = receipt_mail.dismiss_receipt_email(self.get_object().pk, request.user)
        return Response(s.ReceiptEmailSerializer(email).data)
