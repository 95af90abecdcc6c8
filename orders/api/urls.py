from rest_framework.routers import SimpleRouter

from orders.api.views import CustomerViewSet, OrderViewSet, TableViewSet

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="api-order")
router.register("tables", TableViewSet, basename="api-table")
router.register("customers", CustomerViewSet, basename="api-customer")

urlpatterns: list = router.urls
