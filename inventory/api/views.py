"""The inventory API: thin views that validate, call a service or selector, and serialize."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.inputs import id_param
from inventory import selectors, services
from inventory.api import serializers as s
from inventory.api.pagination import SearchPagination
from inventory.models import Category, Location, Product, PurchaseOrder, StockCount, StockMove, Supplier, TaxRate
from staff.permissions import IsManager, RoleModelPermissions, requires
from staff.selectors import locations_for


class InventoryAPIMixin:
    permission_classes = [IsAuthenticated, RoleModelPermissions]


def _int_param(request, name: str) -> int | None:
    return id_param(request, name)


def _bool_param(request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if value.lower() not in ("true", "false", "1", "0"):
        raise ValidationError({name: ["Must be true or false."]})
    return value.lower() in ("true", "1")


class LocationViewSet(InventoryAPIMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.LocationSerializer
    queryset = Location.objects.none()

    def get_queryset(self):
        return locations_for(self.request.user).order_by("name")


class CategoryViewSet(InventoryAPIMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.CategorySerializer
    queryset = Category.objects.all()


class TaxRateViewSet(InventoryAPIMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.TaxRateSerializer
    queryset = TaxRate.objects.all()


@extend_schema(
    parameters=[
        OpenApiParameter("q", str, description="Barcode, or the start of a sku or name (or part of a name)."),
        OpenApiParameter("category", int),
        OpenApiParameter("active", bool),
    ]
)
class ProductViewSet(
    InventoryAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The catalogue. Everyone on staff may read it; managers create and edit products."""

    serializer_class = s.ProductSerializer
    pagination_class = SearchPagination
    queryset = Product.objects.none()  # the model, for permissions; rows come from get_queryset

    def get_queryset(self):
        return selectors.search_products(
            self.request.query_params.get("q", ""),
            category=_int_param(self.request, "category"),
            active=_bool_param(self.request, "active"),
        )

    @extend_schema(responses=s.ProductSerializer)
    @action(detail=False, url_path=r"barcode/(?P<barcode>[^/]{1,64})")
    def barcode(self, request, barcode: str):
        """The product with exactly this barcode (404 if none)."""
        product = selectors.product_by_barcode(barcode)
        if product is None:
            return Response(
                {"code": "not_found", "message": f"No product has barcode {barcode}.", "fields": {}},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(self.get_serializer(product).data)


@extend_schema(
    parameters=[
        OpenApiParameter("location", int),
        OpenApiParameter("product", int),
        OpenApiParameter("low", bool, description="Only products at or below their reorder point."),
    ]
)
class StockLevelViewSet(InventoryAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Stock on hand at the locations the user works at."""

    serializer_class = s.StockLevelSerializer

    def get_queryset(self):
        locations = locations_for(self.request.user)
        location = _int_param(self.request, "location")
        if location is not None:
            locations = locations.filter(pk=location)
        if _bool_param(self.request, "low"):
            levels = selectors.low_stock(locations=locations)
        else:
            levels = selectors.stock_on_hand(locations=locations)
        product = _int_param(self.request, "product")
        return levels if product is None else levels.filter(product_id=product)


@extend_schema(
    parameters=[
        OpenApiParameter("product", int),
        OpenApiParameter("location", int),
        OpenApiParameter("reason", str, enum=StockMove.Reason.values),
    ]
)
class StockMoveViewSet(InventoryAPIMixin, viewsets.ReadOnlyModelViewSet):
    """The ledger, newest first. Read-only: corrections are new moves (adjustments, counts)."""

    serializer_class = s.StockMoveSerializer

    def get_queryset(self):
        locations = locations_for(self.request.user)
        product = _int_param(self.request, "product")
        if product is not None:
            moves = selectors.product_moves(product=product, locations=locations)
        else:
            moves = StockMove.objects.filter(location__in=locations).select_related("user").order_by("-created_at")
        location = _int_param(self.request, "location")
        if location is not None:
            moves = moves.filter(location_id=location)
        reason = self.request.query_params.get("reason")
        if reason:
            if reason not in StockMove.Reason.values:
                raise ValidationError({"reason": [f"One of: {', '.join(StockMove.Reason.values)}."]})
            moves = moves.filter(reason=reason)
        return moves


class StockChangeView(APIView):
    """POST a stock change; the serializer names the service it calls."""

    permission_classes = [IsAuthenticated, requires("inventory.add_stockmove")]
    serializer_class: type

    def post(self, request):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        result = serializer.save_with(request.user)
        return Response(s.StockResultSerializer(result).data, status=status.HTTP_201_CREATED)


@extend_schema(request=s.AdjustmentSerializer, responses={201: s.StockResultSerializer})
class AdjustmentView(StockChangeView):
    """Correct stock at a location, with a reason."""

    serializer_class = s.AdjustmentSerializer


@extend_schema(request=s.WasteSerializer, responses={201: s.StockResultSerializer})
class WasteView(StockChangeView):
    """Take spoiled or broken stock off the shelf."""

    serializer_class = s.WasteSerializer


@extend_schema(request=s.TransferSerializer, responses={201: s.StockResultSerializer})
class TransferView(StockChangeView):
    """Move stock between two locations (both legs or neither)."""

    serializer_class = s.TransferSerializer


class SupplierViewSet(
    InventoryAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.SupplierSerializer
    queryset = Supplier.objects.all()


class PurchaseOrderViewSet(
    InventoryAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Orders to suppliers. Receiving books stock in and updates each product's moving-average cost."""

    serializer_class = s.PurchaseOrderSerializer
    lookup_value_regex = r"\d+"  # any other id is a 404, not a failed integer lookup

    def get_queryset(self):
        return (
            PurchaseOrder.objects.filter(location__in=locations_for(self.request.user))
            .select_related("supplier", "location")
            .prefetch_related("lines", "receipts__received_by")
        )

    def get_permissions(self):
        if self.action in ("receive", "cancel"):
            return [IsAuthenticated(), requires("inventory.change_purchaseorder")()]
        return super().get_permissions()

    @extend_schema(request=s.ReceiveSerializer, responses={201: s.PurchaseReceiptSerializer})
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        order = get_object_or_404(self.get_queryset(), pk=pk)
        serializer = s.ReceiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        receipt = serializer.save_with(order, request.user)
        return Response(s.PurchaseReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.PurchaseOrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = get_object_or_404(self.get_queryset(), pk=pk)
        services.cancel_purchase_order(purchase_order=order, user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=order.pk)).data)


class StockCountViewSet(
    InventoryAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Stock counts: start (snapshot), enter counted quantities, post the variance once."""

    serializer_class = s.StockCountSerializer
    lookup_value_regex = r"\d+"  # any other id is a 404, not a failed integer lookup

    def get_queryset(self):
        return StockCount.objects.filter(location__in=locations_for(self.request.user)).prefetch_related(
            "lines__product"
        )

    def get_permissions(self):
        if self.action in ("counted", "post_count", "cancel"):
            return [IsAuthenticated(), requires("inventory.change_stockcount")()]
        return super().get_permissions()

    def _refreshed(self, count):
        return Response(self.get_serializer(self.get_queryset().get(pk=count.pk)).data)

    @extend_schema(request=s.CountedSerializer, responses=s.StockCountSerializer)
    @action(detail=True, methods=["post"])
    def counted(self, request, pk=None):
        count = get_object_or_404(self.get_queryset(), pk=pk)
        serializer = s.CountedSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save_with(count, request.user)
        return self._refreshed(count)

    @extend_schema(request=None, responses=s.StockCountSerializer)
    @action(detail=True, methods=["post"], url_path="post")
    def post_count(self, request, pk=None):
        count = get_object_or_404(self.get_queryset(), pk=pk)
        services.post_stock_count(stock_count=count, user=request.user)
        return self._refreshed(count)

    @extend_schema(request=None, responses=s.StockCountSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        count = get_object_or_404(self.get_queryset(), pk=pk)
        services.cancel_stock_count(stock_count=count, user=request.user)
        return self._refreshed(count)


@extend_schema(responses=s.ValuationSerializer, parameters=[OpenApiParameter("location", OpenApiTypes.INT)])
class StockValuationView(APIView):
    """Stock at moving-average cost per location and in total (managers)."""

    permission_classes = [IsAuthenticated, IsManager]

    def get(self, request):
        locations = locations_for(request.user)
        location = _int_param(request, "location")
        if location is not None:
            locations = locations.filter(pk=location)
        return Response(s.ValuationSerializer(selectors.stock_valuation(locations=locations)).data)
