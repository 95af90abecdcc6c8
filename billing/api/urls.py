from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api.accounting_views import AccountingExportView
from billing.api.loyalty_views import LoyaltyBalanceView
from billing.api.report_views import SalesReportView, SalesSummaryView
from billing.api.session_views import CashSessionViewSet, RegisterViewSet, ZReportViewSet
from billing.api.views import (
    CheckoutView,
    GiftCardBalanceView,
    GiftCardIssueView,
    ReceiptEmailViewSet,
    ReceiptViewSet,
    RefundViewSet,
)

router = SimpleRouter()
router.register("refunds", RefundViewSet, basename="api-refund")
router.register("receipts", ReceiptViewSet, basename="api-receipt")
router.register("receipt-emails", ReceiptEmailViewSet, basename="api-receipt-email")
router.register("registers", RegisterViewSet, basename="api-register")
router.register("cash-sessions", CashSessionViewSet, basename="api-cash-session")
router.register("z-reports", ZReportViewSet, basename="api-z-report")

urlpatterns: list = [
    path("checkout/", CheckoutView.as_view(), name="api-checkout"),
    path("gift-cards/balance/", GiftCardBalanceView.as_view(), name="api-gift-card-balance"),
    path("gift-cards/", GiftCardIssueView.as_view(), name="api-gift-card-issue"),
    path("loyalty/customers/<int:customer_id>/", LoyaltyBalanceView.as_view(), name="api-loyalty-balance"),
    path("accounting/export/", AccountingExportView.as_view(), name="api-accounting-export"),
    path("reports/summary/", SalesSummaryView.as_view(), name="api-sales-summary"),
    path("reports/<slug:report>/", SalesReportView.as_view(), name="api-sales-report"),
    *router.urls,
]
