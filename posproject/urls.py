from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from posproject import views

handler404 = "posproject.views.not_found"
handler500 = "posproject.views.server_error"

api_v1 = [
    path("", include("inventory.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("ops.api.urls")),
]

urlpatterns = [
    path("", include("ops.urls")),  # first: probes and scrapes, every few seconds, resolve in one step
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("", include("staff.login_urls")),  # accounts/login/: a paired terminal's sign-in lands on the POS
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("", include("staff.urls")),  # pairing a device as a terminal (/pos/pair/, /terminals/pair/)
    path("pos/", include("orders.urls")),
    path("pos/", include("billing.urls")),
    path("receipts/", include("billing.receipt_urls")),
    path("inventory/", include("inventory.urls")),
    path("reports/", include("billing.report_urls")),
    path("setup/", include("billing.setup_urls")),
]
