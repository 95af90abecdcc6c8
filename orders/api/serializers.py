"""Orders API shapes. Input serializers only check types and bounds; the rules are in orders.services."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from rest_framework import serializers

from core.money import MONEY_DIGITS
from core.money import MONEY_PLACES as STORED_MONEY_PLACES
from orders.models import Customer, KitchenTicket, Order, OrderLine, Table
from orders.services import MAX_GUESTS, MAX_LINES, MAX_MODIFIERS, NewLine

MONEY_PLACES = settings.POS_CURRENCY_DECIMALS


def money(**kwargs):
    kwargs.setdefault("max_digits", 10 + MONEY_PLACES)
    kwargs.setdefault("decimal_places", MONEY_PLACES)
    kwargs.setdefault("min_value", Decimal(0))
    return serializers.DecimalField(**kwargs)


def quantity(**kwargs):
    return serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"), **kwargs)


class MoneyModelSerializer(serializers.ModelSerializer):
    """Shows stored money (4 places) at the currency's exponent: "5.00", not "5.0000"."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if (
            kwargs.get("decimal_places") == STORED_MONEY_PLACES
            and kwargs.get("max_digits") == MONEY_DIGITS
            and issubclass(field_class, serializers.DecimalField)
        ):
            kwargs["decimal_places"] = MONEY_PLACES
            kwargs["rounding"] = ROUND_HALF_UP
        return field_class, kwargs


class ChosenModifierSerializer(serializers.Serializer):
    """One chosen option as the line keeps it (a snapshot: later catalogue changes leave it as sold)."""

    group = serializers.CharField(read_only=True)
    option = serializers.IntegerField(read_only=True, help_text="The option's id.")
    name = serializers.CharField(read_only=True)
    price = serializers.CharField(read_only=True, help_text="Added to the unit price.")
    ingredient = serializers.IntegerField(read_only=True, help_text="The product it takes out of stock, if any.")
    ingredient_quantity = serializers.CharField(read_only=True, help_text="Per unit of the line.")


class NewLineSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = quantity(required=False, default=Decimal(1))
    modifiers = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=MAX_MODIFIERS,
        help_text="The ids of the chosen options of the product's modifier groups. Each group's min and max are "
        "enforced: a missing or excess choice is a 400 naming `lines[i].modifiers`.",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    course = serializers.IntegerField(min_value=1, max_value=20, required=False, default=1)
    unit_price = money(required=False, allow_null=True, default=None, help_text="Price override (manager).")
    discount_kind = serializers.ChoiceField(choices=Order.DiscountKind.choices, required=False, default="")
    discount_value = serializers.DecimalField(
        max_digits=12, decimal_places=MONEY_PLACES, min_value=Decimal(0), required=False, default=Decimal(0)
    )

    def to_line(self, data=None) -> NewLine:
        data = data or self.validated_data
        return new_line(data)


def new_line(data) -> NewLine:
    return NewLine(
        product_id=data["product"],
        quantity=data["quantity"],
        modifiers=list(data.get("modifiers", [])),
        note=data["note"],
        course=data["course"],
        unit_price=data["unit_price"],
        discount_kind=data["discount_kind"],
        discount_value=data["discount_value"],
    )


class LinesSerializer(serializers.Serializer):
    lines = NewLineSerializer(many=True, min_length=1, max_length=MAX_LINES)
    merge = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: a line identical to one already on the order (same product, price, options, note and "
        "course, no discount, not sent to the kitchen) adds its quantity to that line, as scanning does on the "
        "POS screen. false (default): every line is a new line.",
    )

    def to_lines(self) -> list[NewLine]:
        return [new_line(item) for item in self.validated_data["lines"]]


class OrderCreateSerializer(serializers.Serializer):
    location = serializers.IntegerField(min_value=1)
    channel = serializers.ChoiceField(choices=Order.Channel.choices, default=Order.Channel.RETAIL)
    table = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    guest_count = serializers.IntegerField(min_value=1, max_value=MAX_GUESTS, default=1)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    lines = NewLineSerializer(many=True, required=False, max_length=MAX_LINES, default=list)

    def to_lines(self) -> list[NewLine]:
        return [new_line(item) for item in self.validated_data["lines"]]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class DiscountSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Order.DiscountKind.choices, help_text='"" removes the discount.')
    value = serializers.DecimalField(
        max_digits=12, decimal_places=MONEY_PLACES, min_value=Decimal(0), required=False, default=Decimal(0)
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    line = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class SplitLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    quantity = quantity()


class SplitSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["lines", "even"])
    lines = SplitLineSerializer(many=True, required=False, max_length=MAX_LINES)
    parts = serializers.IntegerField(min_value=2, max_value=MAX_GUESTS, required=False)

    def validate(self, data):
        if data["mode"] == "lines" and not data.get("lines"):
            raise serializers.ValidationError({"lines": ["Choose the lines to move."]})
        if data["mode"] == "even" and not data.get("parts"):
            raise serializers.ValidationError({"parts": ["Give the number of parts."]})
        return data


class EvenSplitSerializer(serializers.Serializer):
    total = money()
    parts = serializers.ListField(child=money())


class MoveSerializer(serializers.Serializer):
    table = serializers.IntegerField(min_value=1, allow_null=True)


class MergeSerializer(serializers.Serializer):
    into = serializers.UUIDField(help_text="The order that receives this order's lines.")


class OrderLineSerializer(MoneyModelSerializer):
    product = serializers.IntegerField(source="product_id")
    modifiers = ChosenModifierSerializer(many=True, read_only=True)

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "product",
            "name",
            "unit_price",
            "quantity",
            "modifiers",
            "note",
            "course",
            "discount_kind",
            "discount_value",
            "discount_amount",
            "price_overridden",
            "line_total",
            "order_discount_amount",
            "service_charge_amount",
            "tax_rate_name",
            "tax_rate_percent",
            "tax_amount",
            "amount_due",
            "status",
            "void_reason",
            "sent_at",
            "quantity_refunded",
        ]
        read_only_fields = fields


class OrderSerializer(MoneyModelSerializer):
    location = serializers.IntegerField(source="location_id")
    table = serializers.IntegerField(source="table_id", allow_null=True)
    staff = serializers.IntegerField(source="staff_id")
    customer = serializers.IntegerField(source="customer_id", allow_null=True, help_text="The customer's id, if any.")
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "uuid",
            "location",
            "channel",
            "table",
            "guest_count",
            "status",
            "staff",
            "customer",
            "note",
            "discount_kind",
            "discount_value",
            "discount_reason",
            "service_charge_percent",
            "service_charge_base",
            "subtotal",
            "discount_total",
            "service_charge",
            "tax_total",
            "total",
            "paid_total",
            "refunded_total",
            "opened_at",
            "paid_at",
            "lines",
        ]
        read_only_fields = fields


class KitchenTicketSerializer(serializers.ModelSerializer):
    lines = serializers.SerializerMethodField()

    class Meta:
        model = KitchenTicket
        fields = ["id", "station", "course", "status", "created_at", "lines"]
        read_only_fields = fields

    def get_lines(self, ticket) -> list[int]:
        return [line.pk for line in ticket.lines.all()]


class TableSerializer(serializers.ModelSerializer):
    location = serializers.IntegerField(source="location_id")
    open_orders = serializers.IntegerField(read_only=True)

    class Meta:
        model = Table
        fields = ["id", "location", "name", "section", "seats", "open_orders"]
        read_only_fields = fields


# --- Customers ----------------------------------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "phone",
            "email",
            "company",
            "tax_id",
            "card_code",
            "marketing_consent",
            "marketing_consent_at",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CustomerCreateSerializer(serializers.Serializer):
    """What a new customer is made of; orders.services.create_customer cleans the phone and e-mail and refuses
    duplicates (`duplicate_customer`)."""

    name = serializers.CharField(max_length=120, trim_whitespace=False)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="", trim_whitespace=False)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="", trim_whitespace=False)
    company = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    tax_id = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    card_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    marketing_consent = serializers.BooleanField(required=False, default=False)


class CustomerSummarySerializer(serializers.Serializer):
    orders_count = serializers.IntegerField()
    total_spent = money(help_text="Paid net of refunds, over the paid and refunded orders.")
    first_visit = serializers.DateTimeField(allow_null=True)
    last_visit = serializers.DateTimeField(allow_null=True)
    average_ticket = money(allow_null=True, help_text="Total spent divided by the number of orders.")


class PurchaseSerializer(MoneyModelSerializer):
    location = serializers.IntegerField(source="location_id")

    class Meta:
        model = Order
        fields = ["uuid", "location", "status", "paid_at", "total", "refunded_total"]
        read_only_fields = fields


class CustomerDetailSerializer(CustomerSerializer):
    """A customer with their lifetime figures and latest purchases (orders.selectors)."""

    summary = CustomerSummarySerializer(read_only=True)
    purchases = PurchaseSerializer(many=True, read_only=True)

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "summary", "purchases"]
        read_only_fields = fields


class ConsentSerializer(serializers.Serializer):
    consent = serializers.BooleanField()


class CustomerMergeSerializer(serializers.Serializer):
    into = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The surviving customer's id.")


class EraseSerializer(serializers.Serializer):
    confirm = serializers.ChoiceField(["erase"], help_text='"erase": erasing is irreversible.')


class AttachCustomerSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class CustomerExportSerializer(serializers.Serializer):
    """One customer's data as kept (orders.selectors.customer_export)."""

    customer = serializers.DictField()
    merged_records = serializers.ListField(child=serializers.DictField())
    summary = serializers.DictField()
    orders = serializers.ListField(child=serializers.DictField())
