"""The manager's setup pages, mounted at /setup/ (outside /pos/: a session signed in by PIN does not reach them)."""

from django.urls import path

from billing import setup_views

app_name = "setup"
urlpatterns = [
    path("", setup_views.start, name="start"),
    path("stores/<int:pk>/", setup_views.store, name="store"),
    path("stores/<int:pk>/test-print/", setup_views.test_print, name="test-print"),
]
