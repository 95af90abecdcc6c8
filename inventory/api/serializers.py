from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.errors import DomainError
from core.money import MONEY_DIGITS, MONEY_PLACES, QTY_DIGITS, QTY_PLACES
from inventory import services
from inventory.models import (
    Category,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    StockCount,
    StockCountLine,
    StockLevel,
    StockMove,
    Supplier,
    TaxRate,
)
from staff.roles import is_manager
from staff.selectors import locations_for


def quantity_field(**kwargs):
    return serializers.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, **kwargs)


def money_field(**kwargs):
    """An amount at the currency's places with no more whole digits than the money columns hold."""
    from django.conf import settings

    places = settings.POS_CURRENCY_DECIMALS
    return serializers.DecimalField(max_digits=MONEY_DIGITS - MONEY_PLACES + places, decimal_places=places, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class UserLocationField(serializers.PrimaryKeyRelatedField):
    """A location the requesting user works at (managers: any)."""

    def get_queryset(self):
        return locations_for(self.context["request"].user)


@extend_schema_field(OpenApiTypes.INT)
class StockedProductField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return Product.objects.all()


class LocationSerializer(serializers.ModelSerializer):
    # Money controls: above these a manager approves (a tip, the change of one payment, a pay-in, a pay-out).
    max_tip = money_field(read_only=True)
    max_change = money_field(read_only=True)
    max_pay_in = money_field(read_only=True)
    max_pay_out = money_field(read_only=True)
    # Loyalty: points per currency unit paid, what one point pays as the `points` tender, the fewest redeemed at once.
    loyalty_points_per_unit = serializers.DecimalField(max_digits=9, decimal_places=4, read_only=True)
    loyalty_point_value = serializers.DecimalField(max_digits=14, decimal_places=4, read_only=True)
    loyalty_min_redeem = serializers.IntegerField(read_only=True)

    class Meta:
        model = Location
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "active",
            "max_tip",
            "max_change",
            "max_pay_in",
            "max_pay_out",
            "loyalty_points_per_unit",
            "loyalty_point_value",
            "loyalty_min_redeem",
        ]


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "location", "station", "sort_order", "colour"]


class TaxRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxRate
        fields = ["id", "name", "percent"]


class ProductSerializer(serializers.ModelSerializer):
    price = money_field(min_value=Decimal(0))
    cost = money_field(min_value=Decimal(0), required=False)
    reorder_point = quantity_field(min_value=Decimal(0), required=False)
    quantity_places = serializers.IntegerField(
        min_value=0, max_value=3, required=False, help_text="0: sold in whole pieces; up to 3 for weighed goods."
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "barcode",
            "name",
            "kind",
            "category",
            "price",
            "cost",
            "tax_rate",
            "unit",
            "tracked",
            "stock_policy",
            "reorder_point",
            "quantity_places",
            "active",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_barcode(self, value):
        return value.strip() or None if value is not None else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not is_manager(request.user):
            data.pop("cost", None)  # what the shop pays is for managers' eyes
        return data


class StockLevelSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)
    location_code = serializers.CharField(source="location.code", read_only=True)
    reorder_point = serializers.DecimalField(
        source="product.reorder_point", max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, read_only=True
    )

    class Meta:
        model = StockLevel
        fields = ["id", "product", "sku", "name", "location", "location_code", "on_hand", "reorder_point", "updated_at"]


class StockMoveSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", default=None, read_only=True, allow_null=True)

    class Meta:
        model = StockMove
        fields = [
            "id",
            "product",
            "location",
            "delta",
            "reason",
            "reference",
            "note",
            "unit_cost",
            "user",
            "created_at",
        ]


class StockResultSerializer(serializers.Serializer):
    moves = StockMoveSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class AdjustmentSerializer(serializers.Serializer):
    product = StockedProductField()
    location = UserLocationField()
    delta = quantity_field(help_text="Positive adds stock, negative removes it.")
    reason = serializers.CharField(max_length=200)

    def save_with(self, user):
        data = self.validated_data
        return services.adjust_stock(
            product=data["product"], location=data["location"], delta=data["delta"], reason=data["reason"], user=user
        )


class WasteSerializer(serializers.Serializer):
    product = StockedProductField()
    location = UserLocationField()
    quantity = quantity_field(min_value=Decimal("0.001"))
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def save_with(self, user):
        data = self.validated_data
        return services.record_waste(
            product=data["product"], location=data["location"], quantity=data["quantity"], note=data["note"], user=user
        )


class TransferSerializer(serializers.Serializer):
    product = StockedProductField()
    source = UserLocationField()
    destination = UserLocationField()
    quantity = quantity_field(min_value=Decimal("0.001"))
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def save_with(self, user):
        data = self.validated_data
        return services.transfer_stock(
            product=data["product"],
            source=data["source"],
            destination=data["destination"],
            quantity=data["quantity"],
            note=data["note"],
            user=user,
        )


class SupplierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Supplier
        fields = ["id", "name", "email", "phone", "active"]


class PurchaseOrderLineSerializer(serializers.ModelSerializer):
    product = StockedProductField()
    quantity_ordered = quantity_field(min_value=Decimal("0.001"))
    unit_cost = money_field(min_value=Decimal(0))

    class Meta:
        model = PurchaseOrderLine
        fields = ["id", "product", "quantity_ordered", "quantity_received", "unit_cost"]
        read_only_fields = ["quantity_received"]


class PurchaseReceiptSerializer(serializers.ModelSerializer):
    received_by = serializers.CharField(source="received_by.username", default=None, read_only=True)

    class Meta:
        model = PurchaseReceipt
        fields = ["id", "delivery_note", "received_by", "received_at", "lines"]


class PurchaseOrderSerializer(serializers.ModelSerializer):
    supplier = serializers.PrimaryKeyRelatedField(queryset=Supplier.objects.filter(active=True))
    location = UserLocationField()
    lines = PurchaseOrderLineSerializer(many=True)
    receipts = PurchaseReceiptSerializer(many=True, read_only=True)

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "supplier",
            "location",
            "status",
            "reference",
            "note",
            "expected_at",
            "created_at",
            "lines",
            "receipts",
        ]
        read_only_fields = ["status", "created_at"]

    def create(self, validated_data):
        lines = [
            services.PurchaseLineInput(line["product"], line["quantity_ordered"], line["unit_cost"])
            for line in validated_data.pop("lines")
        ]
        return services.create_purchase_order(lines=lines, user=self.context["request"].user, **validated_data)


class ReceiveLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    quantity = quantity_field(min_value=Decimal(0))


class ReceiveSerializer(serializers.Serializer):
    lines = ReceiveLineSerializer(
        many=True, required=False, help_text="Quantities delivered per order line; leave out to receive everything."
    )
    delivery_note = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    allow_over_receipt = serializers.BooleanField(default=False)

    def save_with(self, order, user):
        data = self.validated_data
        quantities = None
        if "lines" in data:
            quantities = {}
            for entry in data["lines"]:
                if entry["line"] in quantities:
                    raise DomainError("A line is listed twice.", code="invalid", fields={"lines": ["Listed twice."]})
                quantities[entry["line"]] = entry["quantity"]
        return services.receive_purchase_order(
            purchase_order=order,
            quantities=quantities,
            user=user,
            delivery_note=data["delivery_note"],
            allow_over_receipt=data["allow_over_receipt"],
        )


class StockCountLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)
    variance = serializers.DecimalField(
        max_digits=QTY_DIGITS,
        decimal_places=QTY_PLACES,
        read_only=True,
        allow_null=True,
        help_text="Null until counted.",
    )

    class Meta:
        model = StockCountLine
        fields = ["product", "sku", "name", "expected", "counted", "variance"]


class StockCountSerializer(serializers.ModelSerializer):
    location = UserLocationField()
    products = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        write_only=True,
        required=False,
        help_text="Count only these products; leave out to count every stocked product.",
    )
    lines = StockCountLineSerializer(many=True, read_only=True)

    class Meta:
        model = StockCount
        fields = ["id", "location", "status", "note", "started_at", "posted_at", "products", "lines"]
        read_only_fields = ["status", "started_at", "posted_at"]

    def create(self, validated_data):
        return services.start_stock_count(
            location=validated_data["location"],
            product_ids=validated_data.get("products"),
            note=validated_data.get("note", ""),
            user=self.context["request"].user,
        )


class CountedLineSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    counted = quantity_field(min_value=Decimal(0))


class CountedSerializer(serializers.Serializer):
    counted = CountedLineSerializer(many=True, allow_empty=False)

    def save_with(self, count, user):
        counted = {entry["product"]: entry["counted"] for entry in self.validated_data["counted"]}
        return services.record_counted_quantities(stock_count=count, counted=counted, user=user)


class ValuationLocationSerializer(serializers.Serializer):
    location = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    units = quantity_field()
    value = money_field()


class ValuationSerializer(serializers.Serializer):
    locations = ValuationLocationSerializer(many=True)
    total = money_field()
