"""Pairing a device as a terminal: the screen an unpaired device shows (under /pos/, beside the POS screens it
stands in for) and the manager's "Pair a device" page."""

from django.urls import path

from staff import views

app_name = "terminals"
urlpatterns = [
    path("pos/pair/", views.pair, name="pair"),
    path("pos/pair/status/", views.pair_status, name="pair_status"),
    path("pos/pair/direct/", views.pair_direct, name="pair_direct"),
    path("terminals/pair/", views.pair_device, name="pair_device"),
]
