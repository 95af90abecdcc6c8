from rest_framework.routers import SimpleRouter

from orders.api.views import OrderViewSet, TableViewSet

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="api-order")
router.register("tables", TableViewSet, basename="api-table")

urlpatterns: list = router.urls
