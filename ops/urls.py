from django.urls import include, path

from ops import offline_views, views

app_name = "ops"
urlpatterns = [
    path("health/live", views.live, name="health-live"),
    path("health/ready", views.ready, name="health-ready"),
    path("health/startup", views.startup, name="health-startup"),
    path("health", views.full, name="health"),
    path("api/health", views.full, name="api-health"),  # where some monitoring clients look for it
    path("metrics", views.metrics_view, name="metrics"),
    path("ops/integrity/", views.integrity, name="integrity"),
    path("ops/backups/", include("ops.backups.urls")),
    path("ops/offline/", offline_views.offline_page, name="offline"),
    path("ops/offline/<int:pk>/apply/", offline_views.offline_apply, name="offline_apply"),
    path("ops/offline/<int:pk>/reject/", offline_views.offline_reject, name="offline_reject"),
]
