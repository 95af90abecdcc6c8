from django.urls import path

from ops import views

urlpatterns = [
    path("health", views.full, name="api-health"),
]
