from django.urls import path
from rest_framework.routers import SimpleRouter

from inventory.api import views

router = SimpleRouter()
router.register("locations", views.LocationViewSet, basename="location")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("tax-rates", views.TaxRateViewSet, basename="taxrate")
router.register("products", views.ProductViewSet, basename="product")
router.register("stock-levels", views.StockLevelViewSet, basename="stocklevel")
router.register("stock-moves", views.StockMoveViewSet, basename="stockmove")
router.register("suppliers", views.SupplierViewSet, basename="supplier")
router.register("purchase-orders", views.PurchaseOrderViewSet, basename="purchaseorder")
router.register("stock-counts", views.StockCountViewSet, basename="stockcount")

urlpatterns = [
    path("stock-adjustments/", views.AdjustmentView.as_view(), name="stock-adjustment"),
    path("stock-waste/", views.WasteView.as_view(), name="stock-waste"),
    path("stock-transfers/", views.TransferView.as_view(), name="stock-transfer"),
    path("stock-valuation/", views.StockValuationView.as_view(), name="stock-valuation"),
    *router.urls,
]
