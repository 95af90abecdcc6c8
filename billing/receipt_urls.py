from django.urls import path

from billing.receipt_views import receipt_page

# Mounted at /receipts/ (the guest's link on a printed receipt); the name is global, not namespaced.
urlpatterns = [path("<uuid:order_uuid>/<int:receipt_id>/", receipt_page, name="receipt-page")]
