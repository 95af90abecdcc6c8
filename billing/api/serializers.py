"""Checkout, refund and receipt shapes. Input serializers check types and bounds; the rules are in
billing.services."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.api.session_serializers import ManagerApprovalSerializer
from billing.giftcards import display_code
from billing.models import GiftCard, Payment, Receipt, ReceiptEmail, Refund, RefundLine
from billing.receipts import receipt_url
from billing.services import RefundItem
from core.money import quantize
from orders.api.serializers import (
    MoneyModelSerializer,
    NewLineSerializer,
    OrderLineSerializer,
    OrderSerializer,
    money,
    new_line,
    quantity,
)
from orders.models import Order
from orders.pricing import TenderInput
from orders.services import MAX_GUESTS, MAX_LINES


class TenderSerializer(serializers.Serializer):
    tender = serializers.ChoiceField(choices=Payment.Tender.choices)
    amount = money(
        required=False, allow_null=True, default=None, help_text="Card/voucher/other: charged (default: the rest)."
    )
    tendered = money(
        required=False, allow_null=True, default=None, help_text="Cash: handed over (default: exactly what is due)."
    )
    tip = money(required=False, default=Decimal(0), help_text="On top of the tender; or give `tip_percent`.")
    tip_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal(100),
        required=False,
        allow_null=True,
        default=None,
        help_text="A tip of this percent of the order's total, instead of `tip`.",
    )
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    guest = serializers.IntegerField(min_value=1, max_value=MAX_GUESTS, required=False, allow_null=True, default=None)
    card = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default="", help_text="gift_card: the card's code."
    )
    allow_partial = serializers.BooleanField(
        default=False, help_text="gift_card: a card holding less than `amount` pays what it holds."
    )


def tender_inputs(items) -> list[TenderInput]:
    return [
        TenderInput(
            tender=item["tender"],
            amount=item["amount"],
            tendered=item["tendered"],
            tip=item["tip"],
            reference=item["reference"],
            guest=item["guest"],
            tip_percent=item["tip_percent"],
            card=item["card"],
            allow_partial=item["allow_partial"],
        )
        for item in items
    ]


class CheckoutSerializer(ManagerApprovalSerializer):
    """A tip or change above the store's caps, or a sale of 0.00 (with `reason`), needs a manager's approval."""

    register = serializers.IntegerField(min_value=1)
    order = serializers.UUIDField(
        required=False, allow_null=True, default=None, help_text="Pay this open order; or give `lines` instead."
    )
    lines = NewLineSerializer(
        many=True, required=False, max_length=MAX_LINES, help_text="Sell these lines at once (no `order`)."
    )
    channel = serializers.ChoiceField(choices=Order.Channel.choices, default=Order.Channel.RETAIL)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    tenders = TenderSerializer(many=True, max_length=20)
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Why a sale is 0.00."
    )

    def validate(self, data):
        data = super().validate(data)
        if (data.get("order") is None) == (not data.get("lines")):
            raise serializers.ValidationError({"order": ["Give either an open order or lines to sell."]})
        return data

    def lines_to_sell(self):
        return [new_line(item) for item in self.validated_data.get("lines") or []]

    def tenders_given(self):
        return tender_inputs(self.validated_data["tenders"])


class RefundLineInputSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    quantity = quantity()
    restock = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: back to stock; false: recorded as waste; omitted or null: by the product's kind "
        "(menu items are wasted, goods go back to stock).",
    )


class RefundCreateSerializer(serializers.Serializer):
    order = serializers.UUIDField()
    register = serializers.IntegerField(min_value=1)
    lines = RefundLineInputSerializer(many=True, min_length=1, max_length=MAX_LINES)
    reason = serializers.CharField(max_length=200)
    tender = serializers.ChoiceField(
        choices=Payment.Tender.choices, required=False, allow_null=True, default=None, help_text="Default: original."
    )
    cash_beyond_paid = serializers.BooleanField(
        default=False, help_text="Cash from the drawer beyond what was paid in cash on the order (a manager gives it)."
    )
    card = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="tender gift_card: the card that paid to refund onto (default: the card that paid the most).",
    )
    store_credit = serializers.BooleanField(
        default=False, help_text="Refund onto a new store-credit card (tied to the order's customer) instead."
    )

    def items(self) -> list[RefundItem]:
        return [RefundItem(i["line"], i["quantity"], i["restock"]) for i in self.validated_data["lines"]]


class PaymentSerializer(MoneyModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "tender", "amount", "tendered", "change", "tip", "rounding", "reference", "guest", "created_at"]
        read_only_fields = fields


class ReceiptRefSerializer(serializers.ModelSerializer):
    register = serializers.IntegerField(source="register_id")

    class Meta:
        model = Receipt
        fields = ["id", "register", "number", "kind", "issued_at"]
        read_only_fields = fields


class OrderTotalsSerializer(OrderSerializer):
    class Meta(OrderSerializer.Meta):
        fields = [f for f in OrderSerializer.Meta.fields if f != "lines"]
        read_only_fields = fields


class GiftCardIssuedSerializer(serializers.Serializer):
    """A card sold or issued: its full code (printed on the receipt), balance and expiry."""

    id = serializers.IntegerField()
    code = serializers.CharField()
    kind = serializers.CharField()
    balance = money()
    expires_at = serializers.DateTimeField(allow_null=True)


class CardBalanceSerializer(serializers.Serializer):
    """A card's balance, as a balance check or a redemption leaves it (the code masked)."""

    card = serializers.CharField(help_text="The code's last four characters.")
    kind = serializers.CharField()
    balance = money()
    expires_at = serializers.DateTimeField(allow_null=True)
    expired = serializers.BooleanField()


class GiftCardCodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)


class GiftCardIssueSerializer(ManagerApprovalSerializer):
    location = serializers.IntegerField(min_value=1)
    amount = money(min_value=Decimal("0.01"))
    kind = serializers.ChoiceField(choices=GiftCard.Kind.choices, default=GiftCard.Kind.STORE_CREDIT)
    customer = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=200)


def issued_card(card) -> dict:
    return {
        "id": card.pk,
        "code": display_code(card.code),
        "kind": card.kind,
        "balance": _money(card.balance),
        "expires_at": _time(card.expires_at),
    }


def card_balance(card, now) -> dict:
    return {
        "card": card.masked_code,
        "kind": card.kind,
        "balance": _money(card.balance),
        "expires_at": _time(card.expires_at),
        "expired": card.is_expired(now),
    }


class SaleSerializer(serializers.Serializer):
    """What a checkout returns: the paid order, its lines, the receipt and the payments."""

    order = OrderTotalsSerializer()
    lines = OrderLineSerializer(many=True)
    receipt = ReceiptRefSerializer()
    payments = PaymentSerializer(many=True)
    change = money()
    warnings = serializers.ListField(child=serializers.CharField())
    print_job = serializers.IntegerField(source="print_job.pk")
    gift_cards = serializers.SerializerMethodField(help_text="Gift cards sold on this order.")
    card_balances = serializers.SerializerMethodField(help_text="What each gift card that paid holds now.")

    @extend_schema_field(GiftCardIssuedSerializer(many=True))
    def get_gift_cards(self, sale) -> list:
        return [issued_card(card) for card in sale.gift_cards]

    @extend_schema_field(CardBalanceSerializer(many=True))
    def get_card_balances(self, sale) -> list:
        return [card_balance(p.gift_card, sale.order.paid_at) for p in sale.payments if p.gift_card_id]


ORDER_TOTALS = ("subtotal", "discount_total", "service_charge", "tax_total", "total", "paid_total", "refunded_total")
LINE_AMOUNTS = (
    "unit_price",
    "discount_value",
    "discount_amount",
    "line_total",
    "order_discount_amount",
    "service_charge_amount",
    "tax_amount",
    "amount_due",
)
PAYMENT_AMOUNTS = ("amount", "tendered", "change", "tip", "rounding")


def _money(value) -> str:
    return f"{quantize(value):f}"


def _qty(value) -> str:
    return f"{Decimal(value).quantize(Decimal('0.001')):f}"


def _time(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def sale_body(sale) -> dict:
    """SaleSerializer's output, built directly: the checkout is the hot path and DRF's field machinery costs more
    than the database work there. test_checkout_api checks the two agree."""
    order = sale.order
    return {
        "order": {
            "uuid": str(order.uuid),
            "location": order.location_id,
            "channel": order.channel,
            "table": order.table_id,
            "guest_count": order.guest_count,
            "status": order.status,
            "staff": order.staff_id,
            "customer": order.customer_id,
            "note": order.note,
            "discount_kind": order.discount_kind,
            "discount_value": _money(order.discount_value),
            "discount_reason": order.discount_reason,
            "service_charge_percent": f"{Decimal(order.service_charge_percent):.2f}",
            "service_charge_base": order.service_charge_base,
            **{name: _money(getattr(order, name)) for name in ORDER_TOTALS},
            "opened_at": _time(order.opened_at),
            "paid_at": _time(order.paid_at),
        },
        "lines": [
            {
                "id": line.pk,
                "product": line.product_id,
                "name": line.name,
                "quantity": _qty(line.quantity),
                "modifiers": line.modifiers,
                "note": line.note,
                "course": line.course,
                "discount_kind": line.discount_kind,
                "price_overridden": line.price_overridden,
                "tax_rate_name": line.tax_rate_name,
                "tax_rate_percent": f"{line.tax_rate_percent:.3f}",
                "status": line.status,
                "void_reason": line.void_reason,
                "sent_at": _time(line.sent_at),
                "quantity_refunded": _qty(line.quantity_refunded),
                **{name: _money(getattr(line, name)) for name in LINE_AMOUNTS},
            }
            for line in sale.lines
        ],
        "receipt": {
            "id": sale.receipt.pk,
            "register": sale.receipt.register_id,
            "number": sale.receipt.number,
            "kind": sale.receipt.kind,
            "issued_at": _time(sale.receipt.issued_at),
        },
        "payments": [
            {
                "id": p.pk,
                "tender": p.tender,
                "reference": p.reference,
                "guest": p.guest,
                "created_at": _time(p.created_at),
                **{name: _money(getattr(p, name)) for name in PAYMENT_AMOUNTS},
            }
            for p in sale.payments
        ],
        "change": _money(sale.change),
        "warnings": list(sale.warnings),
        "print_job": sale.print_job.pk,
        "gift_cards": [issued_card(card) for card in sale.gift_cards],
        "card_balances": [card_balance(p.gift_card, order.paid_at) for p in sale.payments if p.gift_card_id],
    }


class RefundLineSerializer(MoneyModelSerializer):
    class Meta:
        model = RefundLine
        fields = ["order_line", "quantity", "amount", "tax_amount", "service_charge_amount", "restock"]
        read_only_fields = fields


class RefundSerializer(MoneyModelSerializer):
    order = serializers.UUIDField(source="order.uuid")
    lines = RefundLineSerializer(many=True)
    receipt = ReceiptRefSerializer()

    class Meta:
        model = Refund
        fields = [
            "id",
            "order",
            "tender",
            "amount",
            "tax_amount",
            "reason",
            "created_by",
            "approved_by",
            "created_at",
            "lines",
            "receipt",
        ]
        read_only_fields = fields


class ReceiptSerializer(serializers.ModelSerializer):
    register = serializers.IntegerField(source="register_id")
    order = OrderSerializer()
    payments = PaymentSerializer(source="order.payments", many=True)
    refund = RefundSerializer(allow_null=True)
    url = serializers.SerializerMethodField(
        help_text="The guest's page of this receipt (its QR code); empty without PUBLIC_BASE_URL."
    )

    class Meta:
        model = Receipt
        fields = ["id", "register", "number", "kind", "issued_at", "order", "payments", "refund", "url"]
        read_only_fields = fields

    def get_url(self, receipt) -> str:
        return receipt_url(receipt)


class ReceiptEmailInputSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=254, help_text="The address to send the receipt to.")


class ReceiptEmailSerializer(serializers.ModelSerializer):
    receipt = serializers.IntegerField(source="receipt_id")

    class Meta:
        model = ReceiptEmail
        fields = [
            "id",
            "receipt",
            "to_address",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
            "dismissed_at",
        ]
        read_only_fields = fields
