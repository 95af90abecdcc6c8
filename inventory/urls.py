"""The manager's catalogue pages, mounted at /inventory/."""

from django.urls import path

from inventory import views

app_name = "inventory"
urlpatterns = [
    path("catalogue/", views.catalogue_page, name="catalogue"),
    path("catalogue/export.csv", views.catalogue_export, name="catalogue-export"),
    path("catalogue/<int:pk>/", views.catalogue_run, name="catalogue-run"),
    path("catalogue/<int:pk>/import/", views.catalogue_import, name="catalogue-import"),
]
