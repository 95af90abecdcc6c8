"""POS screens of billing, mounted at /pos/ next to orders' (their paths do not overlap)."""

from django.urls import path

from billing import offline_views, views

app_name = "billing"
urlpatterns = [
    path("shift/", views.shift, name="shift"),
    path("shift/open/", views.shift_open, name="shift_open"),
    path("shift/x/", views.shift_x, name="shift_x"),
    path("shift/cash/", views.shift_move, name="shift_move"),
    path("shift/close/", views.shift_close, name="shift_close"),
    path("z/<int:pk>/", views.z_report, name="z_report"),
    path("z/<int:pk>/reprint/", views.z_reprint, name="z_reprint"),
    path("orders/<uuid:order_uuid>/pay/", views.pay, name="pay"),
    path("receipts/<int:pk>/", views.receipt, name="receipt"),
    path("receipts/<int:pk>/reprint/", views.receipt_reprint, name="receipt_reprint"),
    path("receipts/<int:pk>/email/", views.receipt_email, name="receipt_email"),
    path("receipt-emails/<int:pk>/resend/", views.receipt_email_resend, name="receipt_email_resend"),
    path("receipt-emails/<int:pk>/dismiss/", views.receipt_email_dismiss, name="receipt_email_dismiss"),
    path("refunds/", views.refund_find, name="refund_find"),
    path("refunds/<int:pk>/", views.refund, name="refund"),
    path("gift-cards/", views.gift_cards, name="gift_cards"),
    path("gift-cards/balance/", views.gift_card_balance, name="gift_card_balance"),
    path("gift-cards/sell/", views.gift_card_sell, name="gift_card_sell"),
    path("print-problems/", views.print_problems, name="print_problems"),
    path("print-jobs/<int:pk>/retry/", views.print_retry, name="print_retry"),
    path("print-jobs/<int:pk>/reprint/", views.print_reprint, name="print_reprint"),
    path("print-jobs/<int:pk>/dismiss/", views.print_dismiss, name="print_dismiss"),
    path("offline/catalogue/", offline_views.catalogue, name="offline_catalogue"),
    path("offline/sync/", offline_views.sync, name="offline_sync"),
    path("offline/heartbeat/", offline_views.heartbeat, name="offline_heartbeat"),
    path("offline/", offline_views.screen, name="offline_screen"),
    path("sw.js", offline_views.service_worker, name="offline_worker"),
]
