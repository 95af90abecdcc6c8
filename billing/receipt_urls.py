from django.urls import path

from billing.receipt_views import receipt_invoice, receipt_page

# Mounted at /receipts/ (the guest's link: the QR code on a printed receipt, the receipt e-mail); the names are
# global, not namespaced. The token is the secret (billing.receipt_views).
urlpatterns = [
    path("<int:receipt_id>/<str:token>/", receipt_page, name="receipt-page"),
    path("<int:receipt_id>/<str:token>/invoice/", receipt_invoice, name="receipt-invoice"),
]
